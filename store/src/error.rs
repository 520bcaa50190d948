//! Store errors: what failed, on which path.

use std::{fmt, io, path::PathBuf};

/// A failed store operation.
#[derive(Debug)]
pub struct StoreError {
    pub path: Option<PathBuf>,
    pub kind: StoreErrorKind,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// Reading or writing the file system failed.
    Io(io::Error),
    /// A file type the store does not hold (a socket, a device).
    UnsupportedFileType,
    /// A record or realisation that cannot be read back.
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: io::Error) -> StoreError {
        StoreError { path: Some(path.into()), kind: StoreErrorKind::Io(error) }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StoreErrorKind::Io(e) => write!(f, "{e}")?,
            StoreErrorKind::UnsupportedFileType => {
                write!(f, "not a regular file, directory or symbolic link")?
            }
            StoreErrorKind::Corrupt(what) => write!(f, "corrupt: {what}")?,
        }
        if let Some(path) = &self.path {
            write!(f, " (`{}`)", path.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreError {}
