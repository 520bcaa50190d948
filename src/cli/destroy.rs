//! `infra destroy`: destroy components, dependents first.

use std::process::ExitCode;

use clap::Args;
use runner::Mode;

use crate::{ctx::Ctx, error::CliError, output::Output, runs::RunArgs};

/// Destroy the selected components (and what depends on them), in reverse dependency order.
#[derive(Debug, Args)]
pub(crate) struct DestroyArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    auto_approve: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &DestroyArgs) -> Result<ExitCode, CliError> {
    if args.run.targets.is_empty() {
        return Err(CliError::user(
            "infra::run::no_target",
            "`infra destroy` needs targets (a stack, a component or a glob)".into(),
        ));
    }
    if !args.auto_approve && !super::apply::confirm(out, "destroy", &args.run.targets)? {
        return Ok(ExitCode::FAILURE);
    }
    crate::runs::run(out, ctx, &args.run, Mode::Destroy)
}
