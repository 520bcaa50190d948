//! `infra cache keygen|push|pull`.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand};

use crate::{
    cache::{report, trust},
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
};

/// Share store objects, realisations and apply records through a cache (`file:///dir`,
/// `http(s)://…` or `s3://bucket/prefix`).
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Make a signing key (mode 0600) and print its public key (for `.infra-cache-keys`).
    Keygen {
        /// Where to write the key (use it as `INFRA_CACHE_SIGNING_KEY`).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Upload the work directories, realisations and apply records of the project.
    Push { url: String, targets: Vec<String> },
    /// Download the apply records of the project's components.
    Pull { url: String, targets: Vec<String> },
}

pub(crate) fn run(
    out: &mut Output,
    ctx: Option<&Ctx>,
    args: &CacheArgs,
) -> Result<ExitCode, CliError> {
    match &args.command {
        CacheCommand::Keygen { output } => {
            let (seed, public) = runner::cache_keygen().map_err(|e| {
                CliError::user("infra::cache::keygen", format!("cannot make a key: {e}"))
            })?;
            store::fsutil::write_private(output, format!("{seed}\n").as_bytes(), false).map_err(
                |e| {
                    CliError::user(
                        "infra::cache::keygen",
                        format!("cannot create `{}`: {e}", output.display()),
                    )
                },
            )?;
            out.data(&format!("{public}\n"))?;
            out.status(&format!(
                "wrote the signing key to `{}`; list the public key above in `.infra-cache-keys`",
                output.display()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        CacheCommand::Push { url, targets } | CacheCommand::Pull { url, targets } => {
            let Some(ctx) = ctx else {
                return Err(CliError::user("infra::project::not_found", "no project".into()));
            };
            let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
            let addresses = runner::select_components(&project, targets).map_err(runner_error)?;
            let trust = trust(ctx)?;
            if matches!(args.command, CacheCommand::Push { .. }) {
                let store = ctx.store()?;
                let build = runner::build(&project, &addresses, &store).map_err(runner_error)?;
                let done = runner::push(url, &store, &ctx.root, &build, &addresses, &trust);
                report(out, "push to", url, &done)?;
            } else {
                let done = runner::pull_refs(url, &ctx.root, &addresses, &trust);
                report(out, "pull from", url, &done)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
