//! `infra export STACK/NAME -o DIR`: a self-contained directory to run Terraform in by hand.

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use clap::Args;

use crate::{
    ctx::{Ctx, not_a_component, runner_error},
    error::CliError,
    output::Output,
};

/// Write one component's work directory to DIR, ready for `terraform init` and `plan`.
///
/// The local backend's state path is made absolute, so the copy shares the project's state.
/// Inputs that read upstream outputs need their values: with `--mock`, the upstream's
/// `mockOutputs` are used.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The component, as `STACK/NAME`.
    address: String,
    /// The directory to write (must not exist, or be empty).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// Fill upstream outputs from the upstream components' `mockOutputs`.
    #[arg(long)]
    mock: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &ExportArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let Some(component) = project.component(&args.address) else {
        return Err(not_a_component(&project, &args.address));
    };
    let store = ctx.store()?;
    let report = runner::build(&project, std::slice::from_ref(&args.address), &store)
        .map_err(runner_error)?;
    let Some(built) = report.components.first() else {
        return Err(CliError::user("infra::build::export", "nothing was built".into()));
    };
    let mut values = BTreeMap::new();
    if args.mock {
        for read in &component.reads {
            if let Some(value) =
                project.component(&read.address).and_then(|u| u.mock_outputs.get(&read.output))
            {
                values.insert(read.clone(), value.clone());
            }
        }
    }
    let upstream = match runner::resolve_inputs(component, &values) {
        Ok(upstream) => upstream,
        Err(missing) => {
            let names: Vec<String> =
                missing.iter().map(|r| format!("`{}.outputs.{}`", r.address, r.output)).collect();
            let upstreams: std::collections::BTreeSet<&str> =
                missing.iter().map(|r| r.address.as_str()).collect();
            let hint = if args.mock {
                format!(
                    "add `mockOutputs` to {}",
                    upstreams.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                )
            } else {
                format!(
                    "apply {} first, or pass `--mock` to use their `mockOutputs`",
                    upstreams.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
                )
            };
            return Err(CliError::user(
                "infra::build::pending_outputs",
                format!(
                    "`{}` reads {}, whose values are not known",
                    args.address,
                    names.join(", ")
                ),
            )
            .with_hint(hint));
        }
    };
    let dest = std::env::current_dir()
        .map(|cwd| cwd.join(&args.output))
        .unwrap_or_else(|_| args.output.clone());
    runner::export(&project, component, built, &store, &ctx.root, &upstream, &dest)
        .map_err(runner_error)?;
    out.status(&format!("exported `{}` to `{}`", args.address, args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}
