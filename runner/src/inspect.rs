//! `infra status` and `infra why`: compare each component's current inputs with its last
//! successful apply without running anything. Upstream outputs are the recorded ones; the tool
//! version is the cached one (`.infra/cache/tools.json`), asked once when there is none.

use std::{collections::BTreeMap, path::Path};

use evaluator::{Json, OutputRef, Project};

use crate::{
    build::BuildReport,
    fingerprint::Change,
    layout::Layout,
    record::{failure_path, read_failure_note, read_record},
    resolve::resolve_inputs,
    tool::{ToolEnv, find_tool, probed_version},
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
    /// The last run of it was interrupted after it began (the message).
    Interrupted(String),
    /// Its own inputs are as recorded, but a component it reads from is not up to date: it may
    /// change when that one is applied (`infra plan` says).
    UpstreamChanged(String),
}

/// When a component was last checked for drift (seconds since the epoch) and whether it had
/// drifted.
pub type Checked = Option<(u64, bool)>;

/// The state of every built node (and hook), and when each was last checked for drift.
pub fn status(
    project: &Project,
    build: &BuildReport,
    root: &Path,
    env: &ToolEnv,
) -> Vec<(String, State, Checked)> {
    let layout = Layout::new(root);
    // Every built node, and the hooks of every built component.
    let built: Vec<String> = project
        .components()
        .filter(|c| build.workdir_of(c).is_some())
        .map(|c| c.address())
        .collect();
    let mut out = built
        .iter()
        .map(|address| {
            let note = std::fs::read_to_string(failure_path(root, address));
            let state = match note.as_deref().map(read_failure_note) {
                Ok((_, message)) if message.starts_with("stopped by a signal") => {
                    State::Interrupted(message.trim().to_owned())
                }
                // A run of other inputs than those of its last apply failed, and the inputs are
                // those of its last apply again, which is complete (an apply marks the record
                // incomplete before it changes anything): a run skips it, as `why` says. A
                // failure of the applied inputs themselves (a drift check, a refresh, a
                // destroy) stands.
                Ok((Some(failed), message)) => {
                    let applied = read_record(root, address).map(|r| r.input_hash);
                    match why(project, build, root, env, address).as_deref() {
                        Some([]) if applied.is_some_and(|a| a != failed) => State::UpToDate,
                        _ => State::Failed(message.trim().to_owned()),
                    }
                }
                Ok((None, message)) => State::Failed(message.trim().to_owned()),
                Err(_) => match why(project, build, root, env, address).as_deref() {
                    None | Some([Change::NeverApplied]) => State::NeverApplied,
                    Some([]) => State::UpToDate,
                    Some(_) => State::Changed,
                },
            };
            let checked = std::fs::read(layout.checked(address))
                .ok()
                .and_then(|b| serde_json::from_slice::<Json>(&b).ok())
                .and_then(|j| Some((j.get("at")?.as_u64()?, j.get("drifted")?.as_bool()?)));
            (address.clone(), state, checked)
        })
        .collect::<Vec<_>>();
    // "Up to date" only when everything it reads is: otherwise it waits on an upstream.
    let mut states: BTreeMap<String, State> =
        out.iter().map(|(a, s, _)| (a.clone(), s.clone())).collect();
    loop {
        let mut changed = false;
        for component in project.components() {
            let address = component.address();
            if states.get(&address) != Some(&State::UpToDate) {
                continue;
            }
            let stale = component.depends_on.iter().find(|d| {
                states.get(*d).is_some_and(|s| *s != State::UpToDate)
                    || (!states.contains_key(*d) && read_record(root, d).is_none())
            });
            if let Some(upstream) = stale {
                states.insert(address, State::UpstreamChanged(upstream.clone()));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (address, state, _) in &mut out {
        if let Some(new) = states.remove(address) {
            *state = new;
        }
    }
    out
}

/// What differs between `address`'s current inputs and its last successful apply (empty: up
/// to date; `[NeverApplied]` without a record); `None` if it is not in the build.
pub fn why(
    project: &Project,
    build: &BuildReport,
    root: &Path,
    env: &ToolEnv,
    address: &str,
) -> Option<Vec<Change>> {
    let record = read_record(root, address);
    let component = project.component(address);
    let (Some(component), Some(built)) = (component, component.and_then(|c| build.workdir_of(c)))
    else {
        return record.map(|_| vec![Change::Gone]);
    };
    let Some(record) = record else { return Some(vec![Change::NeverApplied]) };
    let mut values: BTreeMap<OutputRef, Json> = BTreeMap::new();
    let mut reasons = Vec::new();
    if let Some(why) = &record.incomplete {
        reasons.push(Change::Incomplete(why.clone()));
    }
    for read in &component.reads {
        match crate::record::recorded_value(root, read) {
            Some(value) => {
                values.insert(read.clone(), value);
            }
            None => reasons.push(Change::UpstreamUnknown {
                address: read.address.clone(),
                output: read.output.clone(),
            }),
        }
    }
    let resolved = resolve_inputs(component, &values).unwrap_or_default();
    // A step runs no tool of infra's choosing.
    let tool = component.terraform().map(|t| t.tool.as_deref());
    let program = tool.and_then(|tool| find_tool(env, tool).ok());
    let version = program
        .as_ref()
        .and_then(|p| probed_version(&Layout::new(root), p))
        .unwrap_or_else(|| "unknown".to_owned());
    let fingerprint = crate::fingerprint::current(
        root,
        project,
        component,
        built,
        &values,
        &resolved,
        program.as_deref(),
        &version,
    );
    let fingerprint = match fingerprint {
        Ok(fingerprint) => fingerprint,
        Err(why) => {
            reasons.push(Change::Unreadable(why));
            return Some(reasons);
        }
    };
    if fingerprint.hash != record.input_hash {
        reasons.extend(fingerprint.changes_since(&record.inputs, &record.files));
    }
    Some(reasons)
}
