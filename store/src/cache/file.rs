//! `file:///dir`: a shared directory. Writes are atomic (a temporary beside the key, rename);
//! conditional writes hold an exclusive lock on `locks/.guard` (a version is the blake3 hash
//! of the bytes).

use std::path::PathBuf;

use crate::cache::{
    BoxFuture, CacheError, RemoteCache, Versioned, by_content, check_key, content_version,
};

pub struct FileCache {
    root: PathBuf,
}

impl FileCache {
    pub fn new(root: PathBuf) -> FileCache {
        FileCache { root }
    }
}

impl RemoteCache for FileCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            match std::fs::read(self.root.join(key)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(CacheError(format!(
                    "cannot read `{key}` from `{}`: {e}",
                    self.root.display()
                ))),
            }
        })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            let path = self.root.join(key);
            let error = |e: std::io::Error| {
                CacheError(format!("cannot write `{key}` to `{}`: {e}", self.root.display()))
            };
            std::fs::create_dir_all(path.parent().unwrap_or(&self.root)).map_err(error)?;
            // Readable by every user of a shared directory (a temporary file is private).
            crate::fsutil::write_atomic_mode(&path, &bytes, true, Some(0o644)).map_err(error)
        })
    }

    fn has<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            Ok(self.root.join(key).is_file())
        })
    }

    fn url(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn conditional(&self) -> bool {
        true
    }

    fn get_versioned<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Versioned>, CacheError>> {
        Box::pin(async move { Ok(self.get(key).await?.map(by_content)) })
    }

    fn put_if<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            let _guard = self.guard()?;
            let current = self.get_versioned(key).await?.map(|(_, v)| v);
            if current.as_deref() != expected {
                return Ok(None);
            }
            let version = content_version(&bytes);
            self.put(key, bytes).await?;
            Ok(Some(version))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            let _guard = self.guard()?;
            match std::fs::remove_file(self.root.join(key)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(CacheError(format!(
                    "cannot remove `{key}` from `{}`: {e}",
                    self.root.display()
                ))),
            }
        })
    }
}

impl FileCache {
    /// The exclusive lock conditional writes hold (released when dropped).
    fn guard(&self) -> Result<std::fs::File, CacheError> {
        let dir = self.root.join("locks");
        let error =
            |e: std::io::Error| CacheError(format!("cannot lock `{}/.guard`: {e}", dir.display()));
        std::fs::create_dir_all(&dir).map_err(error)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".guard"))
            .map_err(error)?;
        file.lock().map_err(error)?;
        Ok(file)
    }
}
