//! Policies over plans, from the runner's side: what a policy is given (`input`: the plan's
//! resource and output changes, the plan's JSON as kept — secrets redacted —, the time, the
//! user, the flags), and who evaluates it (`PolicyEngine`: the binary's, an evaluator on a
//! thread of its own, since evaluation is single-threaded). The verdicts gate an apply:
//! `run/gate.rs`.

use std::{fmt, sync::Arc};

use evaluator::{Json, Verdict};
use serde_json::json;

use crate::plan::PlanChanges;

/// Evaluates the policies of a component on an input.
pub trait PolicyEngine: Send + Sync {
    /// The verdicts of every policy of `address` (its stack's, then its own); `Err`: a policy
    /// failed to evaluate (the message says where and why).
    fn check(&self, address: &str, input: &Json) -> Result<Vec<Verdict>, String>;
}

/// What every policy check of one run is given besides the plan.
#[derive(Clone, Default)]
pub struct PolicyContext {
    pub engine: Option<Arc<dyn PolicyEngine>>,
    /// Seconds since the epoch (`INFRA_NOW` fixes it, for tests and dry runs).
    pub now: i64,
    /// Who runs it (`INFRA_USER`, else `USER`).
    pub user: String,
    /// `--allow-destroy`.
    pub allow_destroy: bool,
}

impl fmt::Debug for PolicyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyContext")
            .field("engine", &self.engine.is_some())
            .field("now", &self.now)
            .field("user", &self.user)
            .field("allow_destroy", &self.allow_destroy)
            .finish()
    }
}

/// The input of the policies of `address` on a plan: `{ stack; component; address; operation;
/// changes; outputChanges; plan; now; user; flags; }` (`operation`: `"apply"`, or `"destroy"`
/// for the plan of `infra destroy`).
pub fn input(
    address: &str,
    operation: &str,
    changes: &PlanChanges,
    plan: &Json,
    context: &PolicyContext,
) -> Json {
    let (stack, name) = address.split_once('/').unwrap_or(("", address));
    let mut resources = Vec::new();
    for change in plan.get("resource_changes").and_then(Json::as_array).into_iter().flatten() {
        let actions = change.pointer("/change/actions").cloned().unwrap_or(json!([]));
        if actions == json!(["no-op"]) {
            continue;
        }
        resources.push(json!({
            "address": change.get("address").cloned().unwrap_or(Json::Null),
            "type": change.get("type").cloned().unwrap_or(Json::Null),
            "name": change.get("name").cloned().unwrap_or(Json::Null),
            "mode": change.get("mode").cloned().unwrap_or(Json::Null),
            "actions": actions,
        }));
    }
    // Without Terraform's JSON (a plan that was not shown), the changes infra knows.
    if resources.is_empty() && plan.get("resource_changes").is_none() {
        for change in &changes.resources {
            let actions = match change.action {
                crate::plan::Action::Replace => json!(["delete", "create"]),
                action => json!([action.name()]),
            };
            resources.push(json!({
                "address": change.address,
                "type": resource_type(&change.address),
                "actions": actions,
            }));
        }
    }
    let outputs: Vec<Json> = changes
        .outputs
        .iter()
        .map(|o| {
            json!({
                "name": o.name,
                "action": o.action.name(),
                "before": o.before,
                "after": o.after,
                "unknown": o.unknown,
                "sensitive": o.sensitive,
            })
        })
        .collect();
    json!({
        "stack": stack,
        "component": name,
        "address": address,
        "operation": operation,
        "changes": resources,
        "outputChanges": outputs,
        "plan": plan,
        "now": now(context.now),
        "user": context.user,
        "flags": { "allowDestroy": context.allow_destroy },
    })
}

/// `aws_s3_bucket` of `module.m.aws_s3_bucket.logs["a"]`.
fn resource_type(address: &str) -> String {
    let parts: Vec<&str> = address.split('.').collect();
    let mut i = 0;
    while i + 1 < parts.len() && parts[i] == "module" {
        i += 2;
    }
    if parts.get(i) == Some(&"data") {
        i += 1;
    }
    parts.get(i).map(|t| (*t).to_owned()).unwrap_or_default()
}

/// `{ iso; epoch; weekday; hour; minute; }` in UTC (`weekday`: `"mon"` … `"sun"`).
fn now(epoch: i64) -> Json {
    let days = epoch.div_euclid(86_400);
    let seconds = epoch.rem_euclid(86_400);
    // 1970-01-01 was a Thursday.
    let weekday = ["thu", "fri", "sat", "sun", "mon", "tue", "wed"][days.rem_euclid(7) as usize];
    json!({
        "iso": crate::time::rfc3339(epoch.max(0) as u64),
        "epoch": epoch,
        "weekday": weekday,
        "hour": seconds / 3600,
        "minute": seconds % 3600 / 60,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_come_from_addresses() {
        assert_eq!(resource_type("aws_s3_bucket.logs"), "aws_s3_bucket");
        assert_eq!(resource_type("module.a.module.b.null_resource.x[0]"), "null_resource");
        assert_eq!(resource_type("data.http.x"), "http");
    }

    #[test]
    fn the_time_is_given_in_utc_with_its_weekday() {
        // 2026-12-01T10:30:00Z, a Tuesday.
        let now = now(1_796_121_000);
        assert_eq!(now["weekday"], "tue");
        assert_eq!(now["hour"], 10);
        assert_eq!(now["minute"], 30);
        assert_eq!(now["iso"], "2026-12-01T10:30:00Z");
    }
}
