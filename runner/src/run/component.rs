//! One component's part of a run. First what it is given: the upstream values it reads (from
//! this run, records, planned values or mocks), its fingerprint, and its record; from those,
//! the decision — up to date, pending on an upstream's apply, a saved plan to apply as it is,
//! or plan now. What runs then is the kind's executor's (`kinds.rs` dispatches).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::Instant,
};

use evaluator::{Component, Json, OutputRef};

use crate::{
    build::BuiltComponent,
    fingerprint::{self, Fingerprint},
    plan::PlanChanges,
    process::{self, LogMode},
    record::read_record,
    resolve::resolve_inputs,
    run::failure::{Failure, code},
    run::{ComponentResult, Done, Event, Mode, Shared, kinds, log_path, steps},
    tool_diagnostics::{self, ToolDiagnostic},
};

/// How a component ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Its input hash equals its last successful apply's: nothing ran.
    UpToDate,
    /// Planned with these changes (`infra plan`).
    Planned,
    /// A step `infra plan` found not up to date: `apply` runs it.
    WouldRun,
    /// Not planned: it reads an upstream output known only after that upstream applies.
    Pending,
    /// Applied (or nothing to apply, and recorded).
    Applied,
    Destroyed,
    /// `infra drift`: reality or state moved away from what infra applied.
    Drifted,
    /// `infra drift`: its inputs changed since its last apply, so it was not checked.
    Changed,
    Failed,
    /// Not run: something it depends on failed, or the run was stopped.
    Skipped,
    /// A policy denied its plan: not applied.
    Denied,
    /// A policy said not now (outside its change window): not applied, planned again later.
    Waiting,
    /// Its plan is kept and needs more approvals (`infra approve`) before it is applied.
    AwaitingApproval,
    /// Stopped by Ctrl-C or SIGTERM.
    Interrupted,
}

/// What one component's run is working with.
pub(crate) struct Ctx<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) address: &'a str,
    pub(crate) component: &'a Component,
    pub(crate) built: &'a BuiltComponent,
    pub(crate) program: PathBuf,
    pub(crate) dir: PathBuf,
    started: Instant,
    processes: usize,
    log: PathBuf,
    /// The process slot, taken at the first process and held until the component is done:
    /// handing it back between plan and apply would let a lower-priority step take it.
    slot: &'a mut Option<super::slots::Slot>,
    /// The start ticket of a component that could start at once (see `slots.rs`).
    ticket: Option<super::slots::StartTicket>,
    /// Extra environment for the tool (`TF_VAR_…` of secret inputs).
    pub(crate) env: Vec<(String, String)>,
    /// Decrypted values to remove from everything the tool prints.
    pub(crate) scrub: Vec<String>,
    /// Terraform's diagnostics so far.
    pub(crate) diagnostics: Vec<ToolDiagnostic>,
    /// The last step started.
    step: Option<&'static str>,
    /// Things worth saying about this run of it (mocks used, a saved plan that no longer
    /// matched).
    pub(crate) notes: Vec<String>,
    /// What its policies said of its plan.
    pub(crate) verdicts: Vec<evaluator::Verdict>,
    /// Its input hash, once computed.
    input_hash: Option<String>,
}

impl Ctx<'_> {
    pub(crate) fn result(
        &mut self,
        status: Status,
        plan: Option<PlanChanges>,
        message: Option<String>,
    ) -> ComponentResult {
        let interrupted = matches!(status, Status::Failed | Status::Skipped)
            && self.shared.interrupted.load(Ordering::SeqCst);
        let (status, message) = if interrupted {
            let during = self.step.map(|s| format!(" during `{s}`")).unwrap_or_default();
            (Status::Interrupted, Some(format!("stopped by a signal{during}")))
        } else {
            (status, message)
        };
        ComponentResult {
            address: self.address.to_owned(),
            status,
            changes: plan.as_ref().map(PlanChanges::counts),
            plan,
            processes: self.processes,
            message,
            code: None,
            unfinished: None,
            notes: std::mem::take(&mut self.notes),
            verdicts: std::mem::take(&mut self.verdicts),
            input_hash: self.input_hash.clone(),
            diagnostics: std::mem::take(&mut self.diagnostics),
            log: (self.processes > 0).then(|| self.log.clone()),
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }

    pub(crate) fn fail(&mut self, failure: Failure) -> (ComponentResult, Done) {
        // Stopped before it could run is not a failure of its own.
        let status = if failure.code == code::STOPPED { Status::Skipped } else { Status::Failed };
        let mut result = self.result(status, None, Some(failure.message));
        result.code =
            Some(if result.status == Status::Interrupted { code::STOPPED } else { failure.code });
        (result, Done::Failed)
    }

    /// Takes the component's process slot (kept until it is done), if it has none yet. Taken
    /// before the work directory is prepared, so components reach the slots in the order they
    /// were ready in, longest chain first, not in the order their files happened to be written.
    pub(crate) async fn take_slot(&mut self) {
        if self.slot.is_none() {
            let priority = self.shared.priority.get(self.address).copied().unwrap_or(1);
            let ticket = self.ticket.take();
            *self.slot = Some(self.shared.slots.acquire(priority, ticket).await);
        }
    }

    /// Before a process: refuse once the run is stopping, take the component's slot (kept
    /// until it is done), announce the step, count it.
    pub(crate) async fn begin(&mut self, step: &'static str) -> Result<(), Failure> {
        if self.shared.stop.load(Ordering::SeqCst) {
            return Err(Failure::new(code::STOPPED, "the run was stopped"));
        }
        self.take_slot().await;
        self.step = Some(step);
        (self.shared.events)(Event::Started { address: self.address.to_owned(), step });
        self.processes += 1;
        self.shared.processes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Runs the tool with `args` in the work directory; with `LogMode::JsonUi`, Terraform's
    /// diagnostics are collected (files mapped back to the module in the project).
    pub(crate) async fn tool_logged(
        &mut self,
        step: &'static str,
        args: &[&str],
        mode: LogMode,
    ) -> Result<process::Finished, Failure> {
        let dir = self.dir.clone();
        let done = self.run_tool(step, args, &dir, mode).await?;
        if mode == LogMode::JsonUi {
            let (mut found, _) = tool_diagnostics::from_json_lines(&done.stdout);
            let root = &self.shared.options.root;
            tool_diagnostics::map_files(&mut found, self.component, root, &self.dir);
            self.diagnostics.extend(found);
        }
        Ok(done)
    }

    /// Runs the tool's version probe in `dir`, its whole output logged. It takes no process
    /// slot: it is brief, and other components wait for it before they can take theirs.
    pub(crate) async fn version_probe(&mut self, dir: &Path) -> Result<process::Finished, String> {
        if self.shared.stop.load(Ordering::SeqCst) {
            return Err("the run was stopped".to_owned());
        }
        (self.shared.events)(Event::Started { address: self.address.to_owned(), step: "version" });
        self.processes += 1;
        self.shared.processes.fetch_add(1, Ordering::SeqCst);
        let program = self.program.clone();
        let args = ["version", "-json"];
        let shared = self.shared;
        process::run(
            &program,
            &args,
            dir,
            &self.env,
            &self.scrub,
            &self.log,
            LogMode::Full,
            &shared.children,
        )
        .await
        .map_err(|e| format!("cannot run `{}`: {e}", program.display()))
    }

    pub(crate) async fn run_tool(
        &mut self,
        step: &'static str,
        args: &[&str],
        dir: &Path,
        mode: LogMode,
    ) -> Result<process::Finished, Failure> {
        self.begin(step).await?;
        let program = self.program.clone();
        let shared = self.shared;
        process::run(&program, args, dir, &self.env, &self.scrub, &self.log, mode, &shared.children)
            .await
            .map_err(|e| {
                Failure::new(code::SPAWN, format!("cannot run `{}`: {e}", program.display()))
            })
    }

    /// Runs a step's program in the work directory with `env`, its output (scrubbed) in the
    /// component's log, killed with its process group after `timeout`.
    pub(crate) async fn run_program(
        &mut self,
        step: &'static str,
        program: &Path,
        args: &[String],
        env: &[(String, String)],
        timeout: Option<std::time::Duration>,
    ) -> Result<process::Finished, Failure> {
        self.begin(step).await?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let shared = self.shared;
        process::run_limited(
            program,
            &args,
            &self.dir,
            env,
            &self.scrub,
            &self.log,
            LogMode::Full,
            &shared.children,
            timeout,
        )
        .await
        .map_err(|e| Failure::new(code::SPAWN, format!("cannot run `{}`: {e}", program.display())))
    }
}

/// What the component is given, before anything runs.
pub(crate) struct Prepared {
    pub(crate) values: BTreeMap<OutputRef, Json>,
    pub(crate) resolved: BTreeMap<String, Json>,
    pub(crate) fingerprint: Fingerprint,
    /// Upstream outputs taken from mocks or from an upstream's plan (`ADDR.outputs.NAME`).
    pub(crate) assumed: Vec<String>,
}

impl Prepared {
    /// The record of a finished run of the node with these inputs.
    pub(crate) fn record(
        &self,
        ctx: &Ctx<'_>,
        outputs: BTreeMap<String, Json>,
        sensitive_outputs: BTreeMap<String, String>,
        (tool, tool_version): (String, String),
        started: u64,
    ) -> crate::record::RunRecord {
        crate::record::RunRecord {
            version: crate::record::RECORD_VERSION,
            address: ctx.address.to_owned(),
            input_hash: self.fingerprint.hash.clone(),
            inputs: self.fingerprint.parts.clone(),
            workdir: ctx.built.workdir.to_string(),
            files: self.fingerprint.files.clone(),
            outputs,
            sensitive_outputs,
            tool,
            tool_version,
            started,
            finished: super::steps::now(),
            run: crate::record::new_run_id(),
            verdicts: ctx.verdicts.clone(),
            incomplete: None,
            incomplete_since: None,
        }
    }
}

pub(crate) async fn run_component(
    shared: &Shared,
    address: &str,
    upstream: &BTreeMap<String, Done>,
    ticket: Option<super::slots::StartTicket>,
    slot: &mut Option<super::slots::Slot>,
) -> (ComponentResult, Done) {
    let started = Instant::now();
    let component = shared.project.component(address);
    let (Some(component), Some(built)) =
        (component, component.and_then(|c| shared.build.workdir_of(c)))
    else {
        let result =
            ComponentResult::failed(address, Failure::new(code::INTERNAL, "not in the project"));
        return (result, Done::Failed);
    };
    let mut ctx = Ctx {
        shared,
        address,
        component,
        built,
        program: PathBuf::new(),
        dir: shared.layout.work(&component.workdir_of()),
        started,
        processes: 0,
        log: log_path(&shared.options.log_dir, address),
        slot,
        ticket,
        env: Vec::new(),
        scrub: Vec::new(),
        diagnostics: Vec::new(),
        step: None,
        notes: Vec::new(),
        verdicts: Vec::new(),
        input_hash: None,
    };
    // What a destroy's first pass decided stands (and is reported, even if the run stopped).
    let held = shared.held.lock().ok().and_then(|mut held| held.remove(address));
    match held {
        Some(super::destroy::Held::Stopped(result)) => return *result,
        Some(super::destroy::Held::Dependent(why)) => {
            return (ctx.result(Status::Skipped, None, Some(why)), Done::Failed);
        }
        None => {}
    }
    if shared.stop.load(Ordering::SeqCst) {
        return (
            ctx.result(Status::Skipped, None, Some("the run was stopped".into())),
            Done::Failed,
        );
    }
    // Destroying, a node goes only once everything that depends on it is gone: one still
    // there (failed, or waiting for approval or its window) keeps it.
    let destroy = shared.options.mode == Mode::Destroy;
    let kept =
        |done: &Done| matches!(done, Done::Failed) || destroy && matches!(done, Done::Pending);
    if let Some((dependency, _)) = upstream.iter().find(|(_, done)| kept(done)) {
        let why = if shared.options.mode == Mode::Destroy {
            "depends on it and was not destroyed"
        } else {
            "failed or was skipped"
        };
        return (
            ctx.result(Status::Skipped, None, Some(format!("`{dependency}` {why}"))),
            Done::Failed,
        );
    }
    // A destroy's first pass looks only at the nodes with gates.
    if shared.preflight.load(Ordering::SeqCst) && !super::destroy::gated(shared, address) {
        return super::destroy::cleared(&mut ctx);
    }
    if let Err(failure) = kinds::find_program(&mut ctx) {
        return ctx.fail(failure);
    }
    if shared.options.mode == Mode::Destroy {
        return kinds::destroy(&mut ctx).await;
    }
    if shared.options.mode == Mode::Tool {
        return super::passthrough::run(&mut ctx).await;
    }
    let values = match upstream_values(shared, component, upstream) {
        Ok(Upstream::Values(values, assumed)) => (values, assumed),
        Ok(Upstream::Pending(reason)) => return pending(&mut ctx, reason),
        Err(message) => return ctx.fail(Failure::new(code::UPSTREAM, message)),
    };
    let (values, assumed) = values;
    let resolved = match resolve_inputs(component, &values) {
        Ok(resolved) => resolved,
        Err(missing) => {
            let names: Vec<String> =
                missing.iter().map(|r| format!("`{}.outputs.{}`", r.address, r.output)).collect();
            return ctx
                .fail(Failure::new(code::UPSTREAM, format!("no value for {}", names.join(", "))));
        }
    };
    let version = kinds::program_version(&mut ctx).await;
    let root = &shared.options.root;
    let program = component.terraform().map(|_| ctx.program.as_path());
    let fingerprint = match fingerprint::current(
        root,
        &shared.project,
        component,
        built,
        &values,
        &resolved,
        program,
        &version,
    ) {
        Ok(fingerprint) => fingerprint,
        Err(message) => return ctx.fail(Failure::new(code::SECRET, message)),
    };
    if version == "unknown" {
        ctx.notes.push(
            "the tool's version could not be determined (`version -json` failed), so it counts as changed"
                .to_owned(),
        );
    }
    ctx.input_hash = Some(fingerprint.hash.clone());
    let head = shared.take_head(address);
    // A wait's fingerprint holds the runs of the nodes before it: it is checked again after
    // any of them ran.
    let up_to_date =
        head.as_ref().is_some_and(|r| r.input_hash == fingerprint.hash && r.incomplete.is_none());
    let prepared = Prepared { values, resolved, fingerprint, assumed };
    // Planning, a node that runs again after another (`rerunAfter`, a wait) would run once
    // that one has: its record says nothing of the apply to come.
    if shared.options.mode == Mode::Plan
        && let Some(first) = runs_after_planned(shared, component)
    {
        return kinds::would_run_after(&mut ctx, &prepared, &first);
    }
    // `drift` checks up-to-date components against reality; the rest is the same for all.
    if up_to_date && !shared.options.force && shared.options.mode != Mode::Drift {
        // A kept plan (of `plan --refresh`, say) is of no use to an up-to-date node.
        if shared.present.plans.contains(address) {
            crate::plan::discard(&shared.layout, address);
        }
        let outputs = head.map(|r| r.outputs);
        return (ctx.result(Status::UpToDate, None, None), Done::Ok(outputs));
    }
    let record = read_record(&shared.options.root, address);
    kinds::run(&mut ctx, &prepared, record, up_to_date).await
}

/// Not planned now: `apply` plans it once its upstreams have run (`infra show` lists it).
pub(crate) fn pending(ctx: &mut Ctx<'_>, reason: String) -> (ComponentResult, Done) {
    if ctx.shared.options.mode == Mode::Plan {
        let summary = crate::plan::PlanSummary::pending(ctx.address, &reason, steps::now());
        if let Err(e) = crate::plan::save(&ctx.shared.layout, &summary, "{}", None) {
            return ctx.fail(Failure::new(code::FILES, format!("cannot keep the plan: {e}")));
        }
    }
    (ctx.result(Status::Pending, None, Some(reason)), Done::Pending)
}

/// The first node this one runs again after (see `fingerprint::watched`) that `apply` would
/// run.
fn runs_after_planned(shared: &Shared, component: &Component) -> Option<String> {
    let will_run = shared.will_run.lock().ok()?;
    fingerprint::watched(&shared.project, component).into_iter().find(|a| will_run.contains(a))
}

enum Upstream {
    /// The values read, and which of them are assumed (mocks, planned values).
    Values(BTreeMap<OutputRef, Json>, Vec<String>),
    /// It cannot be planned before an upstream applies (why).
    Pending(String),
}

/// The values of the upstream outputs a component reads: from this run (applied, or — when
/// planning — the values the upstream's plan knows), else from records, else (planning only)
/// from the upstream's `mockOutputs`. Planning, an output known only after its upstream's
/// apply makes the component pending.
fn upstream_values(
    shared: &Shared,
    component: &Component,
    upstream: &BTreeMap<String, Done>,
) -> Result<Upstream, String> {
    let planning = matches!(shared.options.mode, Mode::Plan | Mode::Drift);
    let mut values = BTreeMap::new();
    let mut assumed = Vec::new();
    let mut pending: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut will_run: BTreeSet<String> = BTreeSet::new();
    for read in &component.reads {
        let label = format!("{}.outputs.{}", read.address, read.output);
        let current = match upstream.get(&read.address) {
            Some(Done::Ok(Some(outputs))) => Some(outputs.clone()),
            Some(Done::Planned { outputs, unknown, applied, from_plan, sensitive, .. }) => {
                if unknown.contains(&read.output) {
                    let name = if sensitive.contains(&read.output) {
                        format!("`{}` (sensitive)", read.output)
                    } else {
                        format!("`{}`", read.output)
                    };
                    pending.entry(read.address.clone()).or_default().insert(name);
                    continue;
                }
                if outputs.contains_key(&read.output)
                    && (!applied || from_plan.contains(&read.output))
                {
                    assumed.push(format!("{label} (planned)"));
                }
                Some(outputs.clone())
            }
            Some(Done::Pending) => {
                pending.entry(read.address.clone()).or_default();
                continue;
            }
            Some(Done::WillRun) => {
                will_run.insert(read.address.clone());
                continue;
            }
            _ => read_record(&shared.options.root, &read.address).map(|r| r.outputs),
        };
        let value = current.and_then(|outputs| outputs.get(&read.output).cloned());
        // A sensitive output enters as a marker with its recorded digest, never its value;
        // the value is read from the upstream's state when this component runs.
        let sensitive = || crate::record::recorded_value(&shared.options.root, read);
        let value = match value.or_else(sensitive) {
            Some(value) => value,
            None if planning => {
                match shared
                    .project
                    .component(&read.address)
                    .and_then(|u| u.mock_outputs.get(&read.output))
                {
                    Some(mock) => {
                        assumed.push(format!("{label} (mock)"));
                        mock.clone()
                    }
                    None => {
                        return Err(format!(
                            "`{}` has no value for `{}` yet: apply it first, or give it `mockOutputs.{}` to plan with",
                            read.address, read.output, read.output
                        ));
                    }
                }
            }
            None if read_record(&shared.options.root, &read.address).is_none()
                && !shared.selected.contains(&read.address) =>
            {
                return Err(format!(
                    "`{}` has never been applied: apply it first (or select it too)",
                    read.address
                ));
            }
            None => {
                return Err(format!("`{}` has no output `{}`", read.address, read.output));
            }
        };
        values.insert(read.clone(), value);
    }
    // Terraform reads an `infra.remoteState` upstream's state itself: planning, a state that
    // does not exist yet or will change makes the reader wait for the upstream's apply.
    let mut state_reads = Vec::new();
    if planning {
        for address in component.state_reads() {
            let why = match upstream.get(address) {
                Some(Done::Pending | Done::WillRun) => Some("it is pending"),
                Some(Done::Planned { changed: true, .. }) => Some("its outputs change"),
                Some(Done::Planned { applied: false, .. }) => Some("it was never applied"),
                Some(_) => None,
                None if read_record(&shared.options.root, address).is_none() => {
                    Some("it was never applied")
                }
                None => None,
            };
            if let Some(why) = why {
                state_reads.push(format!(
                    "re-plans after `{address}` applies: reads its state through `infra.remoteState`, and {why}"
                ));
            }
        }
    }
    let runs = will_run
        .iter()
        .map(|address| format!("re-plans after `{address}` runs: its outputs are known only then"));
    state_reads.extend(runs);
    if !pending.is_empty() || !state_reads.is_empty() {
        let reasons: Vec<String> = pending
            .iter()
            .map(|(address, outputs)| {
                if outputs.is_empty() {
                    format!("waits for `{address}`, which is not applied yet")
                } else {
                    let names: Vec<String> = outputs.iter().cloned().collect();
                    let all_sensitive = names.iter().all(|n| n.ends_with("(sensitive)"));
                    let why = if all_sensitive { "" } else { ", known after apply" };
                    let s = if names.len() == 1 { "" } else { "s" };
                    format!(
                        "re-plans after `{address}` applies: output{s} {} change{}{why}",
                        names.join(", "),
                        if names.len() == 1 { "s" } else { "" }
                    )
                }
            })
            .chain(state_reads)
            .collect();
        return Ok(Upstream::Pending(reasons.join("; ")));
    }
    Ok(Upstream::Values(values, assumed))
}
