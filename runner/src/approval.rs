//! Approvals: `infra approve STACK/NAME` records who approved the component's kept plan, bound
//! to that exact plan (its id: the hash of the fingerprint it was made for, its changes and
//! the binary plan). `infra apply` applies a plan of a component whose `approval` asks for N
//! approvers only once N different people approved that very plan; an approval of another
//! plan is void, and says so. The file (`.infra/approvals/STACK/NAME.json`) is written
//! atomically and removed when the plan is applied. Destroying such a component needs as
//! many approvals of the destroy (`destroy_id`: bound to what was last applied).

use std::path::Path;

use serde::{Deserialize, Serialize};
use store::Digest;

use crate::{layout::Layout, plan::PlanSummary};

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    pub user: String,
    /// Seconds since the epoch.
    pub at: i64,
}

/// The approvals of one kept plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvals {
    /// The plan they approve (`plan_id`).
    pub plan: String,
    pub by: Vec<Approved>,
}

/// The id of `address`'s kept plan: what it was made for, what it changes, and the binary
/// plan when it is kept (`None`: there is no kept plan to approve).
pub fn plan_id(layout: &Layout, address: &str) -> Option<(PlanSummary, String)> {
    let summary = crate::plan::load(layout, address)?;
    if summary.pending.is_some() || summary.would_run.is_some() {
        return None;
    }
    let mut bytes = summary.input_hash.clone().into_bytes();
    bytes.extend(serde_json::to_vec(&summary.changes).unwrap_or_default());
    if let Some(file) = crate::plan::tfplan(layout, address) {
        bytes.extend(std::fs::read(file).unwrap_or_default());
    }
    let id = Digest::of(&bytes).to_hex()[..16].to_owned();
    Some((summary, id))
}

/// The id of destroying `address` as it was last applied (or, with no record, whatever an
/// unfinished first apply left): an approval of it (`infra approve --destroy`) is void once
/// the component is applied again.
pub fn destroy_id(root: &Path, address: &str) -> String {
    let applied = crate::record::read_record(root, address).map(|r| r.input_hash);
    let bytes = format!("destroy\0{address}\0{}", applied.as_deref().unwrap_or("unrecorded"));
    format!("destroy-{}", &Digest::of(bytes.as_bytes()).to_hex()[..16])
}

/// The approvals recorded for `address` (empty when none).
pub fn load(layout: &Layout, address: &str) -> Approvals {
    std::fs::read(layout.approvals(address))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// What `approve` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approve {
    pub plan: String,
    /// The approvals of this plan now.
    pub approvals: Vec<Approved>,
    /// This user had approved it already.
    pub again: bool,
    /// Approvals of an earlier plan that this one voids.
    pub voided: usize,
}

/// Records `user`'s approval of `address`'s kept plan `plan`.
pub fn approve(
    layout: &Layout,
    address: &str,
    plan: &str,
    user: &str,
    at: i64,
) -> std::io::Result<Approve> {
    let mut approvals = load(layout, address);
    let mut voided = 0;
    if approvals.plan != plan {
        voided = approvals.by.len();
        approvals = Approvals { plan: plan.to_owned(), by: Vec::new() };
    }
    let again = approvals.by.iter().any(|a| a.user == user);
    if !again {
        approvals.by.push(Approved { user: user.to_owned(), at });
    }
    write(layout, address, &approvals)?;
    Ok(Approve { plan: plan.to_owned(), approvals: approvals.by, again, voided })
}

fn write(layout: &Layout, address: &str, approvals: &Approvals) -> std::io::Result<()> {
    let path = layout.approvals(address);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = serde_json::to_vec_pretty(approvals).unwrap_or_default();
    store::fsutil::write_atomic(&path, &bytes, false)
}

/// Removes the approvals of `address` (its plan was applied).
pub(crate) fn clear(root: &Path, address: &str) {
    let _ = std::fs::remove_file(Layout::new(root).approvals(address));
}

/// Who approved exactly `plan` and counts under `approval` (`approvers` changed since, an
/// approval by someone no longer listed does not count), and how many approved another plan.
pub fn counted(
    layout: &Layout,
    address: &str,
    plan: &str,
    approval: &evaluator::Approval,
) -> (Vec<String>, usize) {
    let approvals = load(layout, address);
    if approvals.plan != plan {
        return (Vec::new(), approvals.by.len());
    }
    let who = approvals.by.into_iter().map(|a| a.user).filter(|u| approval.allows(u)).collect();
    (who, 0)
}

/// The error of `user` approving under `approval` when they may not, with who may.
pub fn not_allowed(approval: &evaluator::Approval, user: &str) -> Option<String> {
    (!approval.allows(user)).then(|| {
        format!(
            "`{user}` may not approve it: its approvers are {}",
            approval.approvers.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
        )
    })
}
