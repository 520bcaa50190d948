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
    /// Push the work directories to this cache (else `INFRA_CACHE`, else `.infra-cache`).
    #[arg(long, value_name = "URL")]
    cache: Option<String>,
    /// Compare every work directory with the cache's for the same derivation; fail on any
    /// difference (a non-reproducible build).
    #[arg(long)]
    check: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &BuildArgs) -> Result<ExitCode, CliError> {
    let started = Instant::now();
    let Some((project, cached)) = ctx.project_cached(out)? else {
        return Ok(ExitCode::FAILURE);
    };
    let store = ctx.store()?;
    let addresses = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let report = runner::build(&project, &addresses, &store).map_err(runner_error)?;
    let cache = crate::cache::cache_url(ctx, args.cache.as_deref())?;
    if args.check {
        let Some(url) = &cache else {
            return Err(CliError::user("infra::cache::no_cache", "`--check` needs a cache".into())
                .with_hint("pass `--cache URL` or set `INFRA_CACHE`".into()));
        };
        let (mismatches, checked) = runner::check(url, &report, &store);
        crate::cache::report(out, "check against", url, &checked)?;
        for mismatch in &mismatches {
            out.status(&format!("error[infra::cache::mismatch]: {mismatch}"))?;
        }
        if !mismatches.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
    } else if let Some(url) = &cache {
        let trust = crate::cache::trust(ctx)?;
        let pushed = runner::push(url, &store, &ctx.root, &report, &[], &trust);
        crate::cache::report(out, "push to", url, &pushed)?;
    }
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
