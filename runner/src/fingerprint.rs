//! A component's fingerprint: its input hash and the named parts that went into it, and the
//! typed list of what differs between two fingerprints. One module, used by the run (is it up
//! to date? does the saved plan still match?), `status`, `why` and `drift` alike, so they can
//! never disagree about what "changed" means (cargo's `Freshness`/`DirtyReason` is the model).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use evaluator::{Component, Json, Kind, OutputRef};
use store::Digest;

use crate::build::BuiltComponent;

/// What went into a component's input hash, by part:
/// `workdir` (the work-directory derivation: every file, generated ones included),
/// `tool` (program and version), `input:NAME` (each input value as passed),
/// `output:ADDR#NAME` (each upstream output read), `secret:NAME` (ciphertext fingerprints),
/// `state:ADDR` (the outputs of an upstream read with `infra.remoteState`), `ran:ADDR` (the
/// last run of a node it re-runs after), `run`/`check`/`env:NAME` (a step's), `requiredOutputs`.
/// (`hooks:STEP` is in records written before hooks became steps.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: String,
    pub parts: BTreeMap<String, String>,
    /// Per work-directory file: its node hash (hex). Not hashed again (the work-directory
    /// derivation covers them); kept to say which file changed.
    pub files: BTreeMap<String, String>,
}

/// Everything a fingerprint is made of.
struct FingerprintInputs<'a> {
    component: &'a Component,
    built: &'a BuiltComponent,
    values: &'a BTreeMap<OutputRef, Json>,
    resolved: &'a BTreeMap<String, Json>,
    secrets: &'a BTreeMap<String, String>,
    /// Per upstream read through `infra.remoteState`: the digest of its outputs.
    states: &'a BTreeMap<String, String>,
    /// A wait's: per node before it (directly or not), when its last run began and ended.
    ran: &'a BTreeMap<String, String>,
    tool_name: &'a str,
    tool_version: &'a str,
}

/// The fingerprint of a component now, given the upstream values it reads (`values`, and the
/// inputs resolved with them) and its tool (`None`: none found): the one place the run,
/// `status` and `why` compute it. Reads the secrets files (their ciphertext) and the records
/// of its `infra.remoteState` upstreams; an unreadable secrets file is an error.
#[allow(clippy::too_many_arguments)]
pub(crate) fn current(
    root: &std::path::Path,
    project: &evaluator::Project,
    component: &Component,
    built: &BuiltComponent,
    values: &BTreeMap<OutputRef, Json>,
    resolved: &BTreeMap<String, Json>,
    program: Option<&std::path::Path>,
    version: &str,
) -> Result<Fingerprint, String> {
    let tool_name = program
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let secrets = crate::run::secret_fingerprints(component)?;
    let states = state_digests(root, component);
    let ran = upstream_runs(root, project, component);
    Ok(Fingerprint::of(&FingerprintInputs {
        component,
        built,
        values,
        resolved,
        secrets: &secrets,
        states: &states,
        ran: &ran,
        tool_name: &tool_name,
        tool_version: version,
    }))
}

/// The digest of an upstream's outputs as a reader of its state sees them: plain values and
/// the digests of sensitive ones.
fn state_digest(plain: &BTreeMap<String, Json>, sensitive: &BTreeMap<String, String>) -> String {
    let both = serde_json::json!({ "outputs": plain, "sensitive": sensitive });
    Digest::of(both.to_string().as_bytes()).to_hex()
}

/// The nodes whose runs count in `component`'s fingerprint: for a wait, every node before it,
/// directly or not (readiness is a fact about now: a wait is checked again after any of them
/// ran, in this run or in one that stopped before the wait); for every node, its `rerunAfter`.
pub(crate) fn watched(project: &evaluator::Project, component: &Component) -> BTreeSet<String> {
    let mut watched: BTreeSet<String> = component.rerun_after.clone();
    if let Some(evaluator::Step { action: evaluator::Action::Wait { .. }, .. }) = component.step() {
        let mut todo: Vec<&String> = component.depends_on.iter().collect();
        while let Some(address) = todo.pop() {
            if watched.insert(address.clone())
                && let Some(upstream) = project.component(address)
            {
                todo.extend(upstream.depends_on.iter());
            }
        }
    }
    watched
}

/// Per watched node (see `watched`): its recorded run (`RunRecord::run_id`).
fn upstream_runs(
    root: &std::path::Path,
    project: &evaluator::Project,
    component: &Component,
) -> BTreeMap<String, String> {
    watched(project, component)
        .into_iter()
        .map(|address| {
            let when =
                crate::record::read_record(root, &address).map(|r| r.run_id()).unwrap_or_default();
            (address, when)
        })
        .collect()
}

/// Per `infra.remoteState` upstream of `component`: the digest of its recorded outputs (an
/// upstream applied earlier in the run has written its record already).
fn state_digests(root: &std::path::Path, component: &Component) -> BTreeMap<String, String> {
    component
        .state_reads()
        .map(|address| {
            let digest = crate::record::read_record(root, address)
                .map(|r| state_digest(&r.outputs, &r.sensitive_outputs))
                .unwrap_or_default();
            (address.clone(), digest)
        })
        .collect()
}

/// A Terraform component's own parts: its tool and version, the outputs of upstreams it reads
/// through `infra.remoteState` (Terraform reads them itself: they count whole).
fn terraform_parts(
    inputs: &FingerprintInputs<'_>,
    _terraform: &evaluator::Terraform,
    parts: &mut BTreeMap<String, String>,
) {
    parts.insert("tool".to_owned(), format!("{} {}", inputs.tool_name, inputs.tool_version));
    for (address, digest) in inputs.states {
        parts.insert(format!("state:{address}"), digest.clone());
    }
}

/// A step's own parts: what it runs (or checks) and its environment, as written (the upstream
/// values they read are `output:` parts already). Its `src` is the work directory.
fn step_parts(step: &evaluator::Step, parts: &mut BTreeMap<String, String>) {
    let action = match &step.action {
        evaluator::Action::Run(argv) => ("run", serde_json::to_string(argv)),
        evaluator::Action::Wait { check, .. } => ("check", serde_json::to_string(check)),
    };
    parts.insert(action.0.to_owned(), action.1.unwrap_or_default());
    for (key, value) in &step.env {
        parts.insert(format!("env:{key}"), value.to_string());
    }
}

impl Fingerprint {
    fn of(inputs: &FingerprintInputs<'_>) -> Fingerprint {
        let mut parts = BTreeMap::new();
        parts.insert("workdir".to_owned(), inputs.built.derivation.to_hex());
        for (key, value) in &inputs.component.inputs {
            let value = inputs.resolved.get(key).unwrap_or(value);
            parts.insert(format!("input:{key}"), value.to_string());
        }
        for (read, value) in inputs.values {
            parts.insert(format!("output:{}#{}", read.address, read.output), value.to_string());
        }
        // A secret counts by the hash of its file's ciphertext: rotating it re-plans its users.
        for (secret, fingerprint) in inputs.secrets {
            parts.insert(format!("secret:{secret}"), fingerprint.clone());
        }
        // What the apply must produce counts too (only when given, so a node without it keeps
        // its hash).
        let component = inputs.component;
        match &component.kind {
            Kind::Terraform(terraform) => terraform_parts(inputs, terraform, &mut parts),
            Kind::Step(step) => step_parts(step, &mut parts),
        }
        for (address, when) in inputs.ran {
            parts.insert(format!("ran:{address}"), when.clone());
        }
        if !component.required_outputs.is_empty() {
            let names: Vec<&str> = component.required_outputs.iter().map(String::as_str).collect();
            parts.insert("requiredOutputs".to_owned(), Json::from(names).to_string());
        }
        let hash = Digest::of(&serde_json::to_vec(&parts).unwrap_or_default()).to_hex();
        let files = inputs.built.files.iter().map(|(k, v)| (k.clone(), v.to_hex())).collect();
        Fingerprint { hash, parts, files }
    }

    /// What differs from `old` (empty: nothing). Files first (they explain a changed work
    /// directory), then inputs, upstream outputs, secrets, the tool.
    pub fn changes_since(
        &self,
        old_parts: &BTreeMap<String, String>,
        old_files: &BTreeMap<String, String>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        for (name, digest) in &self.files {
            match old_files.get(name) {
                None => changes.push(Change::File { name: name.clone(), how: FileChange::Added }),
                Some(old) if old != digest => {
                    changes.push(Change::File { name: name.clone(), how: FileChange::Changed })
                }
                _ => {}
            }
        }
        for name in old_files.keys().filter(|n| !self.files.contains_key(*n)) {
            changes.push(Change::File { name: name.clone(), how: FileChange::Removed });
        }
        if changes.is_empty() && old_parts.get("workdir") != self.parts.get("workdir") {
            changes.push(Change::WorkDir);
        }
        for (key, new) in &self.parts {
            if key == "workdir" {
                continue;
            }
            let old = old_parts.get(key);
            if old != Some(new) {
                changes.push(Change::part(key, old.cloned(), Some(new.clone())));
            }
        }
        for (key, old) in old_parts.iter().filter(|(k, _)| !self.parts.contains_key(*k)) {
            changes.push(Change::part(key, Some(old.clone()), None));
        }
        changes
    }
}

/// How a work-directory file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    Added,
    Changed,
    Removed,
}

/// One reason a component is not up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Never applied (no record).
    NeverApplied,
    /// The last apply or destroy began and did not finish: Terraform may have changed things.
    Incomplete(String),
    /// The component left the project.
    Gone,
    /// Its inputs cannot be read now (a secrets file, say): why.
    Unreadable(String),
    File {
        name: String,
        how: FileChange,
    },
    /// The work directory changed in a way no file explains (e.g. the exec bit).
    WorkDir,
    Input {
        name: String,
        old: Option<String>,
        new: Option<String>,
    },
    UpstreamOutput {
        address: String,
        output: String,
        old: Option<String>,
        new: Option<String>,
    },
    Secret {
        name: String,
    },
    UpstreamState {
        address: String,
    },
    Hooks {
        step: String,
        old: Option<String>,
        new: Option<String>,
    },
    RequiredOutputs {
        old: Option<String>,
        new: Option<String>,
    },
    /// A wait's: a node before it ran since it was last checked.
    UpstreamRan {
        address: String,
    },
    /// A step's own setting: `run`, `check` or `env.NAME`.
    Setting {
        name: String,
        old: Option<String>,
        new: Option<String>,
    },
    Tool {
        old: Option<String>,
        new: Option<String>,
    },
    /// An upstream this component reads has no recorded value for an output.
    UpstreamUnknown {
        address: String,
        output: String,
    },
}

impl Change {
    fn part(key: &str, old: Option<String>, new: Option<String>) -> Change {
        if let Some(name) = key.strip_prefix("input:") {
            Change::Input { name: name.to_owned(), old, new }
        } else if let Some(read) = key.strip_prefix("output:") {
            let (address, output) = read.split_once('#').unwrap_or((read, ""));
            Change::UpstreamOutput {
                address: address.to_owned(),
                output: output.to_owned(),
                old,
                new,
            }
        } else if let Some(name) = key.strip_prefix("secret:") {
            Change::Secret { name: name.to_owned() }
        } else if let Some(address) = key.strip_prefix("state:") {
            Change::UpstreamState { address: address.to_owned() }
        } else if let Some(step) = key.strip_prefix("hooks:") {
            Change::Hooks { step: step.to_owned(), old, new }
        } else if key == "requiredOutputs" {
            Change::RequiredOutputs { old, new }
        } else if let Some(name) = key.strip_prefix("env:") {
            Change::Setting { name: format!("env.{name}"), old, new }
        } else if let Some(address) = key.strip_prefix("ran:") {
            Change::UpstreamRan { address: address.to_owned() }
        } else if key == "run" || key == "check" {
            Change::Setting { name: key.to_owned(), old, new }
        } else {
            Change::Tool { old, new }
        }
    }

    /// A short stable name of the kind, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::NeverApplied => "never-applied",
            Change::Incomplete(_) => "incomplete",
            Change::Gone => "gone",
            Change::Unreadable(_) => "unreadable",
            Change::File { .. } | Change::WorkDir => "file",
            Change::Input { .. } => "input",
            Change::UpstreamOutput { .. } | Change::UpstreamUnknown { .. } => "upstream-output",
            Change::Secret { .. } => "secret",
            Change::UpstreamState { .. } => "upstream-output",
            Change::Hooks { .. } => "hooks",
            Change::RequiredOutputs { .. } => "required-outputs",
            Change::Setting { .. } => "setting",
            Change::UpstreamRan { .. } => "upstream-ran",
            Change::Tool { .. } => "tool",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let was = |f: &mut fmt::Formatter<'_>,
                   what: String,
                   old: &Option<String>,
                   new: &Option<String>| {
            match (old, new) {
                (None, Some(new)) => write!(f, "{what} is new: {new}"),
                (Some(_), None) => write!(f, "{what} is gone"),
                (Some(old), Some(new)) => write!(f, "{what} changed: {old} → {new}"),
                (None, None) => write!(f, "{what} changed"),
            }
        };
        match self {
            Change::NeverApplied => write!(f, "it was never applied"),
            Change::Incomplete(why) => write!(f, "the last run did not finish ({why})"),
            Change::Gone => write!(f, "it is no longer in the project"),
            Change::Unreadable(why) => write!(f, "its inputs cannot be read: {why}"),
            Change::File { name, how } => {
                let how = match how {
                    FileChange::Added => "is new",
                    FileChange::Changed => "changed",
                    FileChange::Removed => "is gone",
                };
                write!(f, "file `{name}` {how}")
            }
            Change::WorkDir => write!(f, "the work directory changed (file modes)"),
            Change::Input { name, old, new } => was(f, format!("input `{name}`"), old, new),
            Change::UpstreamOutput { address, output, old, new } => {
                was(f, format!("upstream output `{address}.outputs.{output}`"), old, new)
            }
            Change::Secret { name } => write!(f, "secret `{name}` changed"),
            Change::UpstreamState { address } => {
                write!(f, "the outputs of `{address}` (read with `infra.remoteState`) changed")
            }
            Change::Hooks { step, old, new } => was(f, format!("`hooks.{step}`"), old, new),
            Change::RequiredOutputs { old, new } => {
                was(f, "`requiredOutputs`".to_owned(), old, new)
            }
            Change::Setting { name, old, new } => was(f, format!("`{name}`"), old, new),
            Change::UpstreamRan { address } => {
                write!(f, "`{address}` ran since it was last checked")
            }
            Change::Tool { old, new } => {
                if new.as_deref() == Some(" unknown") {
                    write!(
                        f,
                        "no tool can be found (`INFRA_TF`, the component's `tool`, `tofu`, `terraform` on `PATH`)"
                    )
                } else if let Some(tool) = new.as_deref().and_then(|n| n.strip_suffix(" unknown")) {
                    let old = old.as_deref().unwrap_or("none");
                    write!(
                        f,
                        "the tool is `{tool}` of an unknown version (was {old}): it was not probed yet, or `{tool} version -json` failed"
                    )
                } else {
                    was(f, "the tool".to_owned(), old, new)
                }
            }
            Change::UpstreamUnknown { address, output } => {
                write!(f, "upstream `{address}` has no recorded output `{output}`")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn changes_are_typed_and_say_what_changed() {
        let old_parts = parts(&[
            ("workdir", "w1"),
            ("tool", "terraform 1.0.3"),
            ("input:cidr", "\"10.0.0.0/16\""),
            ("output:dev/net#id", "\"a\""),
            ("hooks:postApply", "[\"x\"]"),
        ]);
        let old_files = parts(&[("main.tf", "f1"), ("gone.tf", "g")]);
        let new = Fingerprint {
            hash: "h".into(),
            parts: parts(&[
                ("workdir", "w2"),
                ("tool", "terraform 1.0.4"),
                ("input:cidr", "\"10.9.0.0/16\""),
                ("output:dev/net#id", "\"b\""),
                ("secret:s.age#pw", "c2"),
            ]),
            files: parts(&[("main.tf", "f2"), ("new.tf", "n")]),
        };
        let changes: Vec<String> =
            new.changes_since(&old_parts, &old_files).iter().map(ToString::to_string).collect();
        assert_eq!(
            changes,
            [
                "file `main.tf` changed",
                "file `new.tf` is new",
                "file `gone.tf` is gone",
                "input `cidr` changed: \"10.0.0.0/16\" → \"10.9.0.0/16\"",
                "upstream output `dev/net.outputs.id` changed: \"a\" → \"b\"",
                "secret `s.age#pw` changed",
                "the tool changed: terraform 1.0.3 → terraform 1.0.4",
                "`hooks.postApply` is gone",
            ]
        );
        // Only the modes changed: the work directory says so.
        let same_files = Fingerprint { files: old_files.clone(), ..new.clone() };
        let only = same_files.changes_since(&parts(&[("workdir", "w1")]), &old_files);
        assert_eq!(only.first(), Some(&Change::WorkDir));
    }
}
