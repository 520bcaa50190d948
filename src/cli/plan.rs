//! `infra plan`: plan every selected component whose inputs changed since its last apply,
//! keep the plans, and show what they do.

use std::process::ExitCode;

use clap::Args;
use runner::{Mode, Status};

use crate::{
    ctx::Ctx,
    error::CliError,
    output::Output,
    review::Paint,
    runs::{Review, RunArgs},
};

/// Plan the components whose inputs changed (with what they depend on), in parallel, and
/// show every change.
///
/// A component whose inputs equal its last successful apply's is up to date and runs nothing.
/// An upstream's plan feeds its readers: an output whose new value the plan knows is planned
/// with; one known only after apply leaves the reader `pending`. An upstream that was never
/// applied lends its `mockOutputs`. The plans are kept (`infra show`), and `infra apply`
/// applies them as they are while their inputs still match.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Exit with 2 when anything would change (or is pending), 0 when nothing would.
    #[arg(long)]
    detailed_exitcode: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &PlanArgs) -> Result<ExitCode, CliError> {
    let Some(session) = crate::runs::open(out, ctx, &args.run, Mode::Plan)? else {
        return Ok(ExitCode::FAILURE);
    };
    let report = crate::runs::execute(out, ctx, &session, &args.run, Mode::Plan, Review::None)?;
    crate::timing::mark("executed");
    // A denied plan is a failure, and still shown: what the policies judged.
    let denied = report.components.iter().any(|c| c.status == Status::Denied);
    if !args.run.json && (!report.failed() || denied) && !report.interrupted() {
        let review = crate::review::review(&report.components, Paint(false));
        let no_ops = report
            .components
            .iter()
            .filter(|c| c.status == Status::Planned && c.unfinished.is_none())
            .count();
        if !review.is_empty() {
            out.data(&review)?;
        } else if no_ops > 0 {
            out.data(&format!(
                "No changes: the {} of {} whose inputs changed {} nothing \
                 (`infra apply` records {}); the others are up to date.\n",
                if no_ops == 1 { "plan" } else { "plans" },
                runner::count(no_ops, "component", "components"),
                if no_ops == 1 { "changes" } else { "change" },
                if no_ops == 1 { "it" } else { "them" },
            ))?;
        } else {
            out.data("No changes: every selected component is up to date with its inputs.\n")?;
        }
    }
    if report.failed() || report.interrupted() {
        return Ok(crate::runs::exit_code(&report));
    }
    Ok(if args.detailed_exitcode && report.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
