//! `infra show`: the plans `infra plan` kept — resource and output changes per component,
//! and what is pending.

use std::process::ExitCode;

use clap::Args;

use crate::{
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
    review::Paint,
};

/// Show the saved plans: per component the resources it creates, updates, replaces or
/// deletes, its output changes, and the components pending on an upstream's apply.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Stacks, components or globs; all when none.
    targets: Vec<String>,
    /// One JSON object per component on stdout, with Terraform's JSON of its plan (`plan`),
    /// for policy tools.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &ShowArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let selected = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let layout = runner::Layout::new(&ctx.root);
    let mut text = String::new();
    let mut any = false;
    for address in &selected {
        let Some(summary) = runner::plan::load(&layout, address) else { continue };
        any = true;
        if args.json {
            let plan =
                runner::plan::load_json(&layout, address).filter(|p| p != &serde_json::json!({}));
            let line = serde_json::json!({
                "address": address,
                "made": summary.made,
                "input_hash": summary.input_hash,
                "pending": summary.pending,
                "wouldRun": summary.would_run,
                "changes": summary.changes,
                "assumed": summary.assumed,
                "saved": summary.saved,
                "plan": plan,
            });
            text.push_str(&format!("{line}\n"));
            continue;
        }
        let made = runner::time::utc(summary.made);
        if let Some(why) = &summary.pending {
            text.push_str(&format!("{address}: pending — {why} (planned {made})\n"));
            continue;
        }
        if let Some(what) = &summary.would_run {
            text.push_str(&format!("{address}: {what} (planned {made})\n"));
            continue;
        }
        text.push_str(&format!(
            "{address}: {} (planned {made})\n",
            crate::review::counts(&summary.changes)
        ));
        text.push_str(&crate::review::changes(&summary.changes, Paint(false)));
        if !summary.assumed.is_empty() {
            text.push_str(&format!("    note: planned with {}\n", summary.assumed.join(", ")));
        }
        if !summary.saved {
            text.push_str(
                "    note: its plan holds secrets and is not kept: `apply` plans it again\n",
            );
        }
    }
    if !any && !args.json {
        out.status("No saved plans: run `infra plan` first (an apply uses up its plans).")?;
    }
    out.data(&text)?;
    Ok(ExitCode::SUCCESS)
}
