//! The gates before an apply. Approvals: a component whose `approval` asks for N approvers
//! is applied only when N different people approved its kept plan (`approval.rs`), else it
//! is `awaiting-approval`. Policies (and in a plan, to show what the apply would meet): the
//! component's policies (see `policy.rs`) judge the plan about to be applied. A `deny` stops
//! the component (`denied`: its dependents are skipped, the rest goes on), a `wait` leaves it
//! for later (`waiting`: outside its change window), a `warn` is shown and recorded. A plan
//! that changes nothing is not judged: there is nothing to guard. `infra destroy` of a
//! component with policies plans the destroy and judges that plan the same way.

use evaluator::{Json, Verdict, VerdictKind};

use super::{
    ComponentResult, Done,
    component::{Ctx, Status},
    failure::{Failure, code},
};
use crate::plan::PlanChanges;

/// What the gate decided.
pub(crate) enum Gate {
    /// Go on (with these verdicts, warnings only, in `ctx.verdicts`).
    Go,
    /// Stopped: the component's result.
    Stop(Box<(ComponentResult, Done)>),
}

/// Judges `changes` (with `plan`, Terraform's JSON of it as kept, or empty).
pub(crate) fn judge(ctx: &mut Ctx<'_>, changes: &PlanChanges, plan: &str) -> Gate {
    let context = &ctx.shared.options.policy;
    let count = ctx.component.terraform().map_or(0, |t| t.policies);
    let Some(engine) = context.engine.clone().filter(|_| count > 0 && !changes.is_empty()) else {
        return Gate::Go;
    };
    let plan: Json = serde_json::from_str(plan).unwrap_or(Json::Null);
    let operation =
        if ctx.shared.options.mode == crate::Mode::Destroy { "destroy" } else { "apply" };
    let input = crate::policy::input(ctx.address, operation, changes, &plan, context);
    let address = ctx.address.to_owned();
    let verdicts = match tokio::task::block_in_place(|| engine.check(&address, &input)) {
        Ok(verdicts) => verdicts,
        Err(message) => {
            return Gate::Stop(Box::new(
                ctx.fail(Failure::new(code::POLICY_ERROR, format!("a policy failed: {message}"))),
            ));
        }
    };
    ctx.verdicts = verdicts.clone();
    let first = |kind: VerdictKind| verdicts.iter().find(|v| v.kind == kind);
    if let Some(deny) = first(VerdictKind::Deny) {
        let mut result = ctx.result(Status::Denied, Some(changes.clone()), Some(say(deny)));
        result.code = Some(code::POLICY_DENY);
        return Gate::Stop(Box::new((result, Done::Failed)));
    }
    if let Some(wait) = first(VerdictKind::Wait) {
        // A kept plan stays: inside the window, it is applied as it is if nothing changed.
        let result = ctx.result(Status::Waiting, Some(changes.clone()), Some(say(wait)));
        return Gate::Stop(Box::new((result, Done::Pending)));
    }
    Gate::Go
}

/// `denied by policy 2: no deletes in prod (`null_resource.db`)`, `waiting (policy 1): …`;
/// the address only when the message does not name it already.
pub(crate) fn say(verdict: &Verdict) -> String {
    let what = match verdict.kind {
        VerdictKind::Deny => format!("denied by policy {}", verdict.policy),
        VerdictKind::Wait => format!("waiting (policy {})", verdict.policy),
        VerdictKind::Warn => format!("warning (policy {})", verdict.policy),
    };
    let at = match &verdict.address {
        Some(a) if !verdict.message.contains(a.as_str()) => format!(" (`{a}`)"),
        _ => String::new(),
    };
    format!("{what}: {}{at}", verdict.message)
}

/// The approval gate of a kept plan about to be applied: `None` when the component needs no
/// approval, the plan changes nothing, or enough people approved exactly this plan.
pub(crate) fn awaiting(
    ctx: &mut Ctx<'_>,
    changes: &PlanChanges,
) -> Option<(ComponentResult, Done)> {
    let approval = ctx.component.terraform().and_then(|t| t.approval.clone())?;
    if changes.is_empty() {
        return None;
    }
    let layout = ctx.shared.layout.clone();
    let min = approval.min_approvers as usize;
    let (who, void) = match crate::approval::plan_id(&layout, ctx.address) {
        Some((_, id)) => crate::approval::counted(&layout, ctx.address, &id, &approval),
        None => (Vec::new(), 0),
    };
    let approved = who.len();
    if approved >= min {
        ctx.notes.push(format!("approved by {}", who.join(", ")));
        return None;
    }
    let mut message = format!(
        "awaiting approval: {approved} of {min} (`infra approve {}` approves this plan)",
        ctx.address
    );
    if void > 0 {
        message.push_str(&format!(
            "; {} of an earlier plan {} void",
            crate::count(void, "approval", "approvals"),
            if void == 1 { "is" } else { "are" }
        ));
    }
    let result = ctx.result(Status::AwaitingApproval, Some(changes.clone()), Some(message));
    Some((result, Done::Pending))
}
