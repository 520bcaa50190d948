//! `infra history [TARGETS]` and `infra history show RUN`: the operation history (every
//! plan, apply, destroy and drift check of every node), newest first.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::{ctx::Ctx, error::CliError, history::History, output::Output};

/// List the runs (newest first): operation, status, who, the git commit, per node its status
/// and changes; `show RUN` shows one run with its log paths.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    /// Only runs that touched these stacks (`dev`), components (`dev/vpc`) or globs.
    targets: Vec<String>,
    /// At most N runs.
    #[arg(long, default_value_t = 20, value_name = "N")]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// One run (by its id, or a unique prefix of it), every node with its log.
    Show {
        run: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &HistoryArgs) -> Result<ExitCode, CliError> {
    let history = History::open(&ctx.root, ctx.history.as_deref())
        .map_err(|e| CliError::user("infra::history::open", e))?;
    let fail = |e: String| CliError::user("infra::history::read", e);
    if let Some(HistoryCommand::Show { run, json }) = &args.command {
        let Some(found) = history.run(run).map_err(fail)? else {
            return Err(CliError::user(
                "infra::history::no_run",
                format!("no run `{run}` (or more than one starts so)"),
            )
            .with_hint("`infra history` lists them".into()));
        };
        if *json {
            out.data(&format!("{}\n", serde_json::to_string(&found).unwrap_or_default()))?;
        } else {
            out.data(&describe(&found, true))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let runs = history.runs(&args.targets, args.limit).map_err(fail)?;
    if args.json {
        out.data(&format!("{}\n", serde_json::to_string(&runs).unwrap_or_default()))?;
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        out.data("No runs yet.\n")?;
    }
    let mut text = String::new();
    for run in &runs {
        text.push_str(&describe(run, false));
    }
    out.data(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `RUN  apply  succeeded  alice  2026-12-01 10:30:00 UTC (12.3s)  commit 1a2b3c4`, then a
/// line per node (with its log when `logs`).
fn describe(run: &crate::history::Run, logs: bool) -> String {
    let took = run.finished.map(|f| format!(" ({}s)", f - run.started)).unwrap_or_default();
    let commit = run
        .commit
        .as_deref()
        .map(|c| format!("  commit {}", &c[..c.len().min(12)]))
        .unwrap_or_default();
    let mut text = format!(
        "{}  {}  {}  {}  {}{took}{commit}\n",
        run.id,
        run.operation,
        run.status,
        run.user,
        runner::time::utc(run.started.max(0) as u64)
    );
    // Up-to-date nodes are counted, not listed (unless the whole run is shown).
    let quiet = |n: &&crate::history::Node| !logs && n.status == "up-to-date";
    let up_to_date = run.up_to_date + run.nodes.iter().filter(quiet).count();
    for node in run.nodes.iter().filter(|n| !quiet(n)) {
        let changes = node.changes.map(|(a, c, d)| format!("  +{a} ~{c} -{d}")).unwrap_or_default();
        let verdicts = node.verdicts.as_array().map_or(0, Vec::len);
        let verdicts = if verdicts > 0 {
            format!("  {}", runner::count(verdicts, "verdict", "verdicts"))
        } else {
            String::new()
        };
        text.push_str(&format!("    {}  {}{changes}{verdicts}\n", node.address, node.status));
        if let Some(message) = &node.message {
            let code = node.code.as_deref().map(|c| format!("error[{c}]: ")).unwrap_or_default();
            text.push_str(&format!("      ↳ {code}{message}\n"));
        }
        if logs && let Some(log) = &node.log {
            text.push_str(&format!("      log: {log}\n"));
        }
    }
    if up_to_date > 0 {
        text.push_str(&format!("    ({up_to_date} up to date)\n"));
    }
    text
}
