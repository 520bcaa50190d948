//! The planning steps of a component: prepare the work directory, `init` if needed, `plan`
//! (with `-json`, then `show -json` when the plan is kept or reviewed), keep the plan, decide
//! whether a kept plan can be applied as it is; a drift check. Applying is in `apply.rs`.
//!
//! A record means "the last apply of exactly these inputs finished": before `apply` or
//! `destroy` starts changing things the record is marked incomplete, and only a finished
//! apply writes a complete one. So a failed or interrupted apply
//! is planned again next time, even when its inputs go back to the recorded values.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::{SystemTime, UNIX_EPOCH},
};

use evaluator::{Json, OutputRef};

use super::{
    apply::apply,
    gate::{Gate, awaiting, judge},
    private::{is_private, private_environment},
    tooling::{failed, init_if_needed},
};
use crate::{
    build::canonical_json,
    fingerprint::Change,
    plan::{self, PLAN_VERSION, PlanChanges, PlanSummary},
    process::LogMode,
    record::RunRecord,
    run::component::{Ctx, Prepared, Status},
    run::failure::{Coded, Failure, code},
    run::{ComponentResult, Done, Mode},
    workdir,
};

/// A plan made now.
pub(crate) struct Made {
    changes: PlanChanges,
    /// `show -json` of it, scrubbed of secrets.
    json: String,
    /// The binary plan.
    file: PathBuf,
    /// A private directory holding the plan of a secret-bearing component (removed on drop).
    _private: Option<tempfile::TempDir>,
}

/// A Terraform component that is not up to date (or, for `drift`, any): `drift` checks an
/// up-to-date one against reality and names why another was not checked; `plan` plans it;
/// `apply` plans and applies it.
pub(crate) async fn run(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    record: Option<RunRecord>,
    up_to_date: bool,
) -> (ComponentResult, Done) {
    match ctx.shared.options.mode {
        Mode::Drift if up_to_date => drift(ctx, prepared, record.map(|r| r.outputs)).await,
        Mode::Drift => {
            let reason = match &record {
                None => Change::NeverApplied.to_string(),
                Some(r) => match &r.incomplete {
                    Some(why) => Change::Incomplete(why.clone()).to_string(),
                    None => prepared
                        .fingerprint
                        .changes_since(&r.inputs, &r.files)
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "its inputs changed".to_owned()),
                },
            };
            let outputs = record.map(|r| r.outputs);
            (
                ctx.result(Status::Changed, None, Some(format!("not checked: {reason}"))),
                Done::Ok(outputs),
            )
        }
        Mode::Plan => {
            let unfinished = record.as_ref().and_then(|r| r.incomplete.clone());
            let (mut result, done) = plan(ctx, prepared, record.map(|r| r.outputs)).await;
            if result.status == Status::Planned {
                result.unfinished = unfinished;
            }
            (result, done)
        }
        Mode::Apply => plan_and_apply(ctx, prepared).await,
        // Invariant: destroying returned before; never a panic if that changes.
        Mode::Destroy | Mode::Tool => {
            ctx.fail(Failure::new(code::INTERNAL, "destroy or tf reached the apply path"))
        }
    }
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
        ctx.notes.push(format!("the plan made at {}, kept", crate::time::utc(summary.made)));
        note_assumed(ctx, prepared);
        let json = plan::load_json(&ctx.shared.layout, ctx.address).unwrap_or_default();
        if let Gate::Stop(stopped) = judge(ctx, &summary.changes, &json.to_string()) {
            return *stopped;
        }
        let done = planned(recorded, &summary.changes);
        return (ctx.result(Status::Planned, Some(summary.changes), None), done);
    }
    let made = match make_plan(ctx, prepared, true).await {
        Ok(made) => made,
        Err(failure) => return ctx.fail(failure),
    };
    // The verdicts are shown now, and kept with the plan (`infra show`); a denied or waiting
    // plan is kept too: it is what the apply would meet.
    let gate = judge(ctx, &made.changes, &made.json);
    if let Gate::Stop(stopped) = &gate {
        ctx.verdicts = stopped.0.verdicts.clone();
    }
    let kept = keep(ctx, prepared, &made);
    if let Gate::Stop(stopped) = gate {
        ctx.verdicts.clear();
        return *stopped;
    }
    if let Err(e) = kept {
        return ctx.fail(Failure::new(code::FILES, format!("cannot keep the plan: {e}")));
    }
    let secret_bearing = is_private(ctx, &prepared.resolved);
    if let Some(approval) = ctx.component.terraform().and_then(|t| t.approval.clone())
        && !made.changes.is_empty()
    {
        ctx.notes.push(format!(
            "its apply needs {} of this plan (`infra approve {}`)",
            crate::count(approval.min_approvers as usize, "approval", "approvals"),
            ctx.address
        ));
    }
    if secret_bearing {
        ctx.notes.push("its plan holds secrets and is not kept: `apply` plans it again".into());
    }
    note_assumed(ctx, prepared);
    let done = planned(recorded, &made.changes);
    (ctx.result(Status::Planned, Some(made.changes), None), done)
}

/// Keeps `made` (its summary with the verdicts so far; the binary plan unless it holds
/// secrets) for `infra show`, `infra approve` and a later `apply`.
fn keep(ctx: &Ctx<'_>, prepared: &Prepared, made: &Made) -> std::io::Result<()> {
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
        would_run: None,
        verdicts: ctx.verdicts.clone(),
    };
    let file = (!secret_bearing).then_some(made.file.as_path());
    plan::save(&ctx.shared.layout, &summary, &made.json, file)
}

/// What dependents will read after a plan applies: the recorded outputs, changed as planned;
/// outputs known only after apply (and sensitive ones) are unknown.
pub(crate) fn planned(recorded: Option<BTreeMap<String, Json>>, changes: &PlanChanges) -> Done {
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

pub(crate) fn note_assumed(ctx: &mut Ctx<'_>, prepared: &Prepared) {
    if !prepared.assumed.is_empty() {
        ctx.notes.push(format!("planned with {}", prepared.assumed.join(", ")));
    }
}

/// What `.infra/plans/` holds for a component, against its fingerprint now.
pub(crate) enum Kept {
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

pub(crate) fn kept_plan(ctx: &Ctx<'_>, prepared: &Prepared) -> Kept {
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
pub(crate) fn matching_plan(
    ctx: &Ctx<'_>,
    prepared: &Prepared,
) -> Option<(PlanSummary, Option<PathBuf>)> {
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
            // Judged again now: the time, the user and the flags are this apply's.
            let json = plan::load_json(&layout, ctx.address).unwrap_or_default();
            if let Gate::Stop(stopped) = judge(ctx, &summary.changes, &json.to_string()) {
                return *stopped;
            }
            if let Some(stopped) = awaiting(ctx, &summary.changes) {
                return stopped;
            }
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
            // Approved (or reviewed), the new plan must be the one approved.
            if let Some(stopped) = awaiting(ctx, &summary.changes) {
                return stopped;
            }
            let approved = ctx.component.terraform().is_some_and(|t| t.approval.is_some());
            ctx.notes.push("its plan holds secrets and was not kept: planned again".to_owned());
            expected = (reviewed || approved).then_some(summary.changes);
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
    // Policies judge Terraform's JSON of the plan: then it is shown.
    // Policies judge Terraform's JSON of the plan, and approvers see it: then it is shown.
    let policies = ctx.component.terraform().is_some_and(|t| t.policies > 0);
    let needs_approval = ctx.component.terraform().is_some_and(|t| t.approval.is_some());
    let show = expected.is_some() || policies || needs_approval;
    let made = match make_plan(ctx, prepared, show).await {
        Ok(made) => made,
        Err(failure) => return ctx.fail(failure),
    };
    if let Gate::Stop(stopped) = judge(ctx, &made.changes, &made.json) {
        return *stopped;
    }
    let approved_differs = expected.as_ref().is_some_and(|e| *e != made.changes);
    if approved_differs && reviewed {
        return ctx.fail(not_reviewed(
            "its new plan differs from the one you reviewed (a plan holding secrets is not kept)",
        ));
    }
    // A plan that needs approvals (a new one, or a secret-bearing one that came out other than
    // approved) is kept for `infra approve`, not applied now.
    if needs_approval && (expected.is_none() || approved_differs) && !made.changes.is_empty() {
        if approved_differs {
            ctx.notes.push("its new plan differs from the approved one: it needs approving".into());
        }
        if let Err(e) = keep(ctx, prepared, &made) {
            return ctx.fail(Failure::new(code::FILES, format!("cannot keep the plan: {e}")));
        }
        if let Some(stopped) = awaiting(ctx, &made.changes) {
            return stopped;
        }
    }
    let file = made.file.clone();
    let result = apply(ctx, prepared, &file, &made.changes, true, false).await;
    drop(made);
    result.unwrap_or_else(|Stale| {
        ctx.fail(Failure::new(code::APPLY, "Terraform found the plan just made stale"))
    })
}

/// Terraform refused a saved plan: the state changed since it was made.
pub(crate) struct Stale;

/// `infra drift`: plan an up-to-date component against reality; any change is drift.
pub(crate) async fn drift(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    recorded: Option<BTreeMap<String, Json>>,
) -> (ComponentResult, Done) {
    let made = match make_plan(ctx, prepared, true).await {
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

/// Decrypts secrets, prepares the work directory, `init`s if needed, plans into a file and (when `show`) reads it back with `show -json`;
/// without `show`, only the resource changes are known (from the plan's JSON stream).
pub(crate) async fn make_plan(
    ctx: &mut Ctx<'_>,
    prepared: &Prepared,
    show: bool,
) -> Result<Made, Failure> {
    ctx.take_slot().await;
    // Secrets are decrypted now, in memory, only for a component that runs; they reach
    // Terraform as `TF_VAR_…` in its environment, never in a file.
    private_environment(ctx, &prepared.values, &prepared.resolved).await?;
    prepare_workdir(ctx, &prepared.values, &prepared.resolved).code(code::FILES)?;
    init_if_needed(ctx).await?;
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
    let (changes, json) = show_plan(ctx, &file).await?;
    Ok(Made { changes, json: json.to_string(), file, _private: private })
}

/// `show -json` of a binary plan: its changes, and its JSON with the secrets passed as
/// `TF_VAR_…` redacted.
pub(crate) async fn show_plan(
    ctx: &mut Ctx<'_>,
    file: &std::path::Path,
) -> Result<(PlanChanges, Json), Failure> {
    let file_arg = file.display().to_string();
    let show = ctx.tool_logged("show", &["show", "-json", &file_arg], LogMode::StderrOnly).await?;
    let mut json: Json = serde_json::from_str(show.stdout.trim())
        .map_err(|_| Failure::new(code::PLAN, "`show -json` printed something that is not JSON"))?;
    let changes = PlanChanges::from_show_json(&json);
    let passed: Vec<String> =
        ctx.env.iter().filter_map(|(k, _)| k.strip_prefix("TF_VAR_").map(str::to_owned)).collect();
    plan::redact(&mut json, &passed);
    Ok((changes, json))
}

/// The work directory: realised from the store, with the upstream values it reads.
pub(crate) fn prepare_workdir(
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
        upstream_file
            .as_deref()
            .map_or(workdir::UpstreamFile::Absent, workdir::UpstreamFile::Write),
        &ctx.dir,
    )
    .map_err(|e| format!("cannot prepare the work directory `{}`: {e}", ctx.dir.display()))
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
