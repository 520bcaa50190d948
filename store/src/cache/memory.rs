//! An in-memory cache, for tests of everything above the backends.

use std::{collections::BTreeMap, sync::Mutex};

use crate::cache::{
    BoxFuture, CacheError, RemoteCache, Versioned, by_content, check_key, content_version,
};

#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl RemoteCache for MemoryCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            Ok(self.entries.lock().ok().and_then(|e| e.get(key).cloned()))
        })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            if let Ok(mut entries) = self.entries.lock() {
                entries.insert(key.to_owned(), bytes);
            }
            Ok(())
        })
    }

    fn has<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            Ok(self.entries.lock().is_ok_and(|e| e.contains_key(key)))
        })
    }

    fn url(&self) -> String {
        "memory://".to_owned()
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
            let Ok(mut entries) = self.entries.lock() else { return Ok(None) };
            let current = entries.get(key).map(|b| content_version(b));
            if current.as_deref() != expected {
                return Ok(None);
            }
            let version = content_version(&bytes);
            entries.insert(key.to_owned(), bytes);
            Ok(Some(version))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            if let Ok(mut entries) = self.entries.lock() {
                entries.remove(key);
            }
            Ok(())
        })
    }
}
