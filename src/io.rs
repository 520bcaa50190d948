//! The real `EvalIo`: the file system, the process environment and stderr for traces.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use evaluator::EvalIo;

/// The real file system and environment. Keeps the blake3 of every file it read, for the
/// evaluation cache.
#[derive(Clone, Default)]
pub(crate) struct RealIo {
    pub(crate) read: Arc<Mutex<BTreeMap<PathBuf, String>>>,
}

impl EvalIo for RealIo {
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let bytes = std::fs::read(path)?;
        if let Ok(mut read) = self.read.lock() {
            read.insert(path.to_path_buf(), blake3::hash(&bytes).to_hex().to_string());
        }
        Ok(bytes)
    }

    fn path_exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(String, &'static str)>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let file_type = entry.file_type()?;
            let kind = if file_type.is_symlink() {
                "symlink"
            } else if file_type.is_dir() {
                "directory"
            } else if file_type.is_file() {
                "regular"
            } else {
                "unknown"
            };
            entries.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        Ok(entries)
    }

    #[allow(clippy::disallowed_methods)]
    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    #[allow(clippy::print_stderr)]
    fn trace(&self, message: &str) {
        eprintln!("{message}");
    }
}
