//! `infra apply`: plan and apply, in dependency order and in parallel, what changed.

use std::{
    io::{BufRead, IsTerminal, Write},
    process::ExitCode,
};

use clap::Args;
use runner::Mode;

use crate::{ctx::Ctx, error::CliError, output::Output, runs::RunArgs};

/// Plan and apply the components whose inputs changed (with what they depend on).
///
/// Each component is applied from its saved plan as soon as what it depends on is applied;
/// its outputs then feed its dependents, which re-plan only if the values they read changed.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    auto_approve: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &ApplyArgs) -> Result<ExitCode, CliError> {
    if !args.auto_approve && !confirm(out, "apply", &args.run.targets)? {
        return Ok(ExitCode::FAILURE);
    }
    crate::runs::run(out, ctx, &args.run, Mode::Apply)
}

/// Asks on the terminal; without one, `--auto-approve` is required.
pub(crate) fn confirm(out: &mut Output, what: &str, targets: &[String]) -> Result<bool, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::user(
            "infra::run::not_approved",
            format!("`infra {what}` changes infrastructure and stdin is not a terminal"),
        )
        .with_hint("pass `--auto-approve`".into()));
    }
    let scope =
        if targets.is_empty() { "the whole project".to_owned() } else { targets.join(", ") };
    out.status(&format!("infra will {what} {scope} (what changed, with its dependencies)."))?;
    let _ = write!(std::io::stderr(), "Continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
