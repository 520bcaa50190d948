//! Run records: what the last successful apply of a component saw and produced. Written
//! atomically after the apply, read to decide whether a component is up to date. A versioned
//! JSON wire type; outputs marked sensitive by Terraform are kept as a hash only.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use evaluator::Json;
use serde::{Deserialize, Serialize};

/// The record format's version.
pub(crate) const RECORD_VERSION: u32 = 1;

/// The last successful apply of one component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub version: u32,
    pub address: String,
    /// The input hash the apply ran with (hex).
    pub input_hash: String,
    /// What went into that hash, for `infra why`: the work-directory derivation, each input
    /// value read from an upstream output, the tool and its version.
    pub inputs: BTreeMap<String, String>,
    /// The work-directory object.
    pub workdir: String,
    /// Per file of the work directory: its node hash (hex), for `infra why`.
    pub files: BTreeMap<String, String>,
    /// Non-sensitive outputs, by name.
    pub outputs: BTreeMap<String, Json>,
    /// Sensitive outputs: the blake3 of their JSON value only.
    pub sensitive_outputs: BTreeMap<String, String>,
    pub tool: String,
    pub tool_version: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub finished: u64,
    /// Unique to the run that wrote it (two runs in one second differ): what a node that
    /// runs again after this one (`rerunAfter`, a wait) compares.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run: String,
    /// What its policies said of the plan it applied (warnings: a deny stops the apply).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<evaluator::Verdict>,
    /// Set when an apply or destroy began after this record and did not finish: Terraform
    /// may have changed things, so the component is not up to date whatever its inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// When it was marked incomplete (seconds since the epoch): a record pulled from a cache
    /// replaces an incomplete one only if it finished later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_since: Option<u64>,
}

/// Where the record of `STACK/NAME` lives under the project root.
impl RunRecord {
    /// This run, as a node that runs again after it sees it.
    pub(crate) fn run_id(&self) -> String {
        match self.run.as_str() {
            "" => format!("{}@{}-{}", self.input_hash, self.started, self.finished),
            run => format!("{}@{run}", self.input_hash),
        }
    }
}

/// A new run id: the time in nanoseconds, the process and a counter, hashed.
pub(crate) fn new_run_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let seed = format!("{nanos}:{}:{count}", std::process::id());
    store::Digest::of(seed.as_bytes()).to_hex()[..16].to_owned()
}

pub fn record_path(project_root: &Path, address: &str) -> PathBuf {
    crate::layout::Layout::new(project_root).record(address)
}

/// The record of `address`, if there is a readable one of this version.
pub fn read_record(project_root: &Path, address: &str) -> Option<RunRecord> {
    let bytes = fs::read(record_path(project_root, address)).ok()?;
    let record: RunRecord = serde_json::from_slice(&bytes).ok()?;
    (record.version == RECORD_VERSION && record.address == address).then_some(record)
}

/// The part of a record a run needs to call a node up to date (and the outputs it then hands
/// on): read for every node up front, without the rest's maps (a no-op plan of 10,000 held
/// them all at once).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RecordHead {
    version: u32,
    address: String,
    pub(crate) input_hash: String,
    pub(crate) outputs: BTreeMap<String, Json>,
    #[serde(default)]
    pub(crate) incomplete: Option<String>,
    // Present, as `RunRecord` requires them (a record without them is no record), but not
    // kept.
    #[serde(rename = "inputs")]
    _inputs: serde::de::IgnoredAny,
    #[serde(rename = "workdir")]
    _workdir: serde::de::IgnoredAny,
    #[serde(rename = "files")]
    _files: serde::de::IgnoredAny,
    #[serde(rename = "sensitive_outputs")]
    _sensitive_outputs: serde::de::IgnoredAny,
    #[serde(rename = "tool")]
    _tool: serde::de::IgnoredAny,
    #[serde(rename = "tool_version")]
    _tool_version: serde::de::IgnoredAny,
    #[serde(rename = "started")]
    _started: serde::de::IgnoredAny,
    #[serde(rename = "finished")]
    _finished: serde::de::IgnoredAny,
}

/// The head of the record of `address`, if there is a valid one (as `read_record` says).
pub(crate) fn read_head(project_root: &Path, address: &str) -> Option<RecordHead> {
    let bytes = fs::read(record_path(project_root, address)).ok()?;
    let head: RecordHead = serde_json::from_slice(&bytes).ok()?;
    (head.version == RECORD_VERSION && head.address == address).then_some(head)
}

/// Writes a record atomically (a temporary beside it, fsync, rename).
pub(crate) fn write_record(project_root: &Path, record: &RunRecord) -> std::io::Result<()> {
    write_record_with(project_root, record, true)
}

/// Writes a record atomically; `durable`: fsync before the rename (a record fetched from a
/// cache can be fetched again, so it skips that cost).
pub(crate) fn write_record_with(
    project_root: &Path,
    record: &RunRecord,
    durable: bool,
) -> std::io::Result<()> {
    let path = record_path(project_root, &record.address);
    let dir = path.parent().unwrap_or(project_root);
    fs::create_dir_all(dir)?;
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    store::fsutil::write_atomic(&path, text.as_bytes(), durable)
}

/// Marks the record of `address` (if any) incomplete, durably, before Terraform changes
/// anything.
pub(crate) fn mark_incomplete(
    project_root: &Path,
    address: &str,
    why: &str,
) -> std::io::Result<()> {
    let Some(mut record) = read_record(project_root, address) else { return Ok(()) };
    record.incomplete = Some(why.to_owned());
    record.incomplete_since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    write_record(project_root, &record)
}

/// The value a component reads from an upstream's record: a plain output as it is, a
/// sensitive one as its marker (its value is read from the upstream's state when needed).
pub(crate) fn recorded_value(project_root: &Path, read: &evaluator::OutputRef) -> Option<Json> {
    let record = read_record(project_root, &read.address)?;
    if let Some(value) = record.outputs.get(&read.output) {
        return Some(value.clone());
    }
    let digest = record.sensitive_outputs.get(&read.output)?;
    Some(Json::String(crate::resolve::sensitive_marker(read, digest)))
}

/// Removes the record of `address` (after a destroy).
pub(crate) fn remove_record(project_root: &Path, address: &str) -> std::io::Result<()> {
    match fs::remove_file(record_path(project_root, address)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The first line of a failure note that names the input hash of the run that failed.
const FAILED_WITH: &str = "input-hash ";

/// A failure note: the input hash of the run that failed (when it got that far), then why.
pub(crate) fn failure_note(input_hash: &Option<String>, message: &str) -> String {
    match input_hash {
        Some(hash) => format!("{FAILED_WITH}{hash}\n{message}"),
        None => message.to_owned(),
    }
}

/// A failure note's input hash (if it names one) and message.
pub(crate) fn read_failure_note(note: &str) -> (Option<&str>, &str) {
    match note.strip_prefix(FAILED_WITH).and_then(|rest| rest.split_once('\n')) {
        Some((hash, message)) => (Some(hash), message),
        None => (None, note),
    }
}

/// Where the failure of the last run of `STACK/NAME` is noted (removed when it next succeeds).
pub(crate) fn failure_path(project_root: &Path, address: &str) -> PathBuf {
    crate::layout::Layout::new(project_root).failure(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's head is read only where the whole record would be: a record missing a
    /// field is no record, so its node is never called up to date by its head alone.
    #[test]
    fn a_head_is_read_exactly_where_the_record_is() {
        let dir = tempfile::tempdir().unwrap();
        let whole = serde_json::json!({
            "version": RECORD_VERSION, "address": "dev/app", "input_hash": "abc",
            "inputs": {}, "workdir": "w", "files": {}, "outputs": { "id": "x" },
            "sensitive_outputs": {}, "tool": "terraform", "tool_version": "1.0.3",
            "started": 1, "finished": 2,
        });
        let path = record_path(dir.path(), "dev/app");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, whole.to_string()).unwrap();
        let head = read_head(dir.path(), "dev/app").unwrap();
        assert!(read_record(dir.path(), "dev/app").is_some());
        assert_eq!((head.input_hash.as_str(), head.outputs.len()), ("abc", 1));
        assert!(read_head(dir.path(), "dev/other").is_none(), "another address");
        for missing in ["workdir", "files", "tool", "sensitive_outputs", "input_hash"] {
            let mut part = whole.clone();
            part.as_object_mut().unwrap().remove(missing);
            fs::write(&path, part.to_string()).unwrap();
            assert!(read_record(dir.path(), "dev/app").is_none(), "{missing}");
            assert!(read_head(dir.path(), "dev/app").is_none(), "{missing}");
        }
    }
}
