//! Running Terraform over the component DAG: one tokio task per component, each starting as
//! soon as the components it depends on have finished; at most `jobs` processes at once. A
//! component whose input hash equals its last successful apply's is up to date and runs no
//! process; downstream hashes are computed from the upstream outputs of this run, so an
//! upstream apply that did not change its outputs stops the propagation (early cutoff).

mod apply;
mod component;
mod destroy;
mod failure;
mod gate;
mod kinds;
mod passthrough;
mod present;
mod private;
mod probe;
mod secret_inputs;
mod slots;
mod step;
mod steps;
mod terraform;
mod tooling;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use evaluator::{Json, Project};
use store::Store;
use tokio::sync::watch;

pub(crate) use self::secret_inputs::secret_fingerprints;
pub use self::{component::Status, failure::Failure};
use crate::{
    build::BuildReport, layout::Layout, plan::PlanChanges, process::Children, tool::ToolEnv,
    tool_diagnostics::ToolDiagnostic,
};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plan,
    Apply,
    Destroy,
    /// Plan the up-to-date components against reality (`infra drift`).
    Drift,
    /// Run `RunOptions::tool_args` with the component's tool in its current work directory,
    /// the terminal attached (`infra tf`); nothing is recorded.
    Tool,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub mode: Mode,
    /// At most this many processes at once.
    pub jobs: usize,
    /// Ignore records and saved plans: plan (and apply) every selected component, up-to-date
    /// ones included (`--refresh`).
    pub force: bool,
    /// Stop starting new work after the first failure.
    pub fail_fast: bool,
    pub tool_env: ToolEnv,
    /// The project root (records, work directories, logs live under its `.infra/`).
    pub root: PathBuf,
    /// This run's log directory.
    pub log_dir: PathBuf,
    /// The age identity file that decrypts secrets (`None`: there is none).
    pub identity: Option<PathBuf>,
    /// Planning: use a kept plan whose inputs still match instead of planning again (the
    /// review of an interactive `apply`).
    pub reuse_plans: bool,
    /// Applying what the user reviewed: a kept plan that no longer matches, or that Terraform
    /// finds stale, fails the component rather than being planned and applied unreviewed.
    pub reviewed: bool,
    /// Who judges plans before they are applied, and what they are told besides the plan.
    pub policy: crate::policy::PolicyContext,
    /// `Mode::Tool`: the arguments of the tool (`state list`).
    pub tool_args: Vec<String>,
    /// Once set, the run stops as on Ctrl-C (the estate lock it held was lost).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Something that happened, for progress lines and `--json` events.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A process started for a component (`step`: init, plan, apply, output, destroy).
    Started { address: String, step: &'static str },
    /// A component finished (or was skipped).
    Finished(Box<ComponentResult>),
}

/// The outcome of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentResult {
    pub address: String,
    pub status: Status,
    /// Planned resource changes: add, change, destroy.
    pub changes: Option<(u32, u32, u32)>,
    /// The plan's resource and output changes, when it was planned.
    pub plan: Option<PlanChanges>,
    /// Processes started for it.
    pub processes: usize,
    /// Why it failed, was skipped or is pending.
    pub message: Option<String>,
    /// The failure's stable code (`infra::run::…`), when it failed.
    pub code: Option<&'static str>,
    /// Planned: its last apply did not finish (why), so `apply` has work to do (record it)
    /// even when the plan changes nothing.
    pub unfinished: Option<String>,
    /// What else is worth knowing (mocks it was planned with, a saved plan that no longer
    /// matched).
    pub notes: Vec<String>,
    /// What its policies said of its plan.
    pub verdicts: Vec<evaluator::Verdict>,
    /// Its input hash (when it got that far).
    pub input_hash: Option<String>,
    /// Terraform's errors and warnings, in full.
    pub diagnostics: Vec<ToolDiagnostic>,
    /// Its log file, if a process ran.
    pub log: Option<PathBuf>,
    pub seconds: f64,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub components: Vec<ComponentResult>,
}

impl ComponentResult {
    pub(crate) fn failed(address: &str, failure: Failure) -> ComponentResult {
        ComponentResult {
            address: address.to_owned(),
            status: Status::Failed,
            changes: None,
            plan: None,
            processes: 0,
            message: Some(failure.message),
            code: Some(failure.code),
            unfinished: None,
            notes: Vec::new(),
            verdicts: Vec::new(),
            input_hash: None,
            diagnostics: Vec::new(),
            log: None,
            seconds: 0.0,
        }
    }
}

impl RunReport {
    pub fn processes(&self) -> usize {
        self.components.iter().map(|c| c.processes).sum()
    }

    pub fn failed(&self) -> bool {
        self.components.iter().any(|c| {
            matches!(
                c.status,
                Status::Failed | Status::Skipped | Status::Interrupted | Status::Denied
            )
        })
    }

    /// Whether Ctrl-C or SIGTERM stopped the run.
    pub fn interrupted(&self) -> bool {
        self.components.iter().any(|c| c.status == Status::Interrupted)
    }

    /// Whether anything changed or would change: planned or applied changes, pending
    /// components, drift, destroyed components.
    pub fn has_changes(&self) -> bool {
        self.components.iter().any(|c| {
            matches!(
                c.status,
                Status::Pending
                    | Status::WouldRun
                    | Status::Drifted
                    | Status::Destroyed
                    | Status::Waiting
                    | Status::AwaitingApproval
            ) || (matches!(c.status, Status::Planned | Status::Applied)
                && c.plan.as_ref().is_some_and(|p| !p.is_empty()))
                || (c.status == Status::Planned && c.unfinished.is_some())
        })
    }
}

/// What finished components hand to their dependents.
#[derive(Debug, Clone)]
pub(crate) enum Done {
    /// Applied or up to date; its outputs as they are now (`None`: not known).
    Ok(Option<BTreeMap<String, Json>>),
    /// Planned (`infra plan`): its outputs as they will be after the apply, where the plan
    /// knows them; `unknown`: outputs known only after the apply; `applied`: whether it was
    /// ever applied (else the known values are all planned ones).
    /// `changed`: whether the plan changes any output; `from_plan`: the outputs whose
    /// value comes from the plan.
    Planned {
        outputs: BTreeMap<String, Json>,
        unknown: BTreeSet<String>,
        applied: bool,
        changed: bool,
        from_plan: BTreeSet<String>,
        /// Changed outputs that are sensitive (their values are never shown).
        sensitive: BTreeSet<String>,
    },
    /// Not planned: it waits for an upstream's apply. Its readers wait too.
    Pending,
    /// A step that `apply` would run: its outputs are known only then, so its readers wait.
    WillRun,
    /// Failed or skipped: dependents are skipped.
    Failed,
}

/// Shared by every component task of one run.
pub(crate) struct Shared {
    pub(crate) project: Arc<Project>,
    pub(crate) build: Arc<BuildReport>,
    pub(crate) store: Store,
    pub(crate) options: RunOptions,
    pub(crate) slots: Arc<slots::Slots>,
    /// Per component: the longest chain of components that wait for it, itself included.
    pub(crate) priority: BTreeMap<String, usize>,
    pub(crate) children: Children,
    pub(crate) stop: AtomicBool,
    /// Set by Ctrl-C or SIGTERM (`stop` is also set by `--fail-fast`).
    pub(crate) interrupted: AtomicBool,
    pub(crate) layout: Layout,
    pub(crate) processes: AtomicUsize,
    pub(crate) events: Box<dyn Fn(Event) + Send + Sync>,
    /// Tool versions found so far; held while one is looked up, so each is looked up once.
    pub(crate) versions: tokio::sync::Mutex<BTreeMap<PathBuf, String>>,
    /// The program found for each `tool` setting (searching `PATH` per component was a
    /// tenth of a no-op run of 10,000).
    pub(crate) programs: std::sync::Mutex<BTreeMap<Option<String>, PathBuf>>,
    /// The components of this run.
    pub(crate) selected: BTreeSet<String>,
    /// A destroy's first pass: every gate (approvals, policies on the planned destroy) is
    /// passed before anything is destroyed (see `run`).
    pub(crate) preflight: AtomicBool,
    /// What that first pass decided for the nodes it stopped or holds back.
    pub(crate) held: std::sync::Mutex<BTreeMap<String, destroy::Held>>,
    /// Planning: the nodes `apply` would run (planned, would run, pending). A node that runs
    /// again after one of them (`rerunAfter`, a wait) would run too.
    pub(crate) will_run: std::sync::Mutex<BTreeSet<String>>,
    /// What the selected nodes had on disk when the run began.
    pub(crate) present: present::Present,
    /// The heads of the selected nodes' records as the run began, read in parallel up front;
    /// each node takes its own once, when it starts (only it writes its record, later).
    pub(crate) records: std::sync::Mutex<BTreeMap<String, crate::record::RecordHead>>,
}

impl Shared {
    /// The head of the record of `address` as the run began.
    pub(crate) fn take_head(&self, address: &str) -> Option<crate::record::RecordHead> {
        let taken = self.records.lock().ok().and_then(|mut r| r.remove(address));
        taken.or_else(|| crate::record::read_head(&self.options.root, address))
    }
}

/// Runs `mode` over the `selected` components (already built into `build`). `events` is called
/// from worker threads as things happen. Ctrl-C and SIGTERM are passed once to the running
/// children, which are waited for; nothing new starts after them.
pub fn run(
    project: Arc<Project>,
    build: Arc<BuildReport>,
    selected: &[String],
    store: &Store,
    options: RunOptions,
    events: Box<dyn Fn(Event) + Send + Sync>,
) -> std::io::Result<RunReport> {
    // One thread drives every node: the parallel work is the processes, which are awaited,
    // not run on a thread; infra's own work per node is small, and handing nodes between
    // threads cost more than it saved (a no-op plan of 10,000 nodes on 2 cores: 0.39 s with
    // one thread, 0.55 s with two, 0.56 s with four). Policy checks leave the thread
    // (`block_in_place`).
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    std::fs::create_dir_all(&options.log_dir)?;
    let layout = Layout::new(&options.root);
    let present = present::Present::list(&layout, selected);
    let records = std::sync::Mutex::new(match options.mode {
        // A destroy reads each record as it goes (dependents first).
        Mode::Destroy | Mode::Tool => BTreeMap::new(),
        _ => present::prefetch_records(&options.root, selected),
    });
    let shared = Arc::new(Shared {
        priority: priorities(&project, selected, options.mode == Mode::Destroy),
        project,
        build,
        store: store.clone(),
        slots: slots::Slots::new(options.jobs.max(1)),
        options,
        children: Children::default(),
        stop: AtomicBool::new(false),
        interrupted: AtomicBool::new(false),
        layout,
        processes: AtomicUsize::new(0),
        events,
        versions: tokio::sync::Mutex::new(BTreeMap::new()),
        programs: std::sync::Mutex::new(BTreeMap::new()),
        selected: selected.iter().cloned().collect(),
        preflight: AtomicBool::new(false),
        held: std::sync::Mutex::default(),
        will_run: std::sync::Mutex::default(),
        present,
        records,
    });
    // A destroy is judged before anything is destroyed: when any of its components has a gate,
    // every gate is passed first (a pass that destroys nothing), so that a denied or
    // unapproved destroy does not find its dependents destroyed already (`destroy::hold`).
    if shared.options.mode == Mode::Destroy && selected.iter().any(|a| destroy::gated(&shared, a)) {
        shared.preflight.store(true, Ordering::SeqCst);
        let judged = runtime.block_on(schedule(shared.clone()))?;
        shared.preflight.store(false, Ordering::SeqCst);
        // A failure there (with `--fail-fast`) stopped that pass only; an interruption stops
        // the run.
        if !shared.interrupted.load(Ordering::SeqCst) {
            shared.stop.store(false, Ordering::SeqCst);
        }
        let held = destroy::hold(&shared, judged);
        if let Ok(mut slot) = shared.held.lock() {
            *slot = held;
        }
    }
    runtime.block_on(schedule(shared))
}

async fn schedule(shared: Arc<Shared>) -> std::io::Result<RunReport> {
    let destroy = shared.options.mode == Mode::Destroy;
    // One channel per selected component; a task waits on the channels of what it depends on
    // (on its dependents when destroying).
    let mut senders = BTreeMap::new();
    let mut receivers: BTreeMap<String, watch::Receiver<Option<Done>>> = BTreeMap::new();
    for address in &shared.selected {
        let (tx, rx) = watch::channel(None);
        senders.insert(address.clone(), tx);
        receivers.insert(address.clone(), rx);
    }
    let mut waits: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for address in &shared.selected {
        let of: Vec<String> = if destroy {
            shared
                .project
                .components()
                .filter(|c| c.depends_on.contains(address))
                .map(|c| c.address())
                .filter(|a| receivers.contains_key(a))
                .collect()
        } else {
            shared
                .project
                .component(address)
                .map(|c| {
                    c.depends_on.iter().filter(|d| receivers.contains_key(*d)).cloned().collect()
                })
                .unwrap_or_default()
        };
        waits.insert(address.clone(), of);
    }
    // Who waits for whom, and how many are still awaited: a component whose last awaited one
    // finishes gets a start ticket from it before that one frees its process slot, so the slot
    // goes to the longest chain ready now, not to whichever leaf asked first (see `slots.rs`).
    let mut waiters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (address, of) in &waits {
        for awaited in of {
            waiters.entry(awaited.clone()).or_default().push(address.clone());
        }
    }
    let waiters = Arc::new(waiters);
    let remaining: Arc<BTreeMap<String, AtomicUsize>> =
        Arc::new(waits.iter().map(|(a, of)| (a.clone(), AtomicUsize::new(of.len()))).collect());
    let tickets: Arc<std::sync::Mutex<BTreeMap<String, slots::StartTicket>>> = Arc::default();
    if let Ok(mut tickets) = tickets.lock() {
        for (address, of) in &waits {
            if of.is_empty() {
                tickets.insert(address.clone(), shared.slots.ticket());
            }
        }
    }
    let cancel = shared.options.cancel.clone();
    let signals = tokio::spawn(forward_signals(shared.clone(), cancel));
    let mut tasks = Vec::new();
    let mut addresses_of_tasks = Vec::new();
    for (address, of) in waits {
        let awaited: Vec<(String, watch::Receiver<Option<Done>>)> =
            of.into_iter().filter_map(|d| receivers.get(&d).map(|r| (d, r.clone()))).collect();
        let Some(sender) = senders.remove(&address) else { continue };
        addresses_of_tasks.push(address.clone());
        let (shared, waiters, remaining, tickets) =
            (shared.clone(), waiters.clone(), remaining.clone(), tickets.clone());
        tasks.push(tokio::spawn(async move {
            let mut upstream = BTreeMap::new();
            for (dependency, mut rx) in awaited {
                let done = loop {
                    if let Some(done) = rx.borrow().clone() {
                        break done;
                    }
                    if rx.changed().await.is_err() {
                        break Done::Failed;
                    }
                };
                upstream.insert(dependency, done);
            }
            let ticket = tickets.lock().ok().and_then(|mut t| t.remove(&address));
            let mut slot = None;
            // Boxed: the task of each of 10,000 nodes is allocated up front, and a component's
            // run is a large state machine, needed only once the node runs.
            let (result, done) =
                Box::pin(component::run_component(&shared, &address, &upstream, ticket, &mut slot))
                    .await;
            if matches!(result.status, Status::Failed) && shared.options.fail_fast {
                shared.stop.store(true, Ordering::SeqCst);
            }
            if matches!(result.status, Status::Planned | Status::WouldRun | Status::Pending)
                && let Ok(mut will_run) = shared.will_run.lock()
            {
                will_run.insert(address.clone());
            }
            // A destroy's first pass reports only what stopped it, at the end (`run`).
            if !shared.preflight.load(Ordering::SeqCst) {
                note_failure(&shared, &result);
                (shared.events)(Event::Finished(Box::new(result.clone())));
            }
            for waiter in waiters.get(&address).into_iter().flatten() {
                let last =
                    remaining.get(waiter).is_some_and(|r| r.fetch_sub(1, Ordering::SeqCst) == 1);
                if last && let Ok(mut tickets) = tickets.lock() {
                    tickets.insert(waiter.clone(), shared.slots.ticket());
                }
            }
            let _ = sender.send(Some(done));
            drop(slot);
            result
        }));
    }
    let mut report = RunReport::default();
    for (address, task) in addresses_of_tasks.into_iter().zip(tasks) {
        match task.await {
            Ok(result) => report.components.push(result),
            // A task that panicked is a failure, never a silent success.
            Err(e) => report.components.push(ComponentResult::failed(
                &address,
                Failure::new(failure::code::INTERNAL, format!("internal error: {e}")),
            )),
        }
    }
    signals.abort();
    report.components.sort_by(|a, b| a.address.cmp(&b.address));
    Ok(report)
}

/// On Ctrl-C or SIGTERM, or once `cancel` is set: stop starting work and pass the signal to
/// the children once.
async fn forward_signals(shared: Arc<Shared>, cancel: Option<Arc<AtomicBool>>) {
    let cancelled = async move {
        match cancel {
            Some(flag) => {
                while !flag.load(Ordering::SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hangup)) =
            (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            _ = hangup.recv() => {}
            _ = cancelled => {}
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = cancelled => {}
    }
    shared.interrupted.store(true, Ordering::SeqCst);
    shared.stop.store(true, Ordering::SeqCst);
    shared.children.interrupt();
}

/// The log file of a component in this run.
pub(crate) fn log_path(log_dir: &Path, address: &str) -> PathBuf {
    log_dir.join(format!("{}.log", address.replace('/', ".")))
}

/// Notes a failure for `infra status`; a success clears it.
fn note_failure(shared: &Shared, result: &ComponentResult) {
    let path = crate::record::failure_path(&shared.options.root, &result.address);
    match result.status {
        // An interrupted component that had begun (it ran a process) is noted too: an older
        // failure would be stale.
        Status::Interrupted if result.processes == 0 => {}
        Status::Failed | Status::Interrupted => {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let message = result.message.clone().unwrap_or_default();
            let _ =
                std::fs::write(&path, crate::record::failure_note(&result.input_hash, &message));
        }
        // The last run of it succeeded (a plan too: a plan failure is cleared by a plan).
        Status::Applied
        | Status::Destroyed
        | Status::UpToDate
        | Status::Planned
        | Status::WouldRun => {
            if shared.present.failures.contains(&result.address) {
                let _ = std::fs::remove_file(&path);
            }
        }
        // Stopped or not run: nothing new is known about it. (A denied or waiting plan is
        // a judgement on the plan, not a failure of the component.)
        Status::Pending
        | Status::Skipped
        | Status::Drifted
        | Status::Changed
        | Status::Denied
        | Status::Waiting
        | Status::AwaitingApproval => {}
    }
}

/// For each selected component, the length of the longest chain of selected components that
/// must wait for it (its dependents; its dependencies when destroying), itself included.
fn priorities(project: &Project, selected: &[String], destroy: bool) -> BTreeMap<String, usize> {
    let selected: BTreeSet<&str> = selected.iter().map(String::as_str).collect();
    // Who waits for whom: edges from a component to those that wait for it.
    let mut waiters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for component in project.components() {
        let address = component.address();
        if !selected.contains(address.as_str()) {
            continue;
        }
        for dependency in component.depends_on.iter().filter(|d| selected.contains(d.as_str())) {
            let (first, then) = if destroy {
                (address.clone(), dependency.clone())
            } else {
                (dependency.clone(), address.clone())
            };
            waiters.entry(first).or_default().push(then);
        }
    }
    let mut memo: BTreeMap<String, usize> = BTreeMap::new();
    fn depth(
        address: &str,
        waiters: &BTreeMap<String, Vec<String>>,
        memo: &mut BTreeMap<String, usize>,
        guard: usize,
    ) -> usize {
        if let Some(&d) = memo.get(address) {
            return d;
        }
        // Invariant: the project has no cycles (checked at evaluation); the guard bounds it anyway.
        let below = if guard == 0 {
            0
        } else {
            waiters
                .get(address)
                .map(|ws| ws.iter().map(|w| depth(w, waiters, memo, guard - 1)).max().unwrap_or(0))
                .unwrap_or(0)
        };
        memo.insert(address.to_owned(), below + 1);
        below + 1
    }
    for address in &selected {
        depth(address, &waiters, &mut memo, selected.len());
    }
    memo
}
