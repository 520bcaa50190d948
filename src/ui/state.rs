//! A node's state as the web view shows it: what its kept plan says first (pending, would
//! run, denied, waiting, awaiting approval, planned), else what `infra status` says
//! (up to date, changed, upstream changed, never applied, failed, interrupted).

use runner::{Layout, State};

use super::App;

/// One node's state, and a line on why.
pub(crate) struct NodeState {
    pub(crate) address: String,
    pub(crate) kind: &'static str,
    pub(crate) state: &'static str,
    pub(crate) detail: String,
}

/// Every node's state, in project order.
pub(crate) fn states(app: &App) -> Vec<NodeState> {
    let status = runner::status(&app.project, &app.build, &app.root, &app.tool_env);
    let layout = Layout::new(&app.root);
    app.project
        .components()
        .map(|component| {
            let address = component.address();
            let recorded = status.iter().find(|(a, _, _)| *a == address).map(|(_, s, _)| s.clone());
            let (state, detail) = match recorded {
                Some(State::Failed(why)) => ("failed", why),
                Some(State::Interrupted(why)) => ("interrupted", why),
                other => planned(&layout, component).unwrap_or_else(|| match other {
                    Some(State::UpToDate) => ("up-to-date", String::new()),
                    Some(State::Changed) => ("changed", "`infra plan` shows what".to_owned()),
                    Some(State::UpstreamChanged(why)) => ("upstream-changed", why),
                    _ => ("never-applied", String::new()),
                }),
            };
            NodeState { address, kind: component.kind_name(), state, detail }
        })
        .collect()
}

/// What the kept plan of `component` says, if it has one.
fn planned(layout: &Layout, component: &evaluator::Component) -> Option<(&'static str, String)> {
    let address = component.address();
    let summary = runner::plan::load(layout, &address)?;
    if let Some(why) = summary.pending {
        return Some(("pending", why));
    }
    if let Some(what) = summary.would_run {
        return Some(("would-run", what));
    }
    let first = |kind: evaluator::VerdictKind| summary.verdicts.iter().find(|v| v.kind == kind);
    if let Some(deny) = first(evaluator::VerdictKind::Deny) {
        return Some(("denied", deny.message.clone()));
    }
    if let Some(wait) = first(evaluator::VerdictKind::Wait) {
        return Some(("waiting", wait.message.clone()));
    }
    if summary.changes.is_empty() {
        return None;
    }
    if let Some(approval) = component.terraform().and_then(|t| t.approval.clone()) {
        let approved = approvals(layout, &address, &approval);
        let min = approval.min_approvers as usize;
        if approved.len() < min {
            let who = if approved.is_empty() {
                String::new()
            } else {
                format!(": {}", approved.join(", "))
            };
            return Some((
                "awaiting-approval",
                format!("{} of {min} approvals{who}", approved.len()),
            ));
        }
        return Some(("planned", format!("approved by {}", approved.join(", "))));
    }
    Some(("planned", String::new()))
}

/// Who approved the kept plan of `address` (exactly that plan).
pub(crate) fn approvals(
    layout: &Layout,
    address: &str,
    approval: &evaluator::Approval,
) -> Vec<String> {
    let Some((_, id)) = runner::approval::plan_id(layout, address) else { return Vec::new() };
    runner::approval::counted(layout, address, &id, approval).0
}
