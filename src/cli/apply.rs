//! `infra apply`: plan, show the plan, ask, then apply exactly what was shown, in dependency
//! order and in parallel.

use std::{
    io::{BufRead, IsTerminal, Write},
    process::ExitCode,
};

use clap::Args;
use runner::{Mode, Status};

use crate::{
    ctx::Ctx,
    error::CliError,
    output::Output,
    review::Paint,
    runs::{Review, RunArgs},
};

/// Plan and apply the components whose inputs changed (with what they depend on).
///
/// Interactively, every component is planned first and its changes are shown before you are
/// asked; the saved plans are then applied as they are. A plan saved by `infra plan` whose
/// inputs still match is applied without planning again. Each component is applied as soon as
/// what it depends on is applied; its outputs then feed its dependents, which re-plan only if
/// the values they read changed.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    auto_approve: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &ApplyArgs) -> Result<ExitCode, CliError> {
    if !args.auto_approve {
        require_terminal("apply")?;
    }
    let Some(session) = crate::runs::open(out, ctx, &args.run, Mode::Apply)? else {
        return Ok(ExitCode::FAILURE);
    };
    if args.auto_approve {
        let report =
            crate::runs::execute(out, ctx, &session, &args.run, Mode::Apply, Review::None)?;
        return Ok(crate::runs::exit_code(&report));
    }
    // Review first: plan everything (kept plans that still match are used as they are), show
    // it, ask; then apply exactly the plans shown.
    let planned =
        crate::runs::execute(out, ctx, &session, &args.run, Mode::Plan, Review::Planning)?;
    if planned.failed() || planned.interrupted() {
        out.status("Nothing was applied: planning failed.")?;
        return Ok(crate::runs::exit_code(&planned));
    }
    let is_planned =
        |c: &&runner::ComponentResult| matches!(c.status, Status::Planned | Status::WouldRun);
    // What needs a yes: a plan that changes something, an apply that did not finish, a step
    // (or hook) that would run.
    let changing = planned
        .components
        .iter()
        .filter(is_planned)
        .filter(|c| {
            c.plan.as_ref().is_some_and(|p| !p.is_empty())
                || c.unfinished.is_some()
                || c.status == Status::WouldRun
        })
        .count();
    let pending = planned.components.iter().filter(|c| c.status == Status::Pending).count();
    let no_ops = planned.components.iter().filter(is_planned).count() - changing;
    if changing + pending == 0 {
        if no_ops == 0 {
            out.status("No changes: nothing to apply.")?;
            return Ok(ExitCode::SUCCESS);
        }
        // Nothing changes, but the new inputs are recorded (nothing to approve).
        out.status(&format!(
            "No changes to apply; recording {} whose {} nothing.",
            runner::count(no_ops, "component", "components"),
            if no_ops == 1 { "plan changes" } else { "plans change" }
        ))?;
    } else {
        let paint = Paint(out.color());
        let review = crate::review::review(&planned.components, paint);
        out.status(&format!("\n{review}"))?;
        let mut question = format!("Apply {}", runner::count(changing, "component", "components"));
        if pending > 0 {
            question.push_str(&format!(
                ", and plan and apply {} after their upstreams",
                runner::count(pending, "pending one", "pending ones")
            ));
        }
        question.push('?');
        if !ask(&question)? {
            out.status("Nothing was applied.")?;
            return Ok(ExitCode::FAILURE);
        }
    }
    let report =
        crate::runs::execute(out, ctx, &session, &args.run, Mode::Apply, Review::Approved)?;
    Ok(crate::runs::exit_code(&report))
}

/// Without a terminal to ask on, `--auto-approve` is required.
pub(crate) fn require_terminal(what: &str) -> Result<(), CliError> {
    if std::io::stdin().is_terminal() {
        return Ok(());
    }
    Err(CliError::user(
        "infra::run::not_approved",
        format!("`infra {what}` changes infrastructure and stdin is not a terminal"),
    )
    .with_hint("pass `--auto-approve`".into()))
}

/// Asks a yes/no question on the terminal.
pub(crate) fn ask(question: &str) -> Result<bool, CliError> {
    let _ = write!(std::io::stderr(), "{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
