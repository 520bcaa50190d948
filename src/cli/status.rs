//! `infra status`: every component as up to date, changed, never applied or failed, without
//! running Terraform.

use std::process::ExitCode;

use clap::Args;
use runner::State;

use crate::{
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
    runs::tool_env,
};

/// Show which components are up to date, changed, never applied, or failed last time.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Stacks, components or globs; all when none.
    targets: Vec<String>,
    /// One JSON object per component on stdout.
    #[arg(long)]
    json: bool,
    /// Read what anyone applied from this cache first (else `INFRA_CACHE`, else the
    /// project's `.infra-cache`).
    #[arg(long, value_name = "URL")]
    cache: Option<String>,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &StatusArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let selected = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let store = ctx.store()?;
    // Their upstreams too: a component whose own inputs are unchanged may wait on one.
    let built = runner::with_upstreams(&project, &selected);
    let build = runner::build_with(&project, &built, &store, false).map_err(runner_error)?;
    if let Some(url) = crate::cache::cache_url(ctx, args.cache.as_deref())? {
        let trust = crate::cache::trust(ctx)?;
        let pulled = runner::pull_refs(&url, &ctx.root, &selected, &trust);
        crate::cache::report(out, "pull from", &url, &pulled)?;
    }
    let mut text = String::new();
    let selected: std::collections::HashSet<&String> = selected.iter().collect();
    let states = runner::status(&project, &build, &ctx.root, &tool_env());
    for (address, state, checked) in states.into_iter().filter(|(a, ..)| selected.contains(a)) {
        let (name, message) = match &state {
            State::UpToDate => ("up-to-date", None),
            State::Changed => ("changed", None),
            State::NeverApplied => ("never-applied", None),
            State::Failed(message) => ("failed", Some(message.clone())),
            State::Interrupted(message) => ("interrupted", Some(message.clone())),
            State::UpstreamChanged(upstream) => (
                "upstream-changed",
                Some(format!(
                    "`{upstream}` is not up to date: `infra plan` shows what reaches this one"
                )),
            ),
        };
        if args.json {
            let checked =
                checked.map(|(at, drifted)| serde_json::json!({ "at": at, "drifted": drifted }));
            let line = serde_json::json!({ "address": address, "state": name, "message": message, "checked": checked });
            text.push_str(&format!("{line}\n"));
        } else {
            text.push_str(&format!("{address}\t{name}"));
            if let Some(message) = message {
                // One row per node: a message of several lines (a step's output) on one.
                let message = message.split('\n').map(str::trim).collect::<Vec<_>>().join("; ");
                text.push_str(&format!("\t{message}"));
            }
            if let Some((at, drifted)) = checked {
                let what = if drifted { "drifted" } else { "in sync" };
                text.push_str(&format!("\tdrift checked {}: {what}", runner::time::utc(at)));
            }
            text.push('\n');
        }
    }
    out.data(&text)?;
    Ok(ExitCode::SUCCESS)
}
