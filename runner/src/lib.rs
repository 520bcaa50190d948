//! The runner: turns an evaluated `Project` into content-addressed work directories
//! (`build`), renders the component graph (`graph`), resolves output placeholders
//! (`resolve`), and — with the runner issue — drives Terraform over the DAG.

pub mod approval;
mod build;
mod error;
mod fingerprint;
mod graph;
mod inspect;
mod layout;
mod lease;
pub mod plan;
pub mod policy;
mod process;
mod record;
mod resolve;
mod run;
pub mod secrets;
mod share;
mod targets;
pub mod time;
mod tool;
pub mod tool_diagnostics;
mod workdir;

pub use crate::{
    build::{BuildReport, BuiltComponent, build, build_with, export},
    error::{RunnerError, RunnerErrorKind},
    fingerprint::{Change, FileChange, Fingerprint},
    graph::{GraphFormat, render_graph},
    inspect::{Checked, State, status, why},
    layout::Layout,
    lease::{ESTATE_LOCK, RemoteLock},
    process::run_editor,
    record::{RunRecord, read_record, record_path},
    resolve::{pending, resolve_inputs, resolve_known, secret_inputs},
    run::{ComponentResult, Event, Failure, Mode, RunOptions, RunReport, Status, run},
    share::{CacheReport, Trust, cache_keygen, check, parse_key, pull_refs, push},
    targets::{select_components, unknown_component_help, with_upstreams},
    tool::{ToolEnv, find_tool},
};

/// `n` and the noun in the right number: `count(1, "component", "components")` is
/// `1 component`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
