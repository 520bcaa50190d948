//! `infra tf STACK/NAME -- ARGS…`: any Terraform (or OpenTofu) command in a component's work
//! directory, made current first (files, variables, secrets in the environment, `init`), under
//! the project lock, with the terminal attached; infra exits with the command's status.
//!
//!     infra tf dev/network -- state list
//!     infra tf dev/network -- import aws_vpc.main vpc-0abc

use std::process::ExitCode;

use clap::Args;
use runner::{Mode, Status};

use crate::{ctx::Ctx, error::CliError, output::Output, runs::RunArgs};

/// Run a Terraform command in a component's work directory, with its variables and secrets.
#[derive(Debug, Args)]
pub(crate) struct TfArgs {
    /// The component, as `STACK/NAME`.
    address: String,
    /// The command and its arguments, after `--` (`-- state list`).
    #[arg(last = true, required = true)]
    args: Vec<String>,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &TfArgs) -> Result<ExitCode, CliError> {
    let run_args = RunArgs {
        targets: vec![args.address.clone()],
        only: true,
        jobs: Some(1),
        refresh: false,
        fail_fast: true,
        allow_destroy: false,
        lock_timeout: 0,
        lock: crate::runs::LockScope::Local,
        lock_lease: 60,
        json: false,
        cache: None,
    };
    let Some(session) = crate::runs::open(out, ctx, &run_args, Mode::Tool)? else {
        return Ok(ExitCode::FAILURE);
    };
    if session.selected.len() != 1 || session.selected[0] != args.address {
        return Err(CliError::user(
            "infra::run::no_target",
            format!("`{}` is not one component", args.address),
        )
        .with_hint("name it as `STACK/NAME` (`infra graph` lists them)".into()));
    }
    let report = crate::runs::run_tool(ctx, &session, args.args.clone())?;
    let Some(result) = report.components.first() else { return Ok(ExitCode::FAILURE) };
    match (result.status, result.code) {
        (Status::UpToDate, _) => Ok(ExitCode::SUCCESS),
        // The command ran and failed: its status, as if it had been run by hand.
        (_, Some("infra::run::tf")) => {
            let status = result
                .message
                .as_deref()
                .and_then(|m| m.rsplit(' ').next())
                .and_then(|s| s.parse::<u8>().ok())
                .unwrap_or(1);
            Ok(ExitCode::from(status))
        }
        _ => {
            let code = result.code.unwrap_or("infra::run::internal");
            Err(CliError::user(code, result.message.clone().unwrap_or_default()))
        }
    }
}
