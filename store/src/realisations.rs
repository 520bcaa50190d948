//! Realisations — which object a derivation was built to — as one append-only log,
//! `.realisations.log`, a line `DERIVATION-HEX OBJECT` each, read once per process into a
//! map. It replaced a file per realisation: a no-op build of 10,000 components opened and
//! read 10,000 of them, and a cold build allocated 10,000 inodes for them. Appends are single
//! `O_APPEND` writes of one short line, which do not interleave on a local filesystem; a line
//! a crash tore does not parse and is skipped (a miss: that work directory is built again). A
//! process does not see what others append after it read the log: a miss again, and the same
//! object. `gc` rewrites the log with the live entries under the store's exclusive lock.
//! Stores made before the log keep their `.realisations/HEX` files, read on a miss.

use std::{
    collections::HashMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use crate::{digest::Digest, error::StoreError, local::ObjectName};

/// The log's file name in the store.
const LOG: &str = ".realisations.log";

/// The realisations of one store, loaded when first asked.
#[derive(Debug, Default)]
pub(crate) struct Realisations {
    map: Mutex<Option<HashMap<String, ObjectName>>>,
}

impl Realisations {
    /// The object `derivation` was realised to, by the log (or a file of an older store).
    pub(crate) fn get(&self, root: &Path, derivation: &Digest) -> Option<ObjectName> {
        let hex = derivation.to_hex();
        if let Ok(mut map) = self.map.lock() {
            let map = map.get_or_insert_with(|| read_log(root));
            if let Some(object) = map.get(&hex) {
                return Some(object.clone());
            }
        }
        let text = fs::read_to_string(legacy_dir(root).join(&hex)).ok()?;
        ObjectName::parse(text.trim())
    }

    /// Appends a realisation (fsynced unless `deferred`: a batch syncs it).
    pub(crate) fn add(
        &self,
        root: &Path,
        derivation: &Digest,
        object: &ObjectName,
        deferred: bool,
    ) -> Result<(), StoreError> {
        let hex = derivation.to_hex();
        let path = root.join(LOG);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        file.write_all(format!("{hex} {object}\n").as_bytes())
            .map_err(|e| StoreError::io(&path, e))?;
        if !deferred {
            file.sync_data().map_err(|e| StoreError::io(&path, e))?;
        }
        if let Ok(mut map) = self.map.lock()
            && let Some(map) = map.as_mut()
        {
            map.insert(hex, object.clone());
        }
        Ok(())
    }

    /// Keeps only the realisations whose object `live` accepts: the log rewritten (atomically),
    /// the files of an older store folded into it and removed. Under the exclusive lock.
    pub(crate) fn retain(
        &self,
        root: &Path,
        live: impl Fn(&ObjectName) -> bool,
    ) -> Result<(), StoreError> {
        let mut entries = read_log(root);
        let legacy = legacy_dir(root);
        let mut folded = Vec::new();
        for entry in fs::read_dir(&legacy).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Only realisations (64 hex digits); a temporary being written is not one.
            if name.len() != 64 {
                continue;
            }
            if let Some(object) =
                fs::read_to_string(entry.path()).ok().and_then(|t| ObjectName::parse(t.trim()))
            {
                entries.entry(name).or_insert(object);
            }
            folded.push(entry.path());
        }
        entries.retain(|_, object| live(object));
        let mut lines: Vec<String> =
            entries.iter().map(|(hex, object)| format!("{hex} {object}\n")).collect();
        lines.sort();
        let path = root.join(LOG);
        crate::fsutil::write_atomic(&path, lines.concat().as_bytes(), true)
            .map_err(|e| StoreError::io(&path, e))?;
        for file in folded {
            let _ = fs::remove_file(file);
        }
        if let Ok(mut map) = self.map.lock() {
            *map = Some(entries);
        }
        Ok(())
    }
}

fn legacy_dir(root: &Path) -> PathBuf {
    root.join(".realisations")
}

/// The log's entries; the last line for a derivation wins, lines that do not parse are
/// skipped.
fn read_log(root: &Path) -> HashMap<String, ObjectName> {
    let text = fs::read_to_string(root.join(LOG)).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (hex, object) = line.split_once(' ')?;
            let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
            valid.then(|| Some((hex.to_owned(), ObjectName::parse(object)?))).flatten()
        })
        .collect()
}
