//! `infra destroy` of one component, with the inputs of its last apply where known.

use std::collections::BTreeMap;

use evaluator::{Json, OutputRef};

use super::{
    private::private_environment,
    steps::{now, prepare_workdir},
    tooling::{failed, init_if_needed},
};
use crate::{
    plan,
    process::LogMode,
    record::{mark_incomplete, read_record, remove_record},
    resolve::resolve_inputs,
    run::component::{Ctx, Status},
    run::failure::{Failure, code},
    run::gate::{Gate, judge},
    run::{ComponentResult, Done, RunReport, Shared},
    tool_diagnostics::{self},
};

/// `infra destroy` of one component, with the inputs of its last apply where known.
pub(crate) async fn destroy(ctx: &mut Ctx<'_>) -> (ComponentResult, Done) {
    let root = ctx.shared.options.root.clone();
    let record = read_record(&root, ctx.address);
    if record.is_none() && !ctx.dir.join(".terraform").is_dir() {
        return (ctx.result(Status::UpToDate, None, Some("never applied".into())), Done::Ok(None));
    }
    let values = recorded_values(ctx);
    let resolved = resolve_inputs(ctx.component, &values).unwrap_or_default();
    // Destroying needs the same variables, secrets included.
    if let Err(failure) = ready(ctx, &values, &resolved).await {
        return ctx.fail(failure);
    }
    if ctx.shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
        return ctx.fail(Failure::new(code::STOPPED, "the run was stopped"));
    }
    // A guarded component's destroy is planned and judged first, then that plan is applied.
    let guarded = match guarded_plan(ctx).await {
        Ok(Ok(plan)) => plan,
        Ok(Err(stopped)) => return *stopped,
        Err(failure) => return ctx.fail(failure),
    };
    // A component whose changes need approvals needs them to be destroyed too.
    if let Some(stopped) = awaiting_destroy(ctx) {
        return stopped;
    }
    if ctx.shared.preflight.load(std::sync::atomic::Ordering::SeqCst) {
        return cleared(ctx);
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
    let file = guarded.as_ref().map(|dir| dir.path().join(plan::PLAN_FILE).display().to_string());
    let args = match &file {
        Some(file) => vec!["apply", "-input=false", "-no-color", file.as_str()],
        None => vec!["destroy", "-input=false", "-no-color", "-auto-approve"],
    };
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
    crate::approval::clear(&root, ctx.address);
    let _ = std::fs::remove_file(ctx.shared.layout.checked(ctx.address));
    (ctx.result(Status::Destroyed, None, None), Done::Ok(None))
}

/// What a destroy's first pass says of a node whose gates let it through.
const CLEARED: &str = "cleared for destroy";

/// Whether destroying `address` has a gate: approvals, or policies to judge its planned
/// destroy.
pub(crate) fn gated(shared: &Shared, address: &str) -> bool {
    let Some(terraform) = shared.project.component(address).and_then(|c| c.terraform()) else {
        return false;
    };
    terraform.approval.is_some()
        || (terraform.policies > 0 && shared.options.policy.engine.is_some())
}

/// A node let through by a destroy's first pass.
pub(crate) fn cleared(ctx: &mut Ctx<'_>) -> (ComponentResult, Done) {
    (ctx.result(Status::Skipped, None, Some(CLEARED.into())), Done::Ok(None))
}

/// What a destroy's first pass decided for a node, taken by it when its turn comes.
pub(crate) enum Held {
    /// Its gate stopped it: this result (denied, waiting, awaiting approval, failed).
    Stopped(Box<(ComponentResult, Done)>),
    /// It depends on one that will not be destroyed: not destroyed either (why).
    Dependent(String),
}

/// After a destroy's first pass: the nodes a gate stopped keep that result, and every node
/// that depends on one of them (destroyed first, otherwise) is held back; the rest is
/// destroyed as usual (an unrelated target goes on, as in an apply).
pub(crate) fn hold(shared: &Shared, judged: RunReport) -> BTreeMap<String, Held> {
    let passed = |c: &ComponentResult| {
        c.status == Status::UpToDate
            || (c.status == Status::Skipped && c.message.as_deref() == Some(CLEARED))
    };
    let mut held = BTreeMap::new();
    let mut stopped: Vec<String> = Vec::new();
    for result in judged.components {
        // Skipped without being judged (the run was stopped): the second pass says so.
        if passed(&result) || result.status == Status::Skipped {
            continue;
        }
        let done = match result.status {
            Status::Waiting | Status::AwaitingApproval => Done::Pending,
            _ => Done::Failed,
        };
        stopped.push(result.address.clone());
        held.insert(result.address.clone(), Held::Stopped(Box::new((result, done))));
    }
    // Their dependents in this run, transitively.
    let mut queue = stopped;
    while let Some(address) = queue.pop() {
        for component in shared.project.components() {
            let dependent = component.address();
            if component.depends_on.contains(&address)
                && shared.selected.contains(&dependent)
                && !held.contains_key(&dependent)
            {
                let why = format!(
                    "not destroyed: it depends on `{address}`, which is not destroyed (a destroy \
                     is judged before anything is destroyed)"
                );
                held.insert(dependent.clone(), Held::Dependent(why));
                queue.push(dependent);
            }
        }
    }
    held
}

/// The approval gate of a destroy: `None` when the component needs no approval or enough
/// people approved destroying it as it was last applied (`approval::destroy_id`).
fn awaiting_destroy(ctx: &mut Ctx<'_>) -> Option<(ComponentResult, Done)> {
    let approval = ctx.component.terraform().and_then(|t| t.approval.clone())?;
    let root = ctx.shared.options.root.clone();
    let min = approval.min_approvers as usize;
    let id = crate::approval::destroy_id(&root, ctx.address);
    let (who, _) = crate::approval::counted(&ctx.shared.layout, ctx.address, &id, &approval);
    if who.len() >= min {
        ctx.notes.push(format!("destroy approved by {}", who.join(", ")));
        return None;
    }
    let message = format!(
        "awaiting approval: {} of {min} (`infra approve --destroy {}` approves destroying it)",
        who.len(),
        ctx.address
    );
    Some((ctx.result(Status::AwaitingApproval, None, Some(message)), Done::Pending))
}

/// For a component with policies: `terraform plan -destroy` into a private directory, shown
/// and judged like an apply's plan (`operation = "destroy"` in the input; `noDestroy` denies
/// it unless `--allow-destroy`). `Ok(Ok(None))`: nothing to judge, destroy directly;
/// `Ok(Ok(Some(dir)))`: the judged plan, in `dir`; `Ok(Err(result))`: stopped by a verdict.
async fn guarded_plan(
    ctx: &mut Ctx<'_>,
) -> Result<Result<Option<tempfile::TempDir>, Box<(ComponentResult, Done)>>, Failure> {
    let policies = ctx.component.terraform().map_or(0, |t| t.policies);
    if policies == 0 || ctx.shared.options.policy.engine.is_none() {
        return Ok(Ok(None));
    }
    let dir = tempfile::Builder::new().prefix("infra-destroy-").tempdir().map_err(|e| {
        Failure::new(code::FILES, format!("cannot create a private directory: {e}"))
    })?;
    let file = dir.path().join(plan::PLAN_FILE);
    let out = format!("-out={}", file.display());
    let args = ["plan", "-destroy", "-input=false", "-no-color", "-detailed-exitcode", &out];
    let done = ctx.tool_logged("plan", &args, LogMode::Full).await?;
    if !matches!(done.code, Some(0) | Some(2)) {
        return Err(Failure::new(code::PLAN, failed(ctx, "plan")));
    }
    let (changes, json) = super::steps::show_plan(ctx, &file).await?;
    match judge(ctx, &changes, &json.to_string()) {
        Gate::Go => Ok(Ok(Some(dir))),
        Gate::Stop(stopped) => Ok(Err(stopped)),
    }
}

/// The work directory made current for running the tool by hand: its secrets in the
/// environment, its files and variables written, `init` if needed (`destroy`, `infra tf`).
pub(crate) async fn ready(
    ctx: &mut Ctx<'_>,
    values: &BTreeMap<OutputRef, Json>,
    resolved: &BTreeMap<String, Json>,
) -> Result<(), Failure> {
    private_environment(ctx, values, resolved).await?;
    prepare_workdir(ctx, values, resolved).map_err(|message| Failure::new(code::FILES, message))?;
    init_if_needed(ctx).await
}

/// The upstream values a node read, for destroying it: from records, else mocks, else empty.
pub(crate) fn recorded_values(ctx: &Ctx<'_>) -> BTreeMap<OutputRef, Json> {
    let root = &ctx.shared.options.root;
    ctx.component
        .reads
        .iter()
        .map(|r| {
            let value = crate::record::recorded_value(root, r)
                .or_else(|| {
                    ctx.shared
                        .project
                        .component(&r.address)
                        .and_then(|u| u.mock_outputs.get(&r.output).cloned())
                })
                .unwrap_or(Json::String(String::new()));
            (r.clone(), value)
        })
        .collect()
}
