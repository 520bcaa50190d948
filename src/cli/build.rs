//! `infra build`: evaluate the project and realise every work directory into the store,
//! without running Terraform (the dry run).

use std::{process::ExitCode, time::Instant};

use clap::Args;

use crate::{
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
};

/// Build every work directory (or those of TARGETS) into the store, without running Terraform.
///
/// Prints one line per component on stdout (address and store object) and a summary on
/// stderr: components, files, derivations rendered now and found already built.
#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// Stacks (`dev`), components (`dev/vpc`) or globs (`*/vpc`); all when none.
    targets: Vec<String>,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &BuildArgs) -> Result<ExitCode, CliError> {
    let started = Instant::now();
    let (project, cached) = match ctx.project_cached(out) {
        Ok(project) => project,
        Err(None) => return Ok(ExitCode::FAILURE),
        Err(Some(error)) => return Err(error),
    };
    let store = ctx.store()?;
    let addresses = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let report = runner::build(&project, &addresses, &store).map_err(runner_error)?;
    let mut data = String::new();
    let mut pending = 0;
    for built in &report.components {
        data.push_str(&format!("{}\t{}\n", built.address, store.path(&built.workdir).display()));
        if !built.upstream_inputs.is_empty() {
            pending += 1;
        }
    }
    out.data(&data)?;
    let elapsed = started.elapsed();
    out.status(&format!(
        "built {} components ({} files): {} rendered, {} cached, in {:.0?} (evaluation {}){}",
        report.components.len(),
        report.files(),
        report.rendered(),
        report.cached(),
        elapsed,
        if cached { "cached" } else { "run" },
        if pending > 0 {
            format!("; {pending} wait for upstream outputs (written at plan time)")
        } else {
            String::new()
        }
    ))?;
    Ok(ExitCode::SUCCESS)
}
