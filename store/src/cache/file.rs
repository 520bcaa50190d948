//! `file:///dir`: a shared directory. Writes are atomic (a temporary beside the key, rename).

use std::path::PathBuf;

use crate::cache::{BoxFuture, CacheError, RemoteCache, check_key};

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
            crate::fsutil::write_atomic(&path, &bytes, true).map_err(error)
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
}
