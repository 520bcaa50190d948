//! `infra status` and `infra why`: compare each component's current inputs with its last
//! successful apply without running anything. Upstream outputs are the recorded ones; the tool
//! version is the cached one (`.infra/cache/tools.json`).

use std::{collections::BTreeMap, path::Path};

use evaluator::{Json, OutputRef, Project};

use crate::{
    build::BuildReport,
    record::{failure_path, read_record},
    resolve::resolve_inputs,
    run::input_hash,
    tool::{ToolEnv, find_tool},
};

/// Where a component stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    UpToDate,
    /// Something it depends on differs from its last apply (see `why`).
    Changed,
    NeverApplied,
    /// The last run of it failed (the message).
    Failed(String),
}

/// The state of every built component.
pub fn status(
    project: &Project,
    build: &BuildReport,
    root: &Path,
    env: &ToolEnv,
) -> Vec<(String, State)> {
    build
        .components
        .iter()
        .map(|built| {
            let state = match std::fs::read_to_string(failure_path(root, &built.address)) {
                Ok(message) => State::Failed(message.trim().to_owned()),
                Err(_) => match why(project, build, root, env, &built.address) {
                    None => State::NeverApplied,
                    Some(reasons) if reasons.is_empty() => State::UpToDate,
                    Some(_) => State::Changed,
                },
            };
            (built.address.clone(), state)
        })
        .collect()
}

/// What differs between `address`'s current inputs and its last successful apply, one line
/// each (empty: up to date); `None` if it was never applied.
pub fn why(
    project: &Project,
    build: &BuildReport,
    root: &Path,
    env: &ToolEnv,
    address: &str,
) -> Option<Vec<String>> {
    let record = read_record(root, address)?;
    let (Some(component), Some(built)) =
        (project.component(address), build.components.iter().find(|b| b.address == address))
    else {
        return Some(vec!["it is no longer in the project".to_owned()]);
    };
    let mut values: BTreeMap<OutputRef, Json> = BTreeMap::new();
    let mut reasons = Vec::new();
    for read in &component.reads {
        match read_record(root, &read.address).and_then(|r| r.outputs.get(&read.output).cloned()) {
            Some(value) => {
                values.insert(read.clone(), value);
            }
            None => reasons.push(format!(
                "upstream `{}` has no recorded output `{}`",
                read.address, read.output
            )),
        }
    }
    let resolved = resolve_inputs(component, &values).unwrap_or_default();
    let program = find_tool(env, component.tool.as_deref()).ok();
    let tool_name = program
        .as_ref()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let version = program
        .as_ref()
        .and_then(|p| cached_version(root, p))
        .unwrap_or_else(|| "unknown".to_owned());
    let fingerprints = crate::run::secret_fingerprints(component).unwrap_or_default();
    let (hash, inputs) =
        input_hash(component, built, &values, &resolved, &fingerprints, &tool_name, &version);
    if hash == record.input_hash && reasons.is_empty() {
        return Some(Vec::new());
    }
    // Files first (they explain a changed work directory), then inputs, outputs, the tool.
    let current_files: BTreeMap<String, String> =
        built.files.iter().map(|(k, v)| (k.clone(), v.to_hex())).collect();
    for (name, digest) in &current_files {
        match record.files.get(name) {
            None => reasons.push(format!("file `{name}` is new")),
            Some(old) if old != digest => reasons.push(format!("file `{name}` changed")),
            _ => {}
        }
    }
    for name in record.files.keys().filter(|n| !current_files.contains_key(*n)) {
        reasons.push(format!("file `{name}` is gone"));
    }
    for (key, value) in &inputs {
        if key == "workdir" {
            continue;
        }
        let label = describe_key(key);
        match record.inputs.get(key) {
            None => reasons.push(format!("{label} is new: {value}")),
            Some(old) if old != value => reasons.push(format!("{label} changed: {old} → {value}")),
            _ => {}
        }
    }
    for key in record.inputs.keys().filter(|k| !inputs.contains_key(*k)) {
        reasons.push(format!("{} is gone", describe_key(key)));
    }
    Some(reasons)
}

fn describe_key(key: &str) -> String {
    if let Some(name) = key.strip_prefix("input:") {
        format!("input `{name}`")
    } else if let Some(output) = key.strip_prefix("output:") {
        format!("upstream output `{}`", output.replace('#', ".outputs."))
    } else {
        format!("`{key}`")
    }
}

fn cached_version(root: &Path, program: &Path) -> Option<String> {
    let cache: BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(root.join(".infra/cache/tools.json")).ok()?).ok()?;
    let meta = std::fs::metadata(program).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    cache.get(&format!("{}:{}:{modified}", program.display(), meta.len())).cloned()
}
