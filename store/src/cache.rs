//! Remote caches: one trait, `RemoteCache` (GET, PUT, HEAD of keys), with a directory backend
//! (`file:///dir`), an HTTP backend (`http(s)://…`: plain GET/PUT/HEAD, the layout Bazel's
//! HTTP cache and nginx's WebDAV module serve) and an in-memory one for tests. Keys are
//! `cas/<hash>` (objects, a directory as one archive), `ac/<derivation hash>` (realisations)
//! and `refs/<stack>/<name>` (the latest apply record). A missing key is `Ok(None)`, never an
//! error. An S3 backend (object_store) fits the same trait.

mod archive;
mod contract;
mod file;
mod http;
mod memory;

use std::{fmt, future::Future, pin::Pin};

pub use self::{
    archive::{archive_object, unpack_object},
    contract::check_contract,
    file::FileCache,
    http::HttpCache,
    memory::MemoryCache,
};

/// A boxed future, so that `RemoteCache` can be a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A cache failure (the server is down, refused, or the directory is unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheError(pub String);

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CacheError {}

/// A key-value store of bytes reached by URL.
pub trait RemoteCache: Send + Sync {
    /// The bytes at `key`; `None` if there are none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>>;
    /// Stores `bytes` at `key` (idempotent).
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), CacheError>>;
    /// Whether `key` exists.
    fn has<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>>;
    /// The URL, for messages.
    fn url(&self) -> String;
}

/// The cache at `url`: `file:///dir` or `http(s)://host/prefix`.
pub fn open_cache(url: &str) -> Result<Box<dyn RemoteCache>, CacheError> {
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Box::new(FileCache::new(path.into())));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Box::new(HttpCache::new(url)?));
    }
    Err(CacheError(format!("`{url}` is not a cache URL (use `file:///dir` or `http(s)://…`)")))
}

/// Checks that a key is one of the layout's and safe as a path.
pub(crate) fn check_key(key: &str) -> Result<(), CacheError> {
    let valid = ["cas/", "ac/", "refs/"].iter().any(|p| key.starts_with(p))
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    if valid { Ok(()) } else { Err(CacheError(format!("`{key}` is not a cache key"))) }
}
