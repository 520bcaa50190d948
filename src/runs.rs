//! What `plan`, `apply` and `destroy` share: the project lock, the selection of components
//! (targets plus their dependencies, or dependents when destroying), building them, progress
//! lines or `--json` events, the summary table, and the exit code.

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
    process::ExitCode,
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use clap::Args;
use runner::{ComponentResult, Event, Mode, RunOptions, Status, ToolEnv};

use crate::{
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
    review::Paint,
};

/// Flags of `plan`, `apply` and `destroy`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Stacks (`dev`), components (`dev/vpc`) or globs (`*/vpc`); all when none.
    pub(crate) targets: Vec<String>,
    /// Only the targets, not what they depend on (or, for destroy, what depends on them).
    #[arg(long)]
    pub(crate) only: bool,
    /// At most N processes (Terraform, steps) at once (default: the number of cores, at least 4).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// Also plan the components that are up to date, to compare them with reality (and, for
    /// `apply`, apply what that finds); saved plans are not used.
    #[arg(long, visible_alias = "force")]
    pub(crate) refresh: bool,
    /// Stop starting new work after the first failure.
    #[arg(long)]
    pub(crate) fail_fast: bool,
    /// Tell policies that deletes and replacements are intended (`flags.allowDestroy`; the
    /// library's `noDestroy` lets them through).
    #[arg(long)]
    pub(crate) allow_destroy: bool,
    /// Wait this many seconds for another infra process to release the project.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub(crate) lock_timeout: u64,
    /// Where runs take turns: `local` (this checkout's `.infra/lock`) or `cache` (also a
    /// lease in the shared cache, so that runs from every machine on the estate take turns;
    /// needs an `s3://` or `file://` cache).
    #[arg(long, value_name = "WHERE", value_enum, default_value_t = LockScope::Local)]
    pub(crate) lock: LockScope,
    /// How long a cache lock holds without being renewed: the lock of a run that died is
    /// taken over after this.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub(crate) lock_lease: u64,
    /// Print one JSON event per line on stdout instead of progress lines.
    #[arg(long)]
    pub(crate) json: bool,
    /// Read apply records from, and push results to, this cache (else `INFRA_CACHE`, else
    /// the project's `.infra-cache`).
    #[arg(long, value_name = "URL")]
    pub(crate) cache: Option<String>,
}

/// Where runs take turns (`--lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LockScope {
    Local,
    Cache,
}

/// What `plan`, `apply`, `destroy` and `drift` work on: the locked project, the selected
/// components and their build.
pub(crate) struct Session {
    _lock: std::fs::File,
    pub(crate) project: std::sync::Arc<evaluator::Project>,
    pub(crate) selected: Vec<String>,
    pub(crate) store: store::Store,
    pub(crate) build: std::sync::Arc<runner::BuildReport>,
    cache: Option<String>,
    trust: runner::Trust,
    /// The estate lock in the cache (`--lock cache`); the last field, so dropped (released)
    /// after everything else.
    remote_lock: Option<runner::RemoteLock>,
}

impl Drop for Session {
    /// The project and its build are left to the end of the process: freeing 10,000
    /// components one by one took 14 ms of a no-op plan. (The locks are released as usual.)
    fn drop(&mut self) {
        std::mem::forget(std::mem::take(&mut self.project));
        std::mem::forget(std::mem::take(&mut self.build));
    }
}

/// Locks the project, evaluates it, selects and builds (in memory) the components, and pulls
/// records from the cache. `None`: evaluation failed (diagnostics printed).
pub(crate) fn open(
    out: &mut Output,
    ctx: &Ctx,
    args: &RunArgs,
    mode: Mode,
) -> Result<Option<Session>, CliError> {
    let lock = lock_project(out, ctx, mode, args.lock_timeout)?;
    let cache = crate::cache::cache_url(ctx, args.cache.as_deref())?;
    let remote_lock = match args.lock {
        LockScope::Local => None,
        LockScope::Cache => Some(lock_estate(out, cache.as_deref(), mode, args)?),
    };
    // Destroying a component takes its dependents with it: that needs the whole project.
    let project = match mode {
        Mode::Destroy => ctx.project(out)?,
        _ => ctx.project_for(out, &args.targets)?,
    };
    let Some(project) = project else { return Ok(None) };
    crate::timing::mark("evaluated");
    let targets = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let selected =
        if args.only { targets } else { close(&project, &targets, mode == Mode::Destroy) };
    let store = ctx.store()?;
    crate::timing::mark("store opened");
    let build = runner::build_with(&project, &selected, &store, false).map_err(runner_error)?;
    crate::timing::mark("built");
    let trust = crate::cache::trust(ctx)?;
    if let Some(url) = &cache {
        // One round of parallel requests: what anyone applied since, by their records —
        // those of the selected nodes and of the nodes they read (`--only` in a fresh
        // checkout still needs its upstreams' outputs).
        let mut wanted: std::collections::BTreeSet<String> = selected.iter().cloned().collect();
        for address in &selected {
            if let Some(component) = project.component(address) {
                wanted.extend(component.depends_on.iter().cloned());
            }
        }
        let wanted: Vec<String> = wanted.into_iter().collect();
        let pulled = runner::pull_refs(url, &ctx.root, &wanted, &trust);
        crate::cache::report(out, "pull from", url, &pulled)?;
    }
    let build = std::sync::Arc::new(build);
    Ok(Some(Session { _lock: lock, project, selected, store, build, cache, trust, remote_lock }))
}

/// `infra tf`: the session's one component, its tool run with `tool_args` (no progress, no
/// summary, no history: the command's own output is the user's).
pub(crate) fn run_tool(
    ctx: &Ctx,
    session: &Session,
    tool_args: Vec<String>,
) -> Result<runner::RunReport, CliError> {
    let run_dir = runner::Layout::new(&ctx.root).logs().join(run_id());
    let options = RunOptions { tool_args, ..options(ctx, Mode::Tool, &run_dir) };
    let report = start(session, options, Box::new(|_| {}))?;
    // `init` may have logged; nothing else did.
    let _ = std::fs::remove_dir(&run_dir);
    Ok(report)
}

/// What every run of the project is given: one process at a time, no plan reused, no policy
/// engine, no tool arguments — `execute` and `run_tool` set what differs.
fn options(ctx: &Ctx, mode: Mode, log_dir: &std::path::Path) -> RunOptions {
    RunOptions {
        mode,
        jobs: 1,
        force: false,
        fail_fast: false,
        tool_env: tool_env(),
        root: ctx.root.clone(),
        log_dir: log_dir.to_path_buf(),
        identity: Some(identity_path()),
        reuse_plans: false,
        reviewed: false,
        policy: runner::policy::PolicyContext::default(),
        tool_args: Vec::new(),
        cancel: None,
    }
}

/// Runs the session's nodes.
fn start(
    session: &Session,
    options: RunOptions,
    events: Box<dyn Fn(Event) + Send + Sync>,
) -> Result<runner::RunReport, CliError> {
    let cancel = session.remote_lock.as_ref().map(runner::RemoteLock::lost_flag);
    let report = runner::run(
        session.project.clone(),
        session.build.clone(),
        &session.selected,
        &session.store,
        RunOptions { cancel, ..options },
        events,
    );
    if session.remote_lock.as_ref().is_some_and(runner::RemoteLock::lost) {
        return Err(CliError::user(
            "infra::lock::lost",
            "the estate lock was lost during the run (the cache did not answer before its \
             lease ran out), so the run stopped"
                .into(),
        )
        .with_hint(
            "run again: what was applied is recorded; raise `--lock-lease` on a slow link".into(),
        ));
    }
    report.map_err(|e| CliError::user("infra::run::io", format!("cannot run: {e}")))
}

/// Where a run stands with respect to an interactive review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Review {
    /// No review (`plan`, `apply --auto-approve`, `destroy`, `drift`).
    None,
    /// The plan shown before asking: kept plans that still match are used as they are.
    Planning,
    /// The apply after the user said yes: exactly the reviewed plans, nothing re-planned that
    /// was reviewed.
    Approved,
}

/// Runs `mode` over the session's components with progress (or `--json` events) and the
/// summary table, pushing what was applied to the cache.
pub(crate) fn execute(
    out: &mut Output,
    ctx: &Ctx,
    session: &Session,
    args: &RunArgs,
    mode: Mode,
    review: Review,
) -> Result<runner::RunReport, CliError> {
    let run_id = run_id();
    let log_dir = runner::Layout::new(&ctx.root).logs().join(&run_id);
    let options = RunOptions {
        jobs: args.jobs.unwrap_or_else(default_jobs).max(1),
        force: args.refresh,
        fail_fast: args.fail_fast,
        reuse_plans: review == Review::Planning,
        reviewed: review == Review::Approved,
        policy: crate::policy::context(ctx.entry(), args.allow_destroy)
            .map_err(|e| CliError::user("infra::policy::clock", e))?,
        ..options(ctx, mode, &log_dir)
    };
    let json = args.json;
    let mut flush_events = None;
    let show: Box<dyn Fn(&Event) + Send + Sync> = if !json && std::io::stderr().is_terminal() {
        // On a terminal: one live line per running component, finished ones printed above.
        let progress = Progress::new(session.selected.len(), Paint(out.color()));
        Box::new(move |event| progress.event(event))
    } else {
        let lines = std::sync::Arc::new(EventLines { json, pending: Mutex::new(Vec::new()) });
        flush_events = Some(lines.clone());
        Box::new(move |event| lines.event(event))
    };
    // The history gets the run now and each node as it finishes (see `history::Recorder`).
    let recorder = crate::history::Recorder::start(crate::history::Begin {
        root: ctx.root.clone(),
        url: ctx.history.clone(),
        id: run_id.clone(),
        operation: mode_name(mode),
        user: crate::policy::user(),
        targets: args.targets.clone(),
        log_dir: log_dir.clone(),
    });
    let record = recorder.node();
    // Up-to-date nodes are counted, not recorded one by one.
    let up_to_date = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = up_to_date.clone();
    let events: Box<dyn Fn(Event) + Send + Sync> = Box::new(move |event| {
        if let Event::Finished(result) = &event {
            if result.status == Status::UpToDate {
                counting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            } else {
                record(result);
            }
        }
        show(&event);
    });
    let started = Instant::now();
    crate::timing::mark("run prepared");
    let report = start(session, options, events);
    // Whatever happened, the lines still waiting go out (a lost lock ends the run with an
    // error).
    if let Some(lines) = flush_events {
        lines.flush();
    }
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            // The history keeps what finished, and the run as interrupted.
            let count = up_to_date.load(std::sync::atomic::Ordering::Relaxed);
            let _ = recorder.finish(count, "interrupted");
            return Err(error);
        }
    };
    crate::timing::mark("ran");
    // A run that started no process leaves no empty log directory behind.
    let _ = std::fs::remove_dir(&log_dir);
    let outcome = crate::history::outcome(&report.components, report.interrupted());
    let count = up_to_date.load(std::sync::atomic::Ordering::Relaxed);
    if let Some(problem) = recorder.finish(count, outcome).first() {
        out.status(&format!("warning: {problem}"))?;
    }
    crate::timing::mark("history written");
    if let Some(url) = &session.cache
        && mode == Mode::Apply
    {
        // Data first, records last; only what was applied now.
        let applied: Vec<String> = report
            .components
            .iter()
            .filter(|c| c.status == Status::Applied)
            .map(|c| c.address.clone())
            .collect();
        if !applied.is_empty() {
            let pushed = runner::push(
                url,
                &session.store,
                &ctx.root,
                &session.build,
                &applied,
                &session.trust,
            );
            crate::cache::report(out, "push to", url, &pushed)?;
        }
    }
    let warnings = warnings(&report);
    if json {
        let summary = serde_json::json!({
            "event": "summary",
            "components": report.components.len(),
            "processes": report.processes(),
            "failed": report.failed(),
            "interrupted": report.interrupted(),
            "changes": report.has_changes(),
            "warnings": warnings,
            "seconds": started.elapsed().as_secs_f64(),
        });
        out.data(&format!("{summary}\n"))?;
    } else {
        let paint = Paint(out.color());
        out.status(&summary_table(
            &report.components,
            report.processes(),
            warnings,
            started.elapsed(),
            &log_dir,
            &ctx.root,
            paint,
        ))?;
        let diagnostics = crate::review::diagnostics(&report.components, paint);
        if !diagnostics.is_empty() {
            out.status(diagnostics.trim_end())?;
        }
    }
    Ok(report)
}

fn warnings(report: &runner::RunReport) -> usize {
    report
        .components
        .iter()
        .flat_map(|c| &c.diagnostics)
        .filter(|d| d.severity == runner::tool_diagnostics::Severity::Warning)
        .count()
}

/// The exit code of a run: 130 when interrupted, 1 when something failed.
pub(crate) fn exit_code(report: &runner::RunReport) -> ExitCode {
    if report.interrupted() {
        ExitCode::from(130)
    } else if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The targets and, transitively, what they depend on (or what depends on them).
pub(crate) fn close(
    project: &evaluator::Project,
    targets: &[String],
    dependents: bool,
) -> Vec<String> {
    let mut selected: std::collections::BTreeSet<String> = targets.iter().cloned().collect();
    loop {
        let before = selected.len();
        for component in project.components() {
            let address = component.address();
            if dependents {
                if component.depends_on.iter().any(|d| selected.contains(d)) {
                    selected.insert(address);
                }
            } else if selected.contains(&address) {
                selected.extend(component.depends_on.iter().cloned());
            }
        }
        if selected.len() == before {
            break;
        }
    }
    selected.into_iter().collect()
}

/// Live progress on a terminal (indicatif): a spinner line per running component, and a last
/// line with the elapsed time, how many of the nodes are done and how many wait.
struct Progress {
    multi: indicatif::MultiProgress,
    bars: Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>,
    overall: indicatif::ProgressBar,
    waiting: std::sync::atomic::AtomicUsize,
    paint: Paint,
}

impl Progress {
    fn new(total: usize, paint: Paint) -> Progress {
        let multi = indicatif::MultiProgress::new();
        let overall = multi.add(indicatif::ProgressBar::new(total as u64));
        let style = indicatif::ProgressStyle::with_template("[{elapsed}] {pos}/{len} done{msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        overall.set_style(style);
        overall.enable_steady_tick(Duration::from_millis(500));
        Progress {
            multi,
            bars: Mutex::default(),
            overall,
            waiting: std::sync::atomic::AtomicUsize::new(0),
            paint,
        }
    }

    fn event(&self, event: &Event) {
        let Ok(mut bars) = self.bars.lock() else { return };
        match event {
            Event::Started { address, step } => {
                let bar = bars.entry(address.clone()).or_insert_with(|| {
                    let bar = self.multi.add(indicatif::ProgressBar::new_spinner());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_message(format!("{address}: {step}"));
            }
            Event::Finished(result) => {
                if let Some(bar) = bars.remove(&result.address) {
                    bar.finish_and_clear();
                }
                let line = format!("{}: {}", result.address, describe(result));
                let _ = self.multi.println(paint_status(self.paint, result.status, &line));
                self.overall.inc(1);
                if matches!(
                    result.status,
                    Status::Pending | Status::Waiting | Status::AwaitingApproval
                ) {
                    let n = self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    self.overall.set_message(format!(", {n} waiting"));
                }
                if self.overall.position() >= self.overall.length().unwrap_or(0) {
                    self.overall.finish_and_clear();
                }
            }
        }
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
/// Events as lines (JSON on standard output, text on standard error), each written whole so
/// lines of parallel nodes never interleave. The lines of up-to-date nodes wait for the next
/// other line (or the run's end) and go out with it in one write: a no-op run of 10,000
/// nodes wrote 10,000 times. Anything that takes time (a process starting or finishing) is
/// written at once.
struct EventLines {
    json: bool,
    pending: Mutex<Vec<u8>>,
}

impl EventLines {
    fn event(&self, event: &Event) {
        let line = event_line(event, self.json);
        let Ok(mut pending) = self.pending.lock() else { return };
        pending.extend_from_slice(line.as_bytes());
        pending.push(b'\n');
        let quiet = matches!(event, Event::Finished(r) if r.status == Status::UpToDate);
        if !quiet || pending.len() > 1 << 16 {
            self.write(&mut pending);
        }
    }

    fn flush(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            self.write(&mut pending);
        }
    }

    fn write(&self, pending: &mut Vec<u8>) {
        if pending.is_empty() {
            return;
        }
        let _ = if self.json {
            std::io::stdout().lock().write_all(pending)
        } else {
            std::io::stderr().lock().write_all(pending)
        };
        pending.clear();
    }
}

fn event_line(event: &Event, json: bool) -> String {
    match (event, json) {
        (Event::Started { address, step }, true) => {
            serde_json::json!({ "event": "started", "address": address, "step": step }).to_string()
        }
        (Event::Started { address, step }, false) => format!("{address}: {step}…"),
        (Event::Finished(result), true) => finished_line(result),
        (Event::Finished(result), false) => format!("{}: {}", result.address, describe(result)),
    }
}

/// A `finished` event as a JSON line, its keys in sorted order (as a `serde_json::Value`
/// writes them), serialised without building a `Value` of the whole event: a no-op plan
/// writes 10,000 of them. Nested parts are written through a `Value`, which sorts them.
fn finished_line(result: &ComponentResult) -> String {
    #[derive(serde::Serialize)]
    struct Changes {
        add: u32,
        change: u32,
        destroy: u32,
    }
    #[derive(serde::Serialize)]
    struct Finished<'a> {
        address: &'a str,
        changes: Option<Changes>,
        code: Option<&'a str>,
        diagnostics: serde_json::Value,
        event: &'static str,
        log: Option<&'a std::path::Path>,
        message: Option<&'a str>,
        notes: &'a [String],
        plan: serde_json::Value,
        processes: usize,
        seconds: f64,
        status: &'static str,
        verdicts: serde_json::Value,
    }
    let sorted = |value: serde_json::Result<serde_json::Value>| value.unwrap_or_default();
    let line = Finished {
        address: &result.address,
        changes: result.changes.map(|(add, change, destroy)| Changes { add, change, destroy }),
        code: result.code,
        diagnostics: match result.diagnostics.is_empty() {
            true => serde_json::Value::Array(Vec::new()),
            false => sorted(serde_json::to_value(&result.diagnostics)),
        },
        event: "finished",
        log: result.log.as_deref(),
        message: result.message.as_deref(),
        notes: &result.notes,
        plan: match &result.plan {
            None => serde_json::Value::Null,
            Some(plan) => sorted(serde_json::to_value(plan)),
        },
        processes: result.processes,
        seconds: result.seconds,
        status: status_name(result.status),
        verdicts: match result.verdicts.is_empty() {
            true => serde_json::Value::Array(Vec::new()),
            false => sorted(serde_json::to_value(&result.verdicts)),
        },
    };
    serde_json::to_string(&line).unwrap_or_default()
}

pub(crate) fn status_name(status: Status) -> &'static str {
    match status {
        Status::UpToDate => "up-to-date",
        Status::Planned => "planned",
        Status::WouldRun => "would-run",
        Status::Pending => "pending",
        Status::Applied => "applied",
        Status::Destroyed => "destroyed",
        Status::Drifted => "drifted",
        Status::Changed => "changed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Interrupted => "interrupted",
        Status::Denied => "denied",
        Status::Waiting => "waiting",
        Status::AwaitingApproval => "awaiting-approval",
    }
}

fn describe(result: &ComponentResult) -> String {
    let mut text = status_name(result.status).to_owned();
    if let Some(plan) = &result.plan {
        text.push_str(&format!(" ({})", crate::review::counts(plan)));
    }
    if let Some(message) = &result.message {
        text.push_str(&format!(": {message}"));
    }
    for note in &result.notes {
        text.push_str(&format!(" [{note}]"));
    }
    text
}

/// Done is green, failed or stopped is red, what waits for something is yellow.
fn paint_status(paint: Paint, status: Status, text: &str) -> String {
    match status {
        Status::Applied | Status::Destroyed | Status::Planned | Status::UpToDate => {
            paint.green(text)
        }
        Status::Failed | Status::Denied | Status::Drifted => paint.red(text),
        Status::Pending
        | Status::Waiting
        | Status::AwaitingApproval
        | Status::WouldRun
        | Status::Changed
        | Status::Skipped => paint.yellow(text),
        _ => text.to_owned(),
    }
}

fn summary_table(
    results: &[ComponentResult],
    processes: usize,
    warnings: usize,
    elapsed: Duration,
    log_dir: &std::path::Path,
    root: &std::path::Path,
    paint: Paint,
) -> String {
    let width = results.iter().map(|r| r.address.len()).max().unwrap_or(9).max(9);
    let status_width =
        results.iter().map(|r| status_name(r.status).len()).max().unwrap_or(0).max(11);
    let mut text = format!(
        "\n{:width$}  {:status_width$}  {:>4} {:>4} {:>4}  {:>7}\n",
        "component", "status", "+", "~", "-", "time"
    );
    for r in results {
        let (a, c, d) = match r.changes {
            Some((a, c, d)) => (a.to_string(), c.to_string(), d.to_string()),
            None => ("".into(), "".into(), "".into()),
        };
        // Padded first, then painted: escape sequences take no columns.
        let status = format!("{:status_width$}", status_name(r.status));
        text.push_str(&format!(
            "{:width$}  {}  {a:>4} {c:>4} {d:>4}  {:>6.1}s\n",
            r.address,
            paint_status(paint, r.status, &status),
            r.seconds
        ));
        if let Some(message) = &r.message {
            match r.code {
                Some(code) => {
                    text.push_str(&format!("{:width$}  ↳ error[{code}]: {message}\n", ""))
                }
                None => text.push_str(&format!("{:width$}  ↳ {message}\n", "")),
            }
        }
        if r.status == Status::Failed {
            for note in &r.notes {
                text.push_str(&format!("{:width$}  ↳ {note}\n", ""));
            }
        }
    }
    let logs = log_dir.strip_prefix(root).unwrap_or(log_dir);
    let logs =
        if log_dir.is_dir() { format!("; logs in `{}`", logs.display()) } else { String::new() };
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let warnings = if warnings > 0 {
        format!(", {} (below)", plural(warnings, "warning", "warnings"))
    } else {
        String::new()
    };
    text.push_str(&format!(
        "{}, {}{warnings}, {:.1?}{logs}",
        plural(results.len(), "node", "nodes"),
        plural(processes, "process", "processes"),
        elapsed,
    ));
    text
}

/// `plan`, `apply`, `destroy`, `drift`.
pub(crate) fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Plan => "plan",
        Mode::Apply => "apply",
        Mode::Destroy => "destroy",
        Mode::Drift => "drift",
        Mode::Tool => "tf",
    }
}

/// `SECONDS.MICROS-PID`: unique, and in the order runs started (the history lists runs by
/// start and then id: two runs in the same second must still come out in order).
fn run_id() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:06}-{}", now.as_secs(), now.subsec_micros(), std::process::id())
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(4).max(4)
}

/// The age identity: `INFRA_AGE_IDENTITY`, else `$XDG_CONFIG_HOME/infra/identity.txt`, else
/// `~/.config/infra/identity.txt`.
#[allow(clippy::disallowed_methods)]
pub(crate) fn identity_path() -> PathBuf {
    if let Some(path) = std::env::var_os("INFRA_AGE_IDENTITY").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    config.join("infra").join("identity.txt")
}

#[allow(clippy::disallowed_methods)]
pub(crate) fn tool_env() -> ToolEnv {
    ToolEnv { path: std::env::var_os("PATH"), infra_tf: std::env::var("INFRA_TF").ok() }
}

/// Takes the estate's lease in the cache (`--lock cache`), waiting up to `--lock-timeout`
/// and saying who holds it meanwhile.
fn lock_estate(
    out: &mut Output,
    url: Option<&str>,
    mode: Mode,
    args: &RunArgs,
) -> Result<runner::RemoteLock, CliError> {
    let Some(url) = url else {
        return Err(CliError::user("infra::lock::no_cache", "`--lock cache` needs a cache".into())
            .with_hint("pass `--cache s3://BUCKET/PREFIX` (or set `INFRA_CACHE`)".into()));
    };
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let holder = format!(
        "{}@{}, pid {}, `infra {}`",
        crate::policy::user(),
        host.trim(),
        std::process::id(),
        mode_name(mode)
    );
    let lock = runner::RemoteLock::take(
        url,
        &holder,
        &run_id(),
        Duration::from_secs(args.lock_lease),
        Duration::from_secs(args.lock_timeout),
        |held| {
            let _ = out.status(&format!(
                "waiting for the estate lock in `{url}`: held by {} since {}",
                held.holder,
                runner::time::utc(held.since)
            ));
        },
    );
    let lock = lock.map_err(|e| {
        CliError::user("infra::lock::held", e)
            .with_hint("wait for it, or pass `--lock-timeout SECONDS` to wait here".into())
    })?;
    if let Some(expired) = &lock.took_over {
        out.status(&format!(
            "warning[infra::lock::taken_over]: took over the estate lock of {}, whose lease \
             expired at {}",
            expired.holder,
            runner::time::utc(expired.expires)
        ))?;
    }
    Ok(lock)
}

/// Holds `.infra/lock` exclusively while a run changes state; says who holds it otherwise.
fn lock_project(
    out: &mut Output,
    ctx: &Ctx,
    mode: Mode,
    timeout: u64,
) -> Result<std::fs::File, CliError> {
    let layout = runner::Layout::new(&ctx.root);
    let dir = layout.dot();
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::user("infra::run::lock", format!("cannot create `{}`: {e}", dir.display()))
    })?;
    let path = layout.lock();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| {
            CliError::user("infra::run::lock", format!("cannot open `{}`: {e}", path.display()))
        })?;
    let deadline = Instant::now()
        .checked_add(Duration::from_secs(timeout))
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(layout.lock_info()).unwrap_or_default();
                let holder = holder.trim();
                if Instant::now() >= deadline {
                    return Err(CliError::user(
                        "infra::run::locked",
                        format!("another infra process holds the project ({holder})"),
                    )
                    .with_hint(
                        "wait for it, or pass `--lock-timeout SECONDS` to wait here".into(),
                    ));
                }
                if !said {
                    out.status(&format!("waiting for the project lock ({holder})"))?;
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(CliError::user(
                    "infra::run::lock",
                    format!("cannot lock `{}`: {e}", path.display()),
                ));
            }
        }
    }
    let what = mode_name(mode);
    let since = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let _ = std::fs::write(
        layout.lock_info(),
        format!("pid {}, `infra {what}`, since {}\n", std::process::id(), runner::time::utc(since)),
    );
    Ok(file)
}
