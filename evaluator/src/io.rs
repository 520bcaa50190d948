//! `EvalIo`: the one door between the evaluator and the world.

use std::{io, path::Path};

/// Every effect the evaluator may have. The binary passes a real implementation; tests pass an
/// in-memory one.
pub trait EvalIo {
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>>;
    fn path_exists(&self, path: &Path) -> io::Result<bool>;
    /// The entries of a directory with their types (`"regular"`, `"directory"`, `"symlink"`,
    /// `"unknown"`), in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<(String, &'static str)>>;
    fn env_var(&self, name: &str) -> Option<String>;
    /// A message from `builtins.trace` or `builtins.warn`.
    fn trace(&self, message: &str);
    /// The memory the process holds now and the most it may hold, in bytes, where the
    /// platform tells: evaluation asks every so many steps and stops with an error past the
    /// limit. `None` (the default): no limit.
    fn memory(&self) -> Option<(u64, u64)> {
        None
    }
    /// Bytes allocated so far, never decreasing (roughly): when it has grown by enough since
    /// the last look, evaluation asks `memory`. `0` (the default): never.
    fn allocated(&self) -> usize {
        0
    }
}

/// Something an evaluation read, so that a cache knows when its result is stale.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Input {
    File(std::path::PathBuf),
    Dir(std::path::PathBuf),
    Exists(std::path::PathBuf),
    Env(String),
}
