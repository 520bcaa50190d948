//! Garbage collection: removes objects no root names, realisations of removed objects, and
//! temporaries left by interrupted writes.

use std::{fs, time::Duration};

use crate::{
    error::StoreError,
    local::{ObjectName, Store, remove_tree},
};

/// Temporaries younger than this may belong to a running build.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// What `gc` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub kept: usize,
    pub removed: Vec<ObjectName>,
    pub bytes_freed: u64,
}

impl Store {
    /// Removes every object not named by a root (`.roots/*`).
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        let _lock = self.lock(true)?;
        let live = self.roots()?;
        let mut report = GcReport::default();
        for object in self.objects()? {
            if live.contains(&object) {
                report.kept += 1;
                continue;
            }
            let path = self.path(&object);
            report.bytes_freed += size_of(&path);
            remove_tree(&path)?;
            report.removed.push(object);
        }
        self.realisations.retain(self.root(), |object| self.contains(object))?;
        // Temporaries: in the store (earlier versions), in each thread's directory and beside
        // the batches' markers.
        let temp_root = self.root().join(".tmp");
        let mut entries: Vec<_> =
            fs::read_dir(self.root()).map_err(|e| StoreError::io(self.root(), e))?.collect();
        for dir in fs::read_dir(&temp_root).into_iter().flatten().flatten() {
            entries.extend(fs::read_dir(dir.path()).into_iter().flatten());
        }
        entries.extend(fs::read_dir(crate::batch::markers_dir(self.root())).into_iter().flatten());
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(self.root(), e))?;
            let is_temporary = entry.file_name().to_str().is_some_and(|n| n.starts_with(".tmp-"));
            let age =
                entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if is_temporary && age.is_some_and(|age| age > STALE_TEMPORARY) {
                remove_tree(&entry.path())?;
            }
        }
        Ok(report)
    }
}

fn size_of(path: &std::path::Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|entries| entries.filter_map(Result::ok).map(|e| size_of(&e.path())).sum())
        .unwrap_or(0)
}
