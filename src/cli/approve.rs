//! `infra approve STACK/NAME`: records the user's approval of the component's kept plan,
//! bound to that exact plan (`runner::approval`). Shows what is approved first.

use std::process::ExitCode;

use clap::Args;

use crate::{
    ctx::{Ctx, not_a_component},
    error::CliError,
    output::Output,
    review::Paint,
};

/// Approve a component's kept plan (made by `infra plan` or a stopped `infra apply`); `infra
/// apply` applies it once enough different people approved it.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The component, as `STACK/NAME`.
    address: String,
    /// Approve destroying it as it was last applied (`infra destroy` of a component that
    /// needs approvals waits for as many approvals of its destroy).
    #[arg(long)]
    destroy: bool,
    /// Print the outcome as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &ApproveArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let Some(component) = project.component(&args.address) else {
        return Err(not_a_component(&project, &args.address));
    };
    let Some(approval) = component.terraform().and_then(|t| t.approval.clone()) else {
        return Err(CliError::user(
            "infra::approve::not_required",
            format!("`{}` needs no approval: `infra apply` applies it", args.address),
        )
        .with_hint(
            "ask for approvals with `approval = { required = true; minApprovers = 2; };`".into(),
        ));
    };
    let layout = runner::Layout::new(&ctx.root);
    if args.destroy {
        return approve_destroy(out, ctx, args, &approval);
    }
    let Some((summary, plan)) = runner::approval::plan_id(&layout, &args.address) else {
        return Err(CliError::user(
            "infra::approve::no_plan",
            format!("`{}` has no kept plan to approve", args.address),
        )
        .with_hint(format!("`infra apply {}` (or `infra plan`) makes one", args.address)));
    };
    let approved = record(ctx, &args.address, &plan, &approval)?;
    let min = approval.min_approvers as usize;
    let who: Vec<&str> =
        approved.approvals.iter().map(|a| a.user.as_str()).filter(|u| approval.allows(u)).collect();
    if args.json {
        out.data(&format!(
            "{}\n",
            serde_json::json!({
                "address": args.address,
                "plan": plan,
                "made": summary.made,
                "approvedBy": who,
                "needed": min,
                "again": approved.again,
                "voided": approved.voided,
            })
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let paint = Paint(out.color());
    let mut text = format!(
        "{}: plan {plan} made {}: {}\n",
        paint.bold(&args.address),
        runner::time::utc(summary.made),
        crate::review::counts(&summary.changes)
    );
    text.push_str(&crate::review::changes(&summary.changes, paint));
    text.push_str(&crate::review::verdicts(&summary.verdicts, paint));
    tally(
        &mut text,
        &approved,
        &who,
        min,
        "plan",
        &format!("`infra apply {}` applies it", args.address),
    );
    out.data(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Records the user's approval of `plan` (a kept plan's id, or a destroy's).
fn record(
    ctx: &Ctx,
    address: &str,
    plan: &str,
    approval: &evaluator::Approval,
) -> Result<runner::approval::Approve, CliError> {
    let user = crate::policy::user();
    if let Some(message) = runner::approval::not_allowed(approval, &user) {
        return Err(CliError::user("infra::approve::not_allowed", message).with_hint(
            "run it as one of them (`INFRA_USER`), or add the user to `approval.approvers`".into(),
        ));
    }
    let at = crate::policy::now().map_err(|e| CliError::user("infra::policy::clock", e))?;
    let layout = runner::Layout::new(&ctx.root);
    runner::approval::approve(&layout, address, plan, &user, at).map_err(|e| {
        CliError::user("infra::approve::io", format!("cannot record the approval: {e}"))
    })
}

/// `infra approve --destroy`: the user's approval of destroying the component as it was last
/// applied.
fn approve_destroy(
    out: &mut Output,
    ctx: &Ctx,
    args: &ApproveArgs,
    approval: &evaluator::Approval,
) -> Result<ExitCode, CliError> {
    let id = runner::approval::destroy_id(&ctx.root, &args.address);
    let approved = record(ctx, &args.address, &id, approval)?;
    let min = approval.min_approvers as usize;
    let who: Vec<&str> =
        approved.approvals.iter().map(|a| a.user.as_str()).filter(|u| approval.allows(u)).collect();
    if args.json {
        let line = serde_json::json!({
            "address": args.address,
            "plan": id,
            "destroy": true,
            "approvedBy": who,
            "needed": min,
            "again": approved.again,
            "voided": approved.voided,
        });
        out.data(&format!("{line}\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let applied = runner::read_record(&ctx.root, &args.address)
        .map(|r| format!("as applied {}", runner::time::utc(r.finished)))
        .unwrap_or_else(|| "(never fully applied)".to_owned());
    let mut text = format!("{}: destroy {applied}\n", Paint(out.color()).bold(&args.address));
    tally(
        &mut text,
        &approved,
        &who,
        min,
        "destroy",
        &format!("`infra destroy {}` destroys it", args.address),
    );
    out.data(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The lines after what was approved: approvals it voided, and how many it has of how many.
fn tally(
    text: &mut String,
    approved: &runner::approval::Approve,
    who: &[&str],
    min: usize,
    what: &str,
    when_ready: &str,
) {
    if approved.voided > 0 {
        text.push_str(&format!(
            "{} of an earlier plan or destroy {} void: this {what} is another\n",
            runner::count(approved.voided, "approval", "approvals"),
            if approved.voided == 1 { "is" } else { "are" }
        ));
    }
    let state = if approved.again { "already approved by you" } else { "approved" };
    let ready = match min.checked_sub(who.len()) {
        Some(more) if more > 0 => format!("{more} more needed"),
        _ => when_ready.to_owned(),
    };
    text.push_str(&format!("{state}: {} of {min} ({}); {ready}\n", who.len(), who.join(", ")));
}
