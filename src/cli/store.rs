//! `infra store verify` and `infra store gc`.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{ctx::Ctx, error::CliError, output::Output};

/// Check or clean the project's store.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Re-hash every object and report those whose content does not match their name.
    Verify,
    /// Remove every object that no root (the last build, run records) keeps.
    Gc,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &StoreArgs) -> Result<ExitCode, CliError> {
    let store = ctx.store()?;
    let store_error = |e: store::StoreError| CliError::user("infra::store::io", e.to_string());
    match args.command {
        StoreCommand::Verify => {
            let objects = store.objects().map_err(store_error)?.len();
            let problems = store.verify().map_err(store_error)?;
            for problem in &problems {
                out.status(&format!(
                    "error[infra::store::corrupt]: `{}`: {}",
                    problem.object, problem.message
                ))?;
            }
            out.status(&format!("verified {objects} objects: {} corrupt", problems.len()))?;
            if problems.is_empty() { Ok(ExitCode::SUCCESS) } else { Ok(ExitCode::FAILURE) }
        }
        StoreCommand::Gc => {
            let report = store.gc().map_err(store_error)?;
            out.status(&format!(
                "removed {} objects ({} bytes), kept {}",
                report.removed.len(),
                report.bytes_freed,
                report.kept
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
