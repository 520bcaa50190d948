//! Plans as artefacts: what `infra plan` keeps per component under `.infra/plans/STACK/NAME/`
//! — the saved plan (`plan.tfplan`), Terraform's JSON of it (`plan.json`, from `show -json`)
//! and our summary (`summary.json`: the fingerprint it was made for, resource and output
//! changes, what it was planned with). `infra show` prints them; `infra apply` applies a saved
//! plan whose fingerprint still matches without planning again.
//!
//! A secret-bearing component's binary plan holds the decrypted values, so it is never kept:
//! its summary and a scrubbed `plan.json` are, and `apply` plans it again.

use std::{collections::BTreeMap, fs, path::Path};

use evaluator::Json;
use serde::{Deserialize, Serialize};

use crate::layout::Layout;

/// The summary format's version.
pub const PLAN_VERSION: u32 = 1;
pub(crate) const PLAN_FILE: &str = "plan.tfplan";
const JSON_FILE: &str = "plan.json";
const SUMMARY_FILE: &str = "summary.json";

/// What a planned change does to a resource (or an output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    /// Delete and create (either order).
    Replace,
    Delete,
    /// A data source read during apply.
    Read,
}

impl Action {
    /// Terraform's `actions` list → one action; `None` for `no-op`.
    fn from_actions(actions: &[Json]) -> Option<Action> {
        let names: Vec<&str> = actions.iter().filter_map(Json::as_str).collect();
        match names.as_slice() {
            ["create"] => Some(Action::Create),
            ["update"] => Some(Action::Update),
            ["delete"] => Some(Action::Delete),
            ["read"] => Some(Action::Read),
            ["delete", "create"] | ["create", "delete"] => Some(Action::Replace),
            _ => None,
        }
    }

    /// The sign Terraform prints before it.
    pub fn sign(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Read => "<=",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Read => "read",
        }
    }
}

/// A resource the plan changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    pub action: Action,
}

/// An output the plan changes. Values of sensitive outputs are never kept (`None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    pub name: String,
    pub action: Action,
    pub before: Option<Json>,
    /// The new value when the plan knows it.
    pub after: Option<Json>,
    /// Known only after apply.
    pub unknown: bool,
    pub sensitive: bool,
}

/// The changes of one plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanChanges {
    pub resources: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
}

impl PlanChanges {
    /// From `terraform show -json PLAN`.
    pub fn from_show_json(plan: &Json) -> PlanChanges {
        let mut changes = PlanChanges::default();
        for resource in plan.get("resource_changes").and_then(Json::as_array).into_iter().flatten()
        {
            let actions = resource.pointer("/change/actions").and_then(Json::as_array);
            let Some(action) = actions.and_then(|a| Action::from_actions(a)) else { continue };
            let address = resource.get("address").and_then(Json::as_str).unwrap_or("?").to_owned();
            changes.resources.push(ResourceChange { address, action });
        }
        let outputs = plan.get("output_changes").and_then(Json::as_object);
        for (name, change) in outputs.into_iter().flatten() {
            let actions = change.get("actions").and_then(Json::as_array);
            let Some(action) = actions.and_then(|a| Action::from_actions(a)) else { continue };
            let sensitive = [change.get("after_sensitive"), change.get("before_sensitive")]
                .into_iter()
                .any(|s| s.is_some_and(|s| s != &Json::Bool(false)));
            let unknown = change.get("after_unknown").is_some_and(|u| u != &Json::Bool(false));
            let value = |key: &str| {
                (!sensitive).then(|| change.get(key).cloned()).flatten().filter(|v| !v.is_null())
            };
            let after = if unknown { None } else { value("after") };
            changes.outputs.push(OutputChange {
                name: name.clone(),
                action,
                before: value("before"),
                after,
                unknown,
                sensitive,
            });
        }
        changes
    }

    /// The resource changes of a `plan -json` stream (`planned_change` events); the output
    /// changes are not in it (Terraform 1.0), so they are left empty.
    pub fn from_json_stream(stdout: &str) -> PlanChanges {
        let mut changes = PlanChanges::default();
        for line in stdout.lines() {
            let Ok(event) = serde_json::from_str::<Json>(line) else { continue };
            if event.get("type").and_then(Json::as_str) != Some("planned_change") {
                continue;
            }
            let action = match event.pointer("/change/action").and_then(Json::as_str) {
                Some("create") => Action::Create,
                Some("update") => Action::Update,
                Some("replace") => Action::Replace,
                Some("delete") => Action::Delete,
                Some("read") => Action::Read,
                _ => continue,
            };
            let address = event.pointer("/change/resource/addr").and_then(Json::as_str);
            let address = address.unwrap_or("?").to_owned();
            changes.resources.push(ResourceChange { address, action });
        }
        changes
    }

    /// Terraform's counts: to add (creates and replacements), to change, to destroy (deletes
    /// and replacements).
    pub fn counts(&self) -> (u32, u32, u32) {
        let count = |pred: fn(Action) -> bool| {
            self.resources.iter().filter(|r| pred(r.action)).count() as u32
        };
        (
            count(|a| matches!(a, Action::Create | Action::Replace)),
            count(|a| a == Action::Update),
            count(|a| matches!(a, Action::Delete | Action::Replace)),
        )
    }

    /// Whether applying the plan would change anything (resources or outputs).
    pub fn is_empty(&self) -> bool {
        self.resources.iter().all(|r| r.action == Action::Read) && self.outputs.is_empty()
    }

    /// Whether it deletes or replaces anything.
    pub fn destroys(&self) -> bool {
        self.resources.iter().any(|r| matches!(r.action, Action::Delete | Action::Replace))
    }
}

/// Removes the values Terraform marks sensitive from its JSON of a plan (`show -json` keeps
/// them): output values, resource attributes under their `*_sensitive` masks (planned
/// changes and drift), the variables the configuration declares sensitive, and the variables
/// named in `private` (those infra passed through the environment: secrets, sensitive
/// upstream outputs). The result is what `plan.json` keeps and `infra show --json` prints.
pub fn redact(plan: &mut Json, private: &[String]) {
    if let Some(outputs) = plan.get_mut("output_changes").and_then(Json::as_object_mut) {
        for change in outputs.values_mut() {
            for (value, mask) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
                let mask = change.get(mask).cloned().unwrap_or(Json::Bool(false));
                if let Some(value) = change.get_mut(value) {
                    mask_value(value, &mask);
                }
            }
        }
    }
    for state in ["planned_values", "prior_state"] {
        let values = if state == "prior_state" {
            plan.pointer_mut("/prior_state/values")
        } else {
            plan.get_mut(state)
        };
        let Some(values) = values else { continue };
        if let Some(outputs) = values.get_mut("outputs").and_then(Json::as_object_mut) {
            for output in outputs.values_mut() {
                if output.get("sensitive").is_some_and(|s| s == &Json::Bool(true))
                    && let Some(map) = output.as_object_mut()
                {
                    map.remove("value");
                }
            }
        }
        if let Some(module) = values.get_mut("root_module") {
            redact_module(module);
        }
    }
    for list in ["resource_changes", "resource_drift"] {
        for resource in plan.get_mut(list).and_then(Json::as_array_mut).into_iter().flatten() {
            let Some(change) = resource.get_mut("change") else { continue };
            for (value, mask) in [("before", "before_sensitive"), ("after", "after_sensitive")] {
                let mask = change.get(mask).cloned().unwrap_or(Json::Bool(false));
                if let Some(value) = change.get_mut(value) {
                    mask_value(value, &mask);
                }
            }
        }
    }
    let mut declared: Vec<String> = plan
        .pointer("/configuration/root_module/variables")
        .and_then(Json::as_object)
        .map(|vars| {
            vars.iter()
                .filter(|(_, v)| v.get("sensitive") == Some(&Json::Bool(true)))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    declared.extend(private.iter().cloned());
    if let Some(variables) = plan.get_mut("variables").and_then(Json::as_object_mut) {
        for name in declared {
            if let Some(value) = variables.get_mut(&name).and_then(|v| v.get_mut("value")) {
                *value = Json::Null;
            }
        }
    }
}

fn redact_module(module: &mut Json) {
    for resource in module.get_mut("resources").and_then(Json::as_array_mut).into_iter().flatten() {
        let mask = resource.get("sensitive_values").cloned().unwrap_or(Json::Bool(false));
        if let Some(values) = resource.get_mut("values") {
            mask_value(values, &mask);
        }
    }
    for child in module.get_mut("child_modules").and_then(Json::as_array_mut).into_iter().flatten()
    {
        redact_module(child);
    }
}

/// Nulls the parts of `value` that `mask` marks `true` (a mask mirrors the value's shape).
fn mask_value(value: &mut Json, mask: &Json) {
    match (mask, value) {
        (Json::Bool(true), value) => *value = Json::Null,
        (Json::Object(mask), Json::Object(map)) => {
            for (key, inner) in mask {
                if let Some(value) = map.get_mut(key) {
                    mask_value(value, inner);
                }
            }
        }
        (Json::Array(mask), Json::Array(items)) => {
            for (inner, value) in mask.iter().zip(items.iter_mut()) {
                mask_value(value, inner);
            }
        }
        _ => {}
    }
}

/// `summary.json`: one component's saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub version: u32,
    pub address: String,
    /// The input hash the plan was made for; `apply` uses the plan only while it matches.
    pub input_hash: String,
    /// The fingerprint's parts and files, to say what changed since.
    pub parts: BTreeMap<String, String>,
    pub files: BTreeMap<String, String>,
    /// Seconds since the Unix epoch.
    pub made: u64,
    pub changes: PlanChanges,
    /// Upstream outputs it was planned with that are mocks (`ADDR.outputs.NAME`), or
    /// planned values of an upstream not applied yet.
    pub assumed: Vec<String>,
    /// Whether the binary plan is kept (not for secret-bearing components).
    pub saved: bool,
    /// Not planned: why it waits for an upstream's apply (then nothing else is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// A step that `apply` would run: what it runs (a step has no resource changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would_run: Option<String>,
    /// What the component's policies said of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<evaluator::Verdict>,
}

impl PlanSummary {
    /// The summary of a component that could not be planned yet.
    pub(crate) fn pending(address: &str, why: &str, made: u64) -> PlanSummary {
        PlanSummary {
            version: PLAN_VERSION,
            address: address.to_owned(),
            input_hash: String::new(),
            parts: BTreeMap::new(),
            files: BTreeMap::new(),
            made,
            changes: PlanChanges::default(),
            assumed: Vec::new(),
            saved: false,
            pending: Some(why.to_owned()),
            would_run: None,
            verdicts: Vec::new(),
        }
    }
}

impl PlanSummary {
    /// The summary of a step that `apply` would run (`what`), made for `fingerprint`.
    pub(crate) fn would_run(
        address: &str,
        what: &str,
        fingerprint: &crate::fingerprint::Fingerprint,
        assumed: &[String],
        made: u64,
    ) -> PlanSummary {
        PlanSummary {
            input_hash: fingerprint.hash.clone(),
            parts: fingerprint.parts.clone(),
            files: fingerprint.files.clone(),
            assumed: assumed.to_vec(),
            pending: None,
            would_run: Some(what.to_owned()),
            ..PlanSummary::pending(address, "", made)
        }
    }
}

/// Writes a component's plan artefacts (replacing older ones). `plan_json` is Terraform's
/// JSON of the plan, already scrubbed of secrets; the binary plan is moved in from `tfplan`
/// when given.
pub(crate) fn save(
    layout: &Layout,
    summary: &PlanSummary,
    plan_json: &str,
    tfplan: Option<&Path>,
) -> std::io::Result<()> {
    let dir = layout.plan_dir(&summary.address);
    fs::create_dir_all(&dir)?;
    store::fsutil::set_mode(&dir, 0o700)?;
    let _ = fs::remove_file(dir.join(SUMMARY_FILE));
    match tfplan {
        // The binary plan holds what Terraform's state holds (sensitive values too): 0600.
        Some(path) if path != dir.join(PLAN_FILE) => {
            fs::rename(path, dir.join(PLAN_FILE))?;
            store::fsutil::set_mode(&dir.join(PLAN_FILE), 0o600)?;
        }
        Some(_) => {}
        None => {
            let _ = fs::remove_file(dir.join(PLAN_FILE));
        }
    }
    store::fsutil::write_atomic(&dir.join(JSON_FILE), plan_json.as_bytes(), false)?;
    store::fsutil::set_mode(&dir.join(JSON_FILE), 0o600)?;
    // The summary last: a plan directory without it is not a plan.
    let text = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    store::fsutil::write_atomic(&dir.join(SUMMARY_FILE), text.as_bytes(), true)
}

/// The saved plan summary of `address`, if there is a readable one of this version.
pub fn load(layout: &Layout, address: &str) -> Option<PlanSummary> {
    let bytes = fs::read(layout.plan_dir(address).join(SUMMARY_FILE)).ok()?;
    let summary: PlanSummary = serde_json::from_slice(&bytes).ok()?;
    (summary.version == PLAN_VERSION && summary.address == address).then_some(summary)
}

/// Terraform's JSON of the saved plan of `address`.
pub fn load_json(layout: &Layout, address: &str) -> Option<Json> {
    serde_json::from_slice(&fs::read(layout.plan_dir(address).join(JSON_FILE)).ok()?).ok()
}

/// The binary plan file of `address`, if kept.
pub(crate) fn tfplan(layout: &Layout, address: &str) -> Option<std::path::PathBuf> {
    let path = layout.plan_dir(address).join(PLAN_FILE);
    path.is_file().then_some(path)
}

/// Removes the plan of `address` (applied, or made obsolete).
pub(crate) fn discard(layout: &Layout, address: &str) {
    let _ = fs::remove_dir_all(layout.plan_dir(address));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resource_and_output_changes() {
        let plan: Json = serde_json::json!({
            "resource_changes": [
                { "address": "a.x", "change": { "actions": ["create"] } },
                { "address": "a.y", "change": { "actions": ["delete", "create"] } },
                { "address": "a.z", "change": { "actions": ["no-op"] } },
                { "address": "a.w", "change": { "actions": ["delete"] } }
            ],
            "output_changes": {
                "id": { "actions": ["update"], "before": "1", "after": "2", "after_unknown": false,
                        "before_sensitive": false, "after_sensitive": false },
                "later": { "actions": ["update"], "before": "1", "after_unknown": true,
                           "before_sensitive": false, "after_sensitive": false },
                "same": { "actions": ["no-op"], "before": "1", "after": "1" },
                "pw": { "actions": ["create"], "after": "hunter2", "after_unknown": false,
                        "after_sensitive": true, "before_sensitive": false }
            }
        });
        let changes = PlanChanges::from_show_json(&plan);
        assert_eq!(changes.counts(), (2, 0, 2));
        assert!(changes.destroys());
        let by_name: BTreeMap<&str, &OutputChange> =
            changes.outputs.iter().map(|o| (o.name.as_str(), o)).collect();
        assert_eq!(by_name.len(), 3, "no-op outputs are left out");
        assert_eq!(by_name["id"].after, Some(Json::from("2")));
        assert!(by_name["later"].unknown && by_name["later"].after.is_none());
        assert!(by_name["pw"].sensitive && by_name["pw"].after.is_none(), "never kept");
        assert!(!changes.is_empty());
        assert!(PlanChanges::default().is_empty());
    }

    #[test]
    fn sensitive_values_are_redacted() {
        let mut plan: Json = serde_json::json!({
            "variables": { "pw": { "value": "v-secret" }, "name": { "value": "web" } },
            "configuration": { "root_module": { "variables": { "pw": { "sensitive": true }, "name": {} } } },
            "output_changes": {
                "o": { "actions": ["update"], "before": "o-old", "after": "o-new",
                       "before_sensitive": true, "after_sensitive": true },
                "plain": { "actions": ["update"], "before": "a", "after": "b",
                           "before_sensitive": false, "after_sensitive": false }
            },
            "planned_values": {
                "outputs": { "o": { "sensitive": true, "value": "o-new" } },
                "root_module": { "resources": [ { "values": { "password": "r-secret", "id": "1" },
                                                  "sensitive_values": { "password": true } } ] }
            },
            "resource_changes": [ { "address": "x.y", "change": {
                "actions": ["update"], "before": { "password": "r-old", "tags": ["t"] },
                "after": { "password": "r-secret", "tags": ["t"] },
                "before_sensitive": { "password": true }, "after_sensitive": { "password": true } } } ]
        });
        redact(&mut plan, &["name".to_owned()]);
        let text = plan.to_string();
        for secret in ["v-secret", "o-old", "o-new", "r-secret", "r-old"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(plan["variables"]["name"]["value"], Json::Null, "passed privately");
        for kept in ["\"a\"", "\"b\"", "\"t\""] {
            assert!(text.contains(kept), "{kept} lost from {text}");
        }
    }

    #[test]
    fn reads_the_resource_changes_of_a_json_stream() {
        let stream = concat!(
            r#"{"@message":"Terraform 1.0.3","type":"version"}"#,
            "\n",
            r#"{"change":{"resource":{"addr":"null_resource.a"},"action":"replace"},"type":"planned_change"}"#,
            "\n",
            r#"{"change":{"resource":{"addr":"null_resource.b"},"action":"noop"},"type":"planned_change"}"#,
            "\n",
            r#"{"changes":{"add":1,"change":0,"remove":1},"type":"change_summary"}"#,
            "\n"
        );
        let changes = PlanChanges::from_json_stream(stream);
        assert_eq!(
            changes.resources,
            vec![ResourceChange { address: "null_resource.a".into(), action: Action::Replace }]
        );
        assert_eq!(changes.counts(), (1, 0, 1));
    }
}
