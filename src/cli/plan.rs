//! `infra plan`: plan every selected component whose inputs changed since its last apply.

use std::process::ExitCode;

use clap::Args;
use runner::Mode;

use crate::{ctx::Ctx, error::CliError, output::Output, runs::RunArgs};

/// Plan the components whose inputs changed (with what they depend on), in parallel.
///
/// A component whose inputs equal its last successful apply's is up to date and runs nothing.
/// An upstream that was never applied lends its `mockOutputs`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    run: RunArgs,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &PlanArgs) -> Result<ExitCode, CliError> {
    crate::runs::run(out, ctx, &args.run, Mode::Plan)
}
