//! The Terraform steps of a component: prepare the work directory, `init` if needed, `plan`
//! (with `-json`, then `show -json` of the saved plan), `apply` the saved plan, read the
//! outputs, write the record; `destroy`; a drift check.
//!
//! A record means "the last apply of exactly these inputs finished": before `apply` or
//! `destroy` starts changing things the record is marked incomplete, and only a finished
//! apply (and its `postApply` hooks) writes a complete one. So a failed or interrupted apply
//! is planned again next time, even when its inputs go back to the recorded values.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use evaluator::{Json, OutputRef};
use store::Digest;

use crate::{
    build::canonical_json,
    plan::{self, PLAN_VERSION, PlanChanges, PlanSummary},
    process::LogMode,
    record::{
        RECORD_VERSION, RunRecord, mark_incomplete, read_record, remove_record, write_record,
    },
    resolve::resolve_inputs,
    run::component::{Ctx, Prepared, Status},
    run::failure::{Coded, Failure, code},
    run::secret_inputs::{SensitiveValues, collect_strings, private_inputs},
    run::{ComponentResult, Done, terraform},
    tool_diagnostics::{self, Severity},
    workdir,
};

const INIT_HASH_FILE: &str = ".infra-init-hash";

/// A plan made now.
struct Made {
    changes: PlanChanges,
    /// `show -json` of it, scrubbed of secrets.
    json: String,
    /// The binary plan.
    file: PathBuf,
    /// A private directory holding the plan of a secret-bearing component (removed on drop).
    _private: Option<tempfile::TempDir>,
}

/// `infra plan`: plan, keep the artefacts, and tell dependents what the outputs will be.
pub(crate) async fn plan(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    recorded: Option<BTreeMap<String, Json>>,
) -> (ComponentResult, Done) {
    if ctx.shared.options.reuse_plans
        && let Some((summary, _)) = matching_plan(ctx, prepared)
    {
        ctx.notes
            .push(format!("the plan kept by `infra plan` at {}", crate::time::utc(summary.made)));
        note_assumed(ctx, prepared);
        let done = planned(recorded, &summary.changes);
        return (ctx.result(Status::Planned, Some(summary.changes), None), done);
    }
    let made = match make_plan(ctx, prepared, true, true).await {
        Ok(made) => made,
        Err(failure) => return ctx.fail(failure),
    };
    let secret_bearing = is_private(ctx, &prepared.resolved);
    let summary = PlanSummary {
        version: PLAN_VERSION,
        address: ctx.address.to_owned(),
        input_hash: prepared.fingerprint.hash.clone(),
        parts: prepared.fingerprint.parts.clone(),
        files: prepared.fingerprint.files.clone(),
        made: now(),
        changes: made.changes.clone(),
        assumed: prepared.assumed.clone(),
        saved: !secret_bearing,
        pending: None,
    };
    let keep = (!secret_bearing).then_some(made.file.as_path());
    if let Err(e) = plan::save(&ctx.shared.layout, &summary, &made.json, keep) {
        return ctx.fail(Failure::new(code::FILES, format!("cannot keep the plan: {e}")));
    }
    if secret_bearing {
        ctx.notes.push("its plan holds secrets and is not kept: `apply` plans it again".into());
    }
    note_assumed(ctx, prepared);
    let done = planned(recorded, &made.changes);
    (ctx.result(Status::Planned, Some(made.changes), None), done)
}

/// What dependents will read after a plan applies: the recorded outputs, changed as planned;
/// outputs known only after apply (and sensitive ones) are unknown.
fn planned(recorded: Option<BTreeMap<String, Json>>, changes: &PlanChanges) -> Done {
    let applied = recorded.is_some();
    let mut outputs = recorded.unwrap_or_default();
    let mut unknown = BTreeSet::new();
    let mut from_plan = BTreeSet::new();
    for change in &changes.outputs {
        match (&change.after, change.action) {
            (_, plan::Action::Delete) => {
                outputs.remove(&change.name);
            }
            (Some(value), _) => {
                outputs.insert(change.name.clone(), value.clone());
                from_plan.insert(change.name.clone());
            }
            (None, _) => {
                unknown.insert(change.name.clone());
            }
        }
    }
    let changed = !changes.outputs.is_empty();
    let sensitive =
        changes.outputs.iter().filter(|o| o.sensitive).map(|o| o.name.clone()).collect();
    Done::Planned { outputs, unknown, applied, changed, from_plan, sensitive }
}

fn note_assumed(ctx: &mut Ctx<'_>, prepared: &Prepared) {
    if !prepared.assumed.is_empty() {
        ctx.notes.push(format!("planned with {}", prepared.assumed.join(", ")));
    }
}

/// What `.infra/plans/` holds for a component, against its fingerprint now.
enum Kept {
    /// Nothing (or `--refresh` outside a review).
    Nothing,
    /// It was pending: planned now.
    Pending,
    /// A plan made for these inputs, to apply as it is (`None`: it changes nothing).
    Matches(PlanSummary, Option<PathBuf>),
    /// Made for these inputs but not kept (it holds secrets): planned again.
    Unsaved(PlanSummary),
    /// Made for other inputs, or its file is gone: why.
    Stale(String),
}

fn kept_plan(ctx: &Ctx<'_>, prepared: &Prepared) -> Kept {
    let options = &ctx.shared.options;
    if options.force && !options.reviewed {
        return Kept::Nothing;
    }
    let layout = &ctx.shared.layout;
    let Some(summary) = plan::load(layout, ctx.address) else { return Kept::Nothing };
    if summary.pending.is_some() {
        return Kept::Pending;
    }
    if summary.input_hash != prepared.fingerprint.hash {
        let changes = prepared.fingerprint.changes_since(&summary.parts, &summary.files);
        let why: Vec<String> = changes.iter().map(ToString::to_string).collect();
        return Kept::Stale(why.join("; "));
    }
    match plan::tfplan(layout, ctx.address) {
        Some(file) => Kept::Matches(summary, Some(file)),
        None if summary.changes.is_empty() => Kept::Matches(summary, None),
        None if !summary.saved => Kept::Unsaved(summary),
        None => Kept::Stale("its plan file is gone".to_owned()),
    }
}

/// The kept plan of `infra plan` for these inputs, if there is one to apply as it is.
fn matching_plan(ctx: &Ctx<'_>, prepared: &Prepared) -> Option<(PlanSummary, Option<PathBuf>)> {
    match kept_plan(ctx, prepared) {
        Kept::Matches(summary, file) => Some((summary, file)),
        _ => None,
    }
}

/// `infra apply`: apply the saved plan of `infra plan` while it matches these inputs, else
/// plan now; then apply, read the outputs, record. After an interactive review, nothing is
/// applied that was not reviewed: a kept plan that no longer matches, a component that
/// changed after the review, or a secret-bearing plan that comes out different fails instead.
pub(crate) async fn plan_and_apply(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
) -> (ComponentResult, Done) {
    let layout = ctx.shared.layout.clone();
    let reviewed = ctx.shared.options.reviewed;
    let not_reviewed = |why: &str| {
        Failure::new(
            code::REVIEWED_PLAN,
            format!("{why}: nothing was applied; run `infra apply` again to review a new plan"),
        )
    };
    let mut expected = None;
    match kept_plan(ctx, prepared) {
        Kept::Matches(summary, file) => {
            let file = file.unwrap_or_default();
            match apply(ctx, prepared, &file, &summary.changes, false, true).await {
                Ok(result) => return result,
                Err(Stale) if reviewed => {
                    return ctx.fail(not_reviewed(
                        "the reviewed plan is stale (its state changed since it was planned)",
                    ));
                }
                Err(Stale) => {
                    ctx.diagnostics.clear();
                    ctx.notes.push(
                        "the saved plan was stale (its state changed since it was planned): planned again"
                            .to_owned(),
                    );
                }
            }
        }
        Kept::Unsaved(summary) => {
            ctx.notes.push("its plan holds secrets and was not kept: planned again".to_owned());
            expected = reviewed.then_some(summary.changes);
        }
        Kept::Stale(why) if reviewed => {
            plan::discard(&layout, ctx.address);
            return ctx.fail(not_reviewed(&format!("its plan no longer matches ({why})")));
        }
        Kept::Stale(why) => {
            ctx.notes.push(format!("the saved plan no longer matches ({why}): planned again"));
        }
        Kept::Nothing if reviewed => {
            return ctx.fail(not_reviewed("it changed after the review (it was up to date then)"));
        }
        Kept::Nothing | Kept::Pending => {}
    }
    plan::discard(&layout, ctx.address);
    // Planned to be applied at once: no `show -json` (a process) unless it must be compared
    // with a reviewed one; the resource changes come from the plan's JSON stream, and the plan
    // is applied even when it reports none, since Terraform 1.0 exits 0 for a plan that
    // changes only outputs.
    let made = match make_plan(ctx, prepared, true, expected.is_some()).await {
        Ok(made) => made,
        Err(failure) => return ctx.fail(failure),
    };
    if let Some(expected) = expected
        && made.changes != expected
    {
        return ctx.fail(not_reviewed(
            "its new plan differs from the one you reviewed (a plan holding secrets is not kept)",
        ));
    }
    let file = made.file.clone();
    let result = apply(ctx, prepared, &file, &made.changes, true, false).await;
    drop(made);
    result.unwrap_or_else(|Stale| {
        ctx.fail(Failure::new(code::APPLY, "Terraform found the plan just made stale"))
    })
}

/// Terraform refused a saved plan: the state changed since it was made.
struct Stale;

/// `infra drift`: plan an up-to-date component against reality; any change is drift.
pub(crate) async fn drift(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    recorded: Option<BTreeMap<String, Json>>,
) -> (ComponentResult, Done) {
    let made = match make_plan(ctx, prepared, false, true).await {
        Ok(made) => made,
        Err(failure) => return ctx.fail(failure),
    };
    let _ = std::fs::remove_file(&made.file);
    let drifted = !made.changes.is_empty();
    let checked = serde_json::json!({ "at": now(), "drifted": drifted });
    let path = ctx.shared.layout.checked(ctx.address);
    let _ = store::fsutil::write_atomic(&path, checked.to_string().as_bytes(), false);
    let status = if drifted { Status::Drifted } else { Status::UpToDate };
    (ctx.result(status, Some(made.changes), None), Done::Ok(recorded))
}

/// Decrypts secrets, prepares the work directory, `init`s if needed, runs `prePlan` hooks
/// (when `hooks`), plans into a file and (when `show`) reads it back with `show -json`;
/// without `show`, only the resource changes are known (from the plan's JSON stream).
async fn make_plan(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    hooks: bool,
    show: bool,
) -> Result<Made, Failure> {
    ctx.take_slot().await;
    // Secrets are decrypted now, in memory, only for a component that runs; they reach
    // Terraform as `TF_VAR_…` in its environment, never in a file.
    private_environment(ctx, &prepared.values, &prepared.resolved).await?;
    prepare_workdir(ctx, &prepared.values, &prepared.resolved).code(code::FILES)?;
    init_if_needed(ctx).await?;
    if hooks {
        let pre_plan = ctx.component.hooks.pre_plan.clone();
        run_hooks(ctx, &pre_plan, "prePlan").await?;
    }
    // A plan file holds variable values: with secrets, it lives in a private temporary
    // directory (0700) that is removed when this component is done.
    let private = if !is_private(ctx, &prepared.resolved) {
        None
    } else {
        Some(
            tempfile::Builder::new()
                .prefix("infra-plan-")
                .tempdir()
                .map_err(|e| format!("cannot create a private directory for the plan: {e}"))
                .code(code::FILES)?,
        )
    };
    let file = match &private {
        Some(dir) => dir.path().join(plan::PLAN_FILE),
        None => {
            let dir = ctx.shared.layout.plan_dir(ctx.address);
            std::fs::create_dir_all(&dir)
                .and_then(|()| store::fsutil::set_mode(&dir, 0o700))
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))
                .code(code::FILES)?;
            dir.join("new.tfplan")
        }
    };
    let out = format!("-out={}", file.display());
    let args = ["plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", &out];
    let done = ctx.tool_logged("plan", &args, LogMode::JsonUi).await?;
    if !matches!(done.code, Some(0) | Some(2)) {
        return Err(Failure::new(code::PLAN, failed(ctx, "plan")));
    }
    if !show {
        let changes = PlanChanges::from_json_stream(&done.stdout);
        return Ok(Made { changes, json: String::new(), file, _private: private });
    }
    let file_arg = file.display().to_string();
    let show = ctx.tool_logged("show", &["show", "-json", &file_arg], LogMode::StderrOnly).await?;
    let mut json: Json = serde_json::from_str(show.stdout.trim())
        .map_err(|_| Failure::new(code::PLAN, "`show -json` printed something that is not JSON"))?;
    let changes = PlanChanges::from_show_json(&json);
    let passed: Vec<String> =
        ctx.env.iter().filter_map(|(k, _)| k.strip_prefix("TF_VAR_").map(str::to_owned)).collect();
    plan::redact(&mut json, &passed);
    Ok(Made { changes, json: json.to_string(), file, _private: private })
}

/// The work directory: realised from the store, with the upstream values it reads.
fn prepare_workdir(
    ctx: &mut Ctx<'_>,
    _values: &BTreeMap<OutputRef, Json>,
    resolved: &BTreeMap<String, Json>,
) -> Result<(), String> {
    let file_inputs: serde_json::Map<String, Json> = resolved
        .iter()
        .filter(|(_, v)| {
            !crate::resolve::holds_secret(ctx.component, v) && !crate::resolve::holds_sensitive(v)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let upstream_file =
        (!file_inputs.is_empty()).then(|| canonical_json(&Json::Object(file_inputs)));
    crate::build::realise_component(&ctx.shared.store, ctx.built).map_err(|e| e.to_string())?;
    workdir::sync(
        &ctx.shared.store,
        &ctx.built.workdir,
        &ctx.built.files,
        upstream_file.as_deref(),
        &ctx.dir,
    )
    .map_err(|e| format!("cannot prepare the work directory `{}`: {e}", ctx.dir.display()))
}

/// Applies `file` (a plan with `changes`; an empty plan is not applied unless `always`), then reads the
/// outputs, writes the record, discards the saved plan and runs the `postApply` hooks.
async fn apply(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    file: &Path,
    changes: &PlanChanges,
    always: bool,
    saved: bool,
) -> Result<(ComponentResult, Done), Stale> {
    let root = ctx.shared.options.root.clone();
    let started = now();
    // What the outputs were before: in the local state (which may have drifted from the
    // record), else as recorded.
    let previous = local_state(&ctx.shared.layout, ctx.component)
        .and_then(|path| terraform::state_outputs(&std::fs::read(path).ok()?))
        .map(|(plain, sensitive)| (plain, digests(&sensitive)))
        .or_else(|| read_record(&root, ctx.address).map(|r| (r.outputs, r.sensitive_outputs)));
    let ran = always || !changes.is_empty();
    if ran {
        // Stopping (fail-fast, Ctrl-C): nothing begins, and the record is left as it is.
        if ctx.shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(ctx.fail(Failure::new(code::STOPPED, "the run was stopped")));
        }
        ctx.take_slot().await;
        if let Err(e) = mark_incomplete(
            &root,
            ctx.address,
            &format!("an apply began at {}", crate::time::utc(started)),
        ) {
            return Ok(ctx.fail(Failure::new(
                code::FILES,
                format!("cannot mark the record before applying: {e}"),
            )));
        }
        let file = file.display().to_string();
        let args = ["apply", "-input=false", "-no-color", "-json", &file];
        let done = ctx.tool_logged("apply", &args, LogMode::JsonUi).await;
        // A plan is applied at most once: whatever happened, it is used up.
        plan::discard(&ctx.shared.layout, ctx.address);
        match done {
            Ok(done) if done.success => {}
            Ok(_)
                if saved && ctx.diagnostics.iter().any(|d| d.summary == "Saved plan is stale") =>
            {
                return Err(Stale);
            }
            Ok(_) => return Ok(ctx.fail(Failure::new(code::APPLY, failed(ctx, "apply")))),
            Err(failure) => return Ok(ctx.fail(failure)),
        }
    }
    plan::discard(&ctx.shared.layout, ctx.address);
    let (plain, sensitive) = match read_outputs(ctx).await {
        Ok(outputs) => outputs,
        Err(failure) => return Ok(ctx.fail(failure)),
    };
    let missing: Vec<String> = ctx
        .component
        .required_outputs
        .iter()
        .filter(|o| !plain.contains_key(*o) && !sensitive.contains_key(*o))
        .map(|o| format!("`{o}`"))
        .collect();
    if !missing.is_empty() {
        return Ok(ctx.fail(Failure::new(
            code::OUTPUTS,
            format!("the module does not produce the required output(s) {}", missing.join(", ")),
        )));
    }
    let tool = prepared.fingerprint.parts.get("tool").cloned().unwrap_or_default();
    let (tool, tool_version) = tool
        .split_once(' ')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap_or((tool, String::new()));
    let sensitive_digests = digests(&sensitive);
    // Applied without `show -json`: the output changes are what the outputs became.
    let mut changes = changes.clone();
    if always {
        changes.outputs = output_changes(previous.as_ref(), &plain, &sensitive_digests);
    }
    let mut record = RunRecord {
        version: RECORD_VERSION,
        address: ctx.address.to_owned(),
        input_hash: prepared.fingerprint.hash.clone(),
        inputs: prepared.fingerprint.parts.clone(),
        workdir: ctx.built.workdir.to_string(),
        files: prepared.fingerprint.files.clone(),
        outputs: plain.clone(),
        sensitive_outputs: sensitive_digests,
        tool,
        tool_version,
        started,
        finished: now(),
        incomplete: None,
        incomplete_since: None,
    };
    // A failed hook runs again next time: until the hooks succeed, the record says so.
    let hooks = ctx.component.hooks.post_apply.clone();
    if !hooks.is_empty() {
        record.incomplete = Some("its postApply hooks have not run".to_owned());
        record.incomplete_since = Some(record.finished);
    }
    if let Err(e) = write_record(&root, &record) {
        return Ok(ctx.fail(Failure::new(
            code::FILES,
            format!("applied, but the run record could not be written: {e}"),
        )));
    }
    let _ = std::fs::remove_file(ctx.shared.layout.checked(ctx.address));
    if let Err(failure) = run_hooks(ctx, &hooks, "postApply").await {
        let _ = mark_incomplete(&root, ctx.address, "its postApply hook failed");
        return Ok(ctx.fail(failure));
    }
    if !hooks.is_empty() {
        record.incomplete = None;
        record.incomplete_since = None;
        if let Err(e) = write_record(&root, &record) {
            return Ok(ctx.fail(Failure::new(
                code::FILES,
                format!("applied, but the run record could not be written: {e}"),
            )));
        }
    }
    if saved && ran {
        ctx.notes.push("applied the saved plan of `infra plan`".to_owned());
    } else if saved {
        ctx.notes.push("its saved plan changes nothing: recorded".to_owned());
    }
    // Only non-sensitive values flow to dependents; a sensitive one is read from this
    // component's state when a reader runs.
    Ok((ctx.result(Status::Applied, Some(changes), None), Done::Ok(Some(plain))))
}

/// Sensitive outputs by the blake3 of their values.
type Digests = BTreeMap<String, String>;

/// The blake3 of each sensitive value (what records keep).
fn digests(sensitive: &BTreeMap<String, Json>) -> Digests {
    sensitive
        .iter()
        .map(|(k, v)| (k.clone(), Digest::of(v.to_string().as_bytes()).to_hex()))
        .collect()
}

/// The output changes an apply made: its outputs against the previous ones (plain, and
/// sensitive by digest, shown without values).
fn output_changes(
    previous: Option<&(BTreeMap<String, Json>, Digests)>,
    plain: &BTreeMap<String, Json>,
    sensitive: &Digests,
) -> Vec<plan::OutputChange> {
    let (no_plain, no_sensitive) = (BTreeMap::new(), BTreeMap::new());
    let (old_plain, old_sensitive) = previous.map_or((&no_plain, &no_sensitive), |(p, s)| (p, s));
    let mut names: BTreeSet<&String> = plain.keys().chain(sensitive.keys()).collect();
    names.extend(old_plain.keys().chain(old_sensitive.keys()));
    let mut out = Vec::new();
    for name in names {
        let (before, after) = (old_plain.get(name), plain.get(name));
        let was = before.is_some() || old_sensitive.contains_key(name);
        let is = after.is_some() || sensitive.contains_key(name);
        let is_sensitive = sensitive.contains_key(name) || old_sensitive.contains_key(name);
        let action = match (was, is) {
            (false, true) => plan::Action::Create,
            (true, false) => plan::Action::Delete,
            (true, true) if before != after || old_sensitive.get(name) != sensitive.get(name) => {
                plan::Action::Update
            }
            _ => continue,
        };
        out.push(plan::OutputChange {
            name: name.clone(),
            action,
            before: if is_sensitive { None } else { before.cloned() },
            after: if is_sensitive { None } else { after.cloned() },
            unknown: false,
            sensitive: is_sensitive,
        });
    }
    out
}

type Outputs = (BTreeMap<String, Json>, BTreeMap<String, Json>);

/// The local backend's state file of `component`, when it has one.
fn local_state(
    layout: &crate::layout::Layout,
    component: &evaluator::Component,
) -> Option<PathBuf> {
    if component.backend.ty != "local" {
        return None;
    }
    let address = component.address();
    Some(match component.backend.config.get("path").and_then(Json::as_str) {
        Some(path) => layout.work(&address).join(path),
        None => layout.tfstate(&address),
    })
}

/// Whether the component's plan holds values that must not be kept: decrypted secrets, or
/// sensitive upstream outputs.
fn is_private(ctx: &Ctx<'_>, resolved: &BTreeMap<String, Json>) -> bool {
    !ctx.component.secrets.is_empty() || resolved.values().any(crate::resolve::holds_sensitive)
}

/// The sensitive upstream outputs the inputs read, from each upstream's state (the local
/// state file, else `output -json` in its work directory, never logged). They are passed like
/// secrets (`private_inputs`): `TF_VAR_…` in the environment, scrubbed from everything
/// Terraform prints.
async fn fetch_sensitive(
    ctx: &mut Ctx<'_>,
    resolved: &BTreeMap<String, Json>,
) -> Result<SensitiveValues, Failure> {
    let mut wanted = BTreeSet::new();
    for value in resolved.values() {
        crate::resolve::sensitive_reads(value, &mut wanted);
    }
    let addresses: BTreeSet<String> = wanted.iter().map(|(a, _)| a.clone()).collect();
    let mut values = BTreeMap::new();
    for address in addresses {
        let (_, sensitive) = upstream_outputs(ctx, &address).await?;
        for (_, name) in wanted.iter().filter(|(a, _)| *a == address) {
            let value = sensitive.get(name).ok_or_else(|| {
                Failure::new(
                    code::UPSTREAM,
                    format!(
                        "`{address}` has no sensitive output `{name}` in its state: apply it again"
                    ),
                )
            })?;
            values.insert((address.clone(), name.clone()), value.clone());
        }
    }
    Ok(values)
}

/// Decrypts secrets and reads sensitive upstream values for a component that runs: its
/// `TF_VAR_…` environment and the strings to scrub.
async fn private_environment(
    ctx: &mut Ctx<'_>,
    values: &BTreeMap<OutputRef, Json>,
    resolved: &BTreeMap<String, Json>,
) -> Result<(), Failure> {
    let sensitive = fetch_sensitive(ctx, resolved).await?;
    let (env, scrub) =
        private_inputs(ctx.shared, ctx.component, values, &sensitive).code(code::SECRET)?;
    ctx.env = env;
    ctx.scrub = scrub;
    Ok(())
}

/// The outputs of another component as its state holds them now.
async fn upstream_outputs(ctx: &mut Ctx<'_>, address: &str) -> Result<Outputs, Failure> {
    let fail = |message: String| Failure::new(code::UPSTREAM, message);
    let shared = ctx.shared;
    let upstream = shared
        .project
        .component(address)
        .ok_or_else(|| fail(format!("`{address}` is not in the project")))?;
    if let Some(path) = local_state(&shared.layout, upstream) {
        let bytes = std::fs::read(&path)
            .map_err(|e| fail(format!("cannot read the state of `{address}`: {e}")))?;
        return terraform::state_outputs(&bytes)
            .ok_or_else(|| fail(format!("the state of `{address}` is not readable")));
    }
    let dir = shared.layout.work(address);
    if !dir.join(".terraform").is_dir() {
        return Err(fail(format!(
            "cannot read the sensitive outputs of `{address}`: its work directory is not initialised here (apply it first)"
        )));
    }
    let done = ctx.run_tool("output", &["output", "-json"], &dir, LogMode::StderrOnly).await?;
    if !done.success {
        return Err(fail(format!("`output -json` of `{address}` failed")));
    }
    terraform::outputs(&done.stdout)
        .ok_or_else(|| fail("`output -json` printed something that is not JSON".to_owned()))
}

/// The outputs after an apply (plain, sensitive): from the local backend's state file when
/// there is one (no process), else `output -json`. An output that shows a decrypted secret
/// counts as sensitive.
async fn read_outputs(ctx: &mut Ctx<'_>) -> Result<Outputs, Failure> {
    let local_state = local_state(&ctx.shared.layout, ctx.component);
    let from_state =
        local_state.and_then(|path| terraform::state_outputs(&std::fs::read(path).ok()?));
    let (mut plain, mut sensitive) = match from_state {
        Some(outputs) => outputs,
        None => {
            let output =
                ctx.tool_logged("output", &["output", "-json"], LogMode::StderrOnly).await?;
            if !output.success {
                return Err(Failure::new(code::OUTPUTS, failed(ctx, "output")));
            }
            terraform::outputs(&output.stdout).ok_or_else(|| {
                Failure::new(code::OUTPUTS, "`output -json` printed something that is not JSON")
            })?
        }
    };
    let leaked: Vec<String> = plain
        .iter()
        .filter(|(_, v)| {
            let mut strings = Vec::new();
            collect_strings(v, &mut strings);
            strings.iter().any(|text| ctx.scrub.iter().any(|s| text.contains(s.as_str())))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for name in leaked {
        if let Some(value) = plain.remove(&name) {
            sensitive.insert(name, value);
        }
    }
    Ok((plain, sensitive))
}

/// Runs hook commands (`sh -c`) in the work directory, each with its own log file, with
/// `INFRA_STACK`, `INFRA_COMPONENT` and `INFRA_WORKDIR` set.
async fn run_hooks(
    ctx: &mut Ctx<'_>,
    commands: &[String],
    step: &'static str,
) -> Result<(), Failure> {
    for (i, command) in commands.iter().enumerate() {
        ctx.begin(step).await?;
        let log = ctx.log_dir().join(format!("{}.{step}-{i}.log", ctx.address.replace('/', ".")));
        let (stack, name) = ctx.address.split_once('/').unwrap_or(("", ctx.address));
        let env = [
            ("INFRA_STACK".to_owned(), stack.to_owned()),
            ("INFRA_COMPONENT".to_owned(), name.to_owned()),
            ("INFRA_WORKDIR".to_owned(), ctx.dir.display().to_string()),
        ];
        let done = crate::process::run(
            Path::new("/bin/sh"),
            &["-c", command],
            &ctx.dir,
            &env,
            &ctx.scrub,
            &log,
            LogMode::Full,
            &ctx.shared.children,
        )
        .await
        .map_err(|e| {
            Failure::new(code::SPAWN, format!("cannot run the {step} hook `{command}`: {e}"))
        })?;
        if !done.success {
            return Err(Failure::new(
                code::HOOK,
                format!("the {step} hook `{command}` failed (see `{}`)", log.display()),
            ));
        }
    }
    Ok(())
}

/// `init`, when `.terraform/` is missing or what init depends on (everything but the
/// variable files) changed since the last init.
async fn init_if_needed(ctx: &mut Ctx<'_>) -> Result<(), Failure> {
    let relevant: BTreeMap<&String, String> = ctx
        .built
        .files
        .iter()
        .filter(|(name, _)| !name.ends_with(".tfvars.json"))
        .map(|(k, v)| (k, v.to_hex()))
        .collect();
    let init_hash = Digest::of(&serde_json::to_vec(&relevant).unwrap_or_default()).to_hex();
    let current = std::fs::read_to_string(ctx.dir.join(INIT_HASH_FILE)).ok();
    if ctx.dir.join(".terraform").is_dir() && current.as_deref() == Some(init_hash.as_str()) {
        return Ok(());
    }
    let init =
        ctx.tool_logged("init", &["init", "-input=false", "-no-color"], LogMode::Full).await?;
    if !init.success {
        let mut found = tool_diagnostics::from_text(&init.stderr);
        if found.is_empty() {
            found = tool_diagnostics::from_text(&init.stdout);
        }
        if found.iter().any(|d| d.summary == "Backend configuration changed") {
            let dir = ctx.dir.strip_prefix(&ctx.shared.options.root).unwrap_or(&ctx.dir);
            ctx.notes.push(format!(
                "its backend changed since the last init: move its state with `terraform init -migrate-state` in `{}` (or start from the new backend's state with `-reconfigure`)",
                dir.display()
            ));
        }
        let root = ctx.shared.options.root.clone();
        tool_diagnostics::map_files(&mut found, ctx.component, &root, &ctx.dir);
        ctx.diagnostics.extend(found);
        return Err(Failure::new(code::INIT, failed(ctx, "init")));
    }
    let _ = std::fs::write(ctx.dir.join(INIT_HASH_FILE), init_hash);
    Ok(())
}

/// The message of a failed step: its first error in Terraform's words (every diagnostic is
/// in the result).
fn failed(ctx: &Ctx<'_>, step: &str) -> String {
    match ctx.diagnostics.iter().find(|d| d.severity == Severity::Error) {
        Some(d) => format!("`{step}` failed: {}", d.headline()),
        None => format!("`{step}` failed (see the log)"),
    }
}

/// `infra destroy` of one component, with the inputs of its last apply where known.
pub(crate) async fn destroy(ctx: &mut Ctx<'_>) -> (ComponentResult, Done) {
    let root = ctx.shared.options.root.clone();
    let record = read_record(&root, ctx.address);
    if record.is_none() && !ctx.dir.join(".terraform").is_dir() {
        return (ctx.result(Status::UpToDate, None, Some("never applied".into())), Done::Ok(None));
    }
    // Upstream values from records, else mocks.
    let values: BTreeMap<OutputRef, Json> = ctx
        .component
        .reads
        .iter()
        .map(|r| {
            let value = crate::record::recorded_value(&root, r)
                .or_else(|| {
                    ctx.shared
                        .project
                        .component(&r.address)
                        .and_then(|u| u.mock_outputs.get(&r.output).cloned())
                })
                .unwrap_or(Json::String(String::new()));
            (r.clone(), value)
        })
        .collect();
    let resolved = resolve_inputs(ctx.component, &values).unwrap_or_default();
    // Destroying needs the same variables, secrets included.
    if let Err(failure) = private_environment(ctx, &values, &resolved).await {
        return ctx.fail(failure);
    }
    if let Err(message) = prepare_workdir(ctx, &values, &resolved) {
        return ctx.fail(Failure::new(code::FILES, message));
    }
    if let Err(failure) = init_if_needed(ctx).await {
        return ctx.fail(failure);
    }
    if ctx.shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
        return ctx.fail(Failure::new(code::STOPPED, "the run was stopped"));
    }
    if record.is_some()
        && let Err(e) = mark_incomplete(
            &root,
            ctx.address,
            &format!("a destroy began at {}", crate::time::utc(now())),
        )
    {
        return ctx.fail(Failure::new(
            code::FILES,
            format!("cannot mark the record before destroying: {e}"),
        ));
    }
    let args = ["destroy", "-input=false", "-no-color", "-auto-approve"];
    match ctx.tool_logged("destroy", &args, LogMode::Full).await {
        Ok(done) if done.success => {}
        Ok(done) => {
            let mut found = tool_diagnostics::from_text(&done.stderr);
            if found.is_empty() {
                found = tool_diagnostics::from_text(&done.stdout);
            }
            tool_diagnostics::map_files(&mut found, ctx.component, &root, &ctx.dir);
            ctx.diagnostics.extend(found);
            return ctx.fail(Failure::new(code::DESTROY, failed(ctx, "destroy")));
        }
        Err(failure) => return ctx.fail(failure),
    }
    if let Err(e) = remove_record(&root, ctx.address) {
        return ctx.fail(Failure::new(
            code::FILES,
            format!("destroyed, but the run record could not be removed: {e}"),
        ));
    }
    plan::discard(&ctx.shared.layout, ctx.address);
    let _ = std::fs::remove_file(ctx.shared.layout.checked(ctx.address));
    (ctx.result(Status::Destroyed, None, None), Done::Ok(None))
}

/// The tool's version, from `.infra/cache/tools.json` keyed by the binary's path, size and
/// modification time (so an up-to-date run starts no process), else `version -json`.
pub(crate) async fn tool_version(ctx: &mut Ctx<'_>) -> String {
    let shared = ctx.shared;
    let program = ctx.program.clone();
    let mut versions = shared.versions.lock().await;
    if let Some(version) = versions.get(&program) {
        return version.clone();
    }
    let cache_path = shared.layout.tools_cache();
    let identity = crate::tool::identity(&program);
    let mut cache: BTreeMap<String, String> = std::fs::read(&cache_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let version = match cache.get(&identity) {
        Some(version) => version.clone(),
        None => {
            let root = shared.options.root.clone();
            let version = match ctx.version_probe(&root).await {
                Ok(done) => serde_json::from_str::<Json>(&done.stdout)
                    .ok()
                    .and_then(|j| {
                        j.get("terraform_version").and_then(Json::as_str).map(str::to_owned)
                    })
                    .unwrap_or_else(|| "unknown".to_owned()),
                Err(_) => "unknown".to_owned(),
            };
            if version == "unknown" {
                // Not cached: the next run asks again.
                return version;
            }
            cache.insert(identity, version.clone());
            if let Some(dir) = cache_path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = store::fsutil::write_atomic(
                &cache_path,
                &serde_json::to_vec_pretty(&cache).unwrap_or_default(),
                false,
            );
            version
        }
    };
    versions.insert(program, version.clone());
    version
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
