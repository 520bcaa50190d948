//! Batched durability: a build writes its objects, realisations and roots without an fsync
//! each (a thousand work directories were four seconds of fsyncs), and `Batch::commit` makes
//! them all durable with one `syncfs`. What a crash can leave is covered by a marker: before
//! its first write, `.batches/<pid>-<time>` is made durable, holding the time the batch began,
//! and locked (flock) for as long as the batch lives; the commit removes it. Opening the store
//! finds a marker nobody holds — its process died — and re-hashes every object written since
//! its time, removing those whose content is not their name's (a file the crash left empty or
//! short); realisations naming a removed object are then misses, and the next build writes
//! them again. The markers have a directory of their own: opening a store lists it, and the
//! store's root holds every object. Elsewhere than Linux (no `syncfs`) a batch writes durably as before.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use crate::{
    error::StoreError,
    local::{ObjectName, Store, node_digest, remove_tree},
};

/// Writes to a store, made durable together by `commit` (or when dropped).
pub struct Batch {
    store: Store,
}

/// A batch's marker, made by its first write (a build that writes nothing makes none).
#[derive(Debug, Default)]
pub(crate) struct BatchState {
    marker: Mutex<Option<(PathBuf, fs::File)>>,
}

impl Store {
    /// A batch of writes to this store (see the module documentation).
    pub fn batch(&self) -> Batch {
        let mut store = self.clone();
        if cfg!(target_os = "linux") {
            store.batch = Some(Arc::new(BatchState::default()));
        }
        Batch { store }
    }
}

impl BatchState {
    /// Makes the marker, if this is the batch's first write.
    pub(crate) fn begin(&self, root: &Path) -> Result<(), StoreError> {
        let Ok(mut marker) = self.marker.lock() else { return Ok(()) };
        if marker.is_some() {
            return Ok(());
        }
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let dir = markers_dir(root);
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        // Written and locked under a temporary name, then renamed: a marker that is visible is
        // always locked while its batch lives.
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io(&dir, e))?;
        temp.as_file().lock().map_err(|e| StoreError::io(temp.path(), e))?;
        writeln!(temp, "{}", since.as_nanos()).map_err(|e| StoreError::io(temp.path(), e))?;
        temp.as_file().sync_all().map_err(|e| StoreError::io(temp.path(), e))?;
        let name = format!("{}-{}", std::process::id(), since.as_nanos());
        let path = dir.join(name);
        let file = temp.persist(&path).map_err(|e| StoreError::io(&path, e.error))?;
        sync_dir(&dir)?;
        *marker = Some((path, file));
        Ok(())
    }
}

impl Batch {
    /// The store to write through.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Makes every write of the batch durable (one `syncfs`), then drops the marker.
    pub fn commit(self) -> Result<(), StoreError> {
        self.finish()
    }

    fn finish(&self) -> Result<(), StoreError> {
        let Some(state) = &self.store.batch else { return Ok(()) };
        let Ok(mut marker) = state.marker.lock() else { return Ok(()) };
        let Some((path, file)) = marker.take() else { return Ok(()) };
        syncfs(&file).map_err(|e| StoreError::io(self.store.root(), e))?;
        let _ = fs::remove_file(&path);
        Ok(())
    }

    /// What a process killed mid-batch leaves: the marker, unlocked. For tests.
    #[doc(hidden)]
    pub fn abandon(self) {
        if let Some(state) = &self.store.batch
            && let Ok(mut marker) = state.marker.lock()
        {
            drop(marker.take());
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        // A batch dropped on an error path still makes what it wrote durable.
        let _ = self.finish();
    }
}

#[cfg(target_os = "linux")]
fn syncfs(file: &fs::File) -> std::io::Result<()> {
    nix::unistd::syncfs(file).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn syncfs(_: &fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Where batches keep their markers.
pub(crate) fn markers_dir(root: &Path) -> PathBuf {
    root.join(".batches")
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(dir, e))
}

/// Repairs what batches whose process died left: see the module documentation.
pub(crate) fn recover(store: &Store) -> Result<(), StoreError> {
    let root = store.root();
    let dir = markers_dir(root);
    let markers: Vec<PathBuf> = if dir.is_dir() {
        crate::fsutil::names(&dir).iter().map(|n| dir.join(n)).collect()
    } else {
        // The first opening by a version that keeps markers in `.batches/`: an earlier one's
        // are in the store's root (`.batch-PID-TIME`).
        let earlier = fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".batch-"))
            .map(|e| e.path())
            .collect();
        fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        sync_dir(root)?;
        earlier
    };
    for marker in markers {
        let Ok(file) = fs::OpenOptions::new().read(true).write(true).open(&marker) else {
            continue; // removed by its commit meanwhile
        };
        if file.try_lock().is_err() {
            continue; // its batch is alive
        }
        let since = fs::read_to_string(&marker)
            .ok()
            .and_then(|t| t.trim().parse::<u128>().ok())
            .map(|nanos| UNIX_EPOCH + Duration::from_nanos(nanos as u64))
            .unwrap_or(UNIX_EPOCH);
        // A second of slack for filesystems with coarse timestamps.
        let since = since.checked_sub(Duration::from_secs(1)).unwrap_or(UNIX_EPOCH);
        for object in store.objects()? {
            let path = store.path(&object);
            let written = fs::symlink_metadata(&path).and_then(|m| m.modified());
            if written.is_ok_and(|t| t < since) {
                continue;
            }
            if !intact(&object, &path) {
                remove_tree(&path)?;
            }
        }
        // A root named by the hash of what it holds (`NAME@HASH`) is trusted by its name
        // afterwards: one the crash left short goes (the next build writes it again).
        let roots = root.join(".roots");
        for file in crate::fsutil::names(&roots).iter().filter(|n| n.contains('@')) {
            let file = roots.join(file);
            let written = fs::symlink_metadata(&file).and_then(|m| m.modified());
            if written.is_ok_and(|t| t < since) {
                continue;
            }
            if !crate::local::root_file_intact(&file) {
                let _ = fs::remove_file(&file);
            }
        }
        sync_dir(root)?;
        let _ = fs::remove_file(&marker);
    }
    Ok(())
}

/// Whether an object's content hashes to its name.
fn intact(object: &ObjectName, path: &Path) -> bool {
    node_digest(path).is_ok_and(|digest| digest.short() == object.hash_part())
}
