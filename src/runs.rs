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
};

/// Flags of `plan`, `apply` and `destroy`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Stacks (`dev`), components (`dev/vpc`) or globs (`*/vpc`); all when none.
    pub(crate) targets: Vec<String>,
    /// Only the targets, not what they depend on (or, for destroy, what depends on them).
    #[arg(long)]
    pub(crate) only: bool,
    /// At most N Terraform processes at once (default: the number of cores, at least 4).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// Ignore run records: plan every selected component.
    #[arg(long)]
    pub(crate) force: bool,
    /// Stop starting new work after the first failure.
    #[arg(long)]
    pub(crate) fail_fast: bool,
    /// Wait this many seconds for another infra process to release the project.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub(crate) lock_timeout: u64,
    /// Print one JSON event per line on stdout instead of progress lines.
    #[arg(long)]
    pub(crate) json: bool,
    /// Read apply records from, and push results to, this cache (else `INFRA_CACHE`, else
    /// the project's `.infra-cache`).
    #[arg(long, value_name = "URL")]
    pub(crate) cache: Option<String>,
}

pub(crate) fn run(
    out: &mut Output,
    ctx: &Ctx,
    args: &RunArgs,
    mode: Mode,
) -> Result<ExitCode, CliError> {
    let _lock = lock_project(out, ctx, mode, args.lock_timeout)?;
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let targets = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let selected =
        if args.only { targets } else { close(&project, &targets, mode == Mode::Destroy) };
    let store = ctx.store()?;
    let build = runner::build_with(&project, &selected, &store, false).map_err(runner_error)?;
    let cache = crate::cache::cache_url(ctx, args.cache.as_deref());
    let trust = crate::cache::trust(ctx)?;
    if let Some(url) = &cache {
        // One round of parallel requests: what anyone applied since, by their records.
        let pulled = runner::pull_refs(url, &ctx.root, &selected, &trust);
        crate::cache::report(out, "pull from", url, &pulled)?;
    }
    let run_id = run_id();
    let log_dir = ctx.root.join(".infra").join("logs").join(&run_id);
    let options = RunOptions {
        mode,
        jobs: args.jobs.unwrap_or_else(default_jobs).max(1),
        force: args.force,
        fail_fast: args.fail_fast,
        tool_env: tool_env(),
        root: ctx.root.clone(),
        log_dir: log_dir.clone(),
        identity: Some(identity_path()),
    };
    let json = args.json;
    let events: Box<dyn Fn(Event) + Send + Sync> = if !json && std::io::stderr().is_terminal() {
        // On a terminal: one live line per running component, finished ones printed above.
        let progress = Progress::default();
        Box::new(move |event| progress.event(&event))
    } else {
        Box::new(move |event| print_event(&event, json))
    };
    let started = Instant::now();
    let report = runner::run(&project, &build, &selected, &store, options, events)
        .map_err(|e| CliError::user("infra::run::io", format!("cannot run: {e}")))?;
    if let Some(url) = &cache
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
            let pushed = runner::push(url, &store, &ctx.root, &build, &applied, &trust);
            crate::cache::report(out, "push to", url, &pushed)?;
        }
    }
    if json {
        let summary = serde_json::json!({
            "event": "summary",
            "components": report.components.len(),
            "processes": report.processes(),
            "failed": report.failed(),
            "seconds": started.elapsed().as_secs_f64(),
        });
        out.data(&format!("{summary}\n"))?;
    } else {
        out.status(&summary_table(
            &report.components,
            report.processes(),
            started.elapsed(),
            &log_dir,
            &ctx.root,
        ))?;
    }
    Ok(if report.failed() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// The targets and, transitively, what they depend on (or what depends on them).
fn close(project: &evaluator::Project, targets: &[String], dependents: bool) -> Vec<String> {
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

/// Live progress on a terminal (indicatif): a spinner line per running component.
#[derive(Default)]
struct Progress {
    multi: indicatif::MultiProgress,
    bars: Mutex<std::collections::BTreeMap<String, indicatif::ProgressBar>>,
}

impl Progress {
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
                let _ = self.multi.println(format!("{}: {}", result.address, describe(result)));
            }
        }
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn print_event(event: &Event, json: bool) {
    let line = match (event, json) {
        (Event::Started { address, step }, true) => serde_json::json!({ "event": "started", "address": address, "step": step }).to_string(),
        (Event::Started { address, step }, false) => format!("{address}: {step}…"),
        (Event::Finished(result), true) => serde_json::json!({
            "event": "finished",
            "address": result.address,
            "status": status_name(result.status),
            "changes": result.changes.map(|(a, c, d)| serde_json::json!({ "add": a, "change": c, "destroy": d })),
            "processes": result.processes,
            "message": result.message,
            "log": result.log,
            "seconds": result.seconds,
        })
        .to_string(),
        (Event::Finished(result), false) => format!("{}: {}", result.address, describe(result)),
    };
    // One whole line per write, so lines from parallel components never interleave.
    if json {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    } else {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::UpToDate => "up-to-date",
        Status::Planned => "planned",
        Status::Applied => "applied",
        Status::Destroyed => "destroyed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

fn describe(result: &ComponentResult) -> String {
    let mut text = status_name(result.status).to_owned();
    if let Some((add, change, destroy)) = result.changes {
        text.push_str(&format!(" (+{add} ~{change} -{destroy})"));
    }
    if let Some(message) = &result.message {
        text.push_str(&format!(": {message}"));
    }
    text
}

fn summary_table(
    results: &[ComponentResult],
    processes: usize,
    elapsed: Duration,
    log_dir: &std::path::Path,
    root: &std::path::Path,
) -> String {
    let width = results.iter().map(|r| r.address.len()).max().unwrap_or(9).max(9);
    let mut text = format!(
        "\n{:width$}  {:10}  {:>4} {:>4} {:>4}  {:>7}\n",
        "component", "status", "+", "~", "-", "time"
    );
    for r in results {
        let (a, c, d) = match r.changes {
            Some((a, c, d)) => (a.to_string(), c.to_string(), d.to_string()),
            None => ("".into(), "".into(), "".into()),
        };
        text.push_str(&format!(
            "{:width$}  {:10}  {a:>4} {c:>4} {d:>4}  {:>6.1}s\n",
            r.address,
            status_name(r.status),
            r.seconds
        ));
        if let Some(message) = &r.message
            && matches!(r.status, Status::Failed | Status::Skipped)
        {
            text.push_str(&format!("{:width$}  ↳ {message}\n", ""));
        }
    }
    let logs = log_dir.strip_prefix(root).unwrap_or(log_dir);
    text.push_str(&format!(
        "{} components, {processes} Terraform processes, {:.1?}; logs in `{}`",
        results.len(),
        elapsed,
        logs.display()
    ));
    text
}

fn run_id() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}", now.as_secs(), std::process::id())
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

/// Holds `.infra/lock` exclusively while a run changes state; says who holds it otherwise.
fn lock_project(
    out: &mut Output,
    ctx: &Ctx,
    mode: Mode,
    timeout: u64,
) -> Result<std::fs::File, CliError> {
    let dir = ctx.root.join(".infra");
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::user("infra::run::lock", format!("cannot create `{}`: {e}", dir.display()))
    })?;
    let path = dir.join("lock");
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
                let holder = std::fs::read_to_string(dir.join("lock.info")).unwrap_or_default();
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
    let what = match mode {
        Mode::Plan => "plan",
        Mode::Apply => "apply",
        Mode::Destroy => "destroy",
    };
    let since = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let _ = std::fs::write(
        dir.join("lock.info"),
        format!("pid {}, `infra {what}`, since {since}\n", std::process::id()),
    );
    Ok(file)
}
