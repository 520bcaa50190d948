//! `infra drift`: plan the applied components whose inputs did not change against reality;
//! any change such a plan finds is drift.

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

/// Check whether reality (or state) moved away from what infra applied.
///
/// Plans (with refresh) every selected component that is up to date with its inputs, in
/// parallel; a change in such a plan is drift, listed per component and resource. Components
/// whose inputs changed are not checked (`infra plan` them). Exit code 2 when anything
/// drifted. `infra status` shows when each component was last checked; `infra apply --refresh
/// TARGET` puts a drifted component back.
#[derive(Debug, Args)]
pub(crate) struct DriftArgs {
    #[command(flatten)]
    run: RunArgs,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &DriftArgs) -> Result<ExitCode, CliError> {
    let Some(session) = crate::runs::open(out, ctx, &args.run, Mode::Drift)? else {
        return Ok(ExitCode::FAILURE);
    };
    let report = crate::runs::execute(out, ctx, &session, &args.run, Mode::Drift, Review::None)?;
    let drifted = report.components.iter().any(|c| c.status == Status::Drifted);
    if !args.run.json && !report.failed() && !report.interrupted() {
        let checked = report
            .components
            .iter()
            .filter(|c| matches!(c.status, Status::Drifted | Status::UpToDate))
            .count();
        let unchecked = report.components.len() - checked;
        let not_checked = if unchecked > 0 {
            format!(
                "; {unchecked} not checked (never applied, or changed since their last apply: `infra plan` them)"
            )
        } else {
            String::new()
        };
        if drifted {
            out.data(&crate::review::review(&report.components, Paint(false)))?;
        } else if checked == 0 {
            out.data(&format!(
                "Nothing to check: no selected component is applied with its current inputs{not_checked}.\n"
            ))?;
        } else {
            out.data(&format!(
                "No drift: {} {} what infra applied{not_checked}.\n",
                runner::count(checked, "checked component", "checked components"),
                if checked == 1 { "matches" } else { "match" }
            ))?;
        }
    }
    if report.failed() || report.interrupted() {
        return Ok(crate::runs::exit_code(&report));
    }
    Ok(if drifted { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
