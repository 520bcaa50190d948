//! Remote caches: one trait, `RemoteCache` (GET, PUT, HEAD of keys), with a directory backend
//! (`file:///dir`), an HTTP backend (`http(s)://…`: plain GET/PUT/HEAD, the layout Bazel's
//! HTTP cache and nginx's WebDAV module serve), an S3 backend (`s3://bucket/prefix`, through
//! object_store) and an in-memory one for tests. Keys are `cas/<hash>` (objects, a directory
//! as one archive), `ac/<derivation hash>` (realisations), `refs/<stack>/<name>` (the latest
//! apply record), `index/records` (every latest record in one object, for reading them in one
//! request) and `locks/<name>` (`lock`: a lease several machines contend for, built on
//! the conditional writes of the backends that have them — S3, a directory, memory). A
//! missing key is `Ok(None)`, never an error.

mod archive;
mod contract;
mod file;
mod http;
pub mod lock;
mod memory;
mod s3;

use std::{fmt, future::Future, pin::Pin};

pub use self::{
    archive::{archive_object, unpack_object},
    contract::{check_conditional_contract, check_contract},
    file::FileCache,
    http::HttpCache,
    memory::MemoryCache,
    s3::S3Cache,
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

/// Bytes and their version (an ETag; for a directory, the blake3 hash of the bytes).
pub type Versioned = (Vec<u8>, String);

/// Bytes with their content as version (the blake3 hash): for backends without ETags.
pub(crate) fn by_content(bytes: Vec<u8>) -> Versioned {
    let version = content_version(&bytes);
    (bytes, version)
}

pub(crate) fn content_version(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

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

    /// Whether `put_if` and `delete` work here (S3, a directory, memory; not plain HTTP).
    fn conditional(&self) -> bool {
        false
    }

    /// The bytes at `key` and their version (an ETag), for `put_if`.
    fn get_versioned<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Versioned>, CacheError>> {
        Box::pin(async move { Err(cannot_lock(&self.url(), key)) })
    }

    /// Stores `bytes` at `key` only if its version is `expected` (`None`: only if nothing is
    /// there), atomically; the new version, or `None` when the condition did not hold.
    fn put_if<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        let _ = (bytes, expected);
        Box::pin(async move { Err(cannot_lock(&self.url(), key)) })
    }

    /// Removes `key` (nothing there is not an error).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move { Err(cannot_lock(&self.url(), key)) })
    }
}

fn cannot_lock(url: &str, key: &str) -> CacheError {
    CacheError(format!(
        "the cache `{url}` has no conditional writes, so `{key}` cannot be a lock there \
         (use an `s3://` or `file://` cache)"
    ))
}

/// The cache at `url`: `file:///dir`, `http(s)://host/prefix` or `s3://bucket/prefix`.
pub fn open_cache(url: &str) -> Result<Box<dyn RemoteCache>, CacheError> {
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Box::new(FileCache::new(path.into())));
    }
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Box::new(HttpCache::new(url)?));
    }
    if url.starts_with("s3://") {
        return Ok(Box::new(S3Cache::new(url)?));
    }
    Err(CacheError(format!(
        "`{url}` is not a cache URL (use `file:///dir`, `http(s)://…` or `s3://bucket/prefix`)"
    )))
}

/// Checks that a key is one of the layout's and safe as a path.
pub(crate) fn check_key(key: &str) -> Result<(), CacheError> {
    let valid = ["cas/", "ac/", "refs/", "index/", "locks/"].iter().any(|p| key.starts_with(p))
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
    if valid { Ok(()) } else { Err(CacheError(format!("`{key}` is not a cache key"))) }
}
