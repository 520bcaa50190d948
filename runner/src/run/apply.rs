//! Applying a plan: mark the record incomplete, `apply`, read the outputs (from the local
//! state file, else `output -json`), check `requiredOutputs`, write the record; the output
//! changes the apply made. (`postApply` hooks are steps of their own: `project/hooks.rs`.)

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use evaluator::Json;
use store::Digest;

use super::{
    steps::{Stale, now},
    tooling::failed,
};
use crate::{
    plan::{self, PlanChanges},
    process::LogMode,
    record::{mark_incomplete, read_record, write_record},
    run::component::{Ctx, Prepared, Status},
    run::failure::{Failure, code},
    run::secret_inputs::collect_strings,
    run::{ComponentResult, Done, terraform},
};

/// Applies `file` (a plan with `changes`; an empty plan is not applied unless `always`), then reads the
/// outputs, writes the record and discards the saved plan.
pub(crate) async fn apply(
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
        let unmarked = read_record(&root, ctx.address);
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
                // Terraform refused it before changing anything: the record stands as it was.
                if let Some(record) = &unmarked {
                    let _ = write_record(&root, record);
                }
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
            format!(
                "the module does not produce the required {} {}",
                if missing.len() == 1 { "output" } else { "outputs" },
                missing.join(", ")
            ),
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
    let record =
        prepared.record(ctx, plain.clone(), sensitive_digests, (tool, tool_version), started);
    if let Err(e) = write_record(&root, &record) {
        return Ok(ctx.fail(Failure::new(
            code::FILES,
            format!("applied, but the run record could not be written: {e}"),
        )));
    }
    let _ = std::fs::remove_file(ctx.shared.layout.checked(ctx.address));
    // Approvals are of a plan: applied, they are used up.
    crate::approval::clear(&root, ctx.address);
    let whose = if ctx.shared.options.reviewed { "the reviewed plan" } else { "the kept plan" };
    if saved && ran {
        ctx.notes.push(format!("applied {whose} as it was"));
    } else if saved {
        ctx.notes.push(format!("{whose} changes nothing: recorded"));
    }
    // Only non-sensitive values flow to dependents; a sensitive one is read from this
    // component's state when a reader runs.
    Ok((ctx.result(Status::Applied, Some(changes), None), Done::Ok(Some(plain))))
}

/// Sensitive outputs by the blake3 of their values.
pub(crate) type Digests = BTreeMap<String, String>;

/// The blake3 of each sensitive value (what records keep).
pub(crate) fn digests(sensitive: &BTreeMap<String, Json>) -> Digests {
    sensitive
        .iter()
        .map(|(k, v)| (k.clone(), Digest::of(v.to_string().as_bytes()).to_hex()))
        .collect()
}

/// The output changes an apply made: its outputs against the previous ones (plain, and
/// sensitive by digest, shown without values).
pub(crate) fn output_changes(
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

pub(crate) type Outputs = (BTreeMap<String, Json>, BTreeMap<String, Json>);

/// The local backend's state file of `component`, when it has one.
pub(crate) fn local_state(
    layout: &crate::layout::Layout,
    component: &evaluator::Component,
) -> Option<PathBuf> {
    let backend = &component.terraform()?.backend;
    if backend.ty != "local" {
        return None;
    }
    let address = component.address();
    Some(match backend.config.get("path").and_then(Json::as_str) {
        Some(path) => layout.work(&address).join(path),
        None => layout.tfstate(&address),
    })
}

/// The outputs after an apply (plain, sensitive): from the local backend's state file when
/// there is one (no process), else `output -json`. An output that shows a decrypted secret
/// counts as sensitive.
pub(crate) async fn read_outputs(ctx: &mut Ctx<'_>) -> Result<Outputs, Failure> {
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
