//! `s3://bucket/prefix`: an S3 bucket or any S3-compatible server, through object_store.
//! Credentials, region and endpoint come from the standard AWS environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`, web
//! identity and instance metadata as object_store reads them); `AWS_ENDPOINT_URL_S3` or
//! `AWS_ENDPOINT_URL` names an S3-compatible server, addressed path-style, and may be plain
//! HTTP only on a loopback address (or with `AWS_ALLOW_HTTP=true`). Conditional writes use
//! `If-None-Match: *` and `If-Match: ETAG`, which S3 has had since 2024.

use std::time::Duration;

use object_store::{
    ClientOptions, ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
    aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut},
    path::Path,
};

use crate::cache::{BoxFuture, CacheError, RemoteCache, Versioned, check_key};

pub struct S3Cache {
    store: AmazonS3,
    url: String,
    prefix: String,
}

impl S3Cache {
    /// The cache at `url`, configured by the process's AWS environment.
    pub fn new(url: &str) -> Result<S3Cache, CacheError> {
        S3Cache::configured(url, &[])
    }

    /// The cache at `url`, configured by the process's AWS environment and then `settings`
    /// (`("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")`, …: the same names).
    #[allow(clippy::disallowed_methods)] // the AWS environment is the configuration
    pub fn configured(url: &str, settings: &[(&str, &str)]) -> Result<S3Cache, CacheError> {
        let setting = |name: &str| {
            settings
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| std::env::var(name).ok())
                .filter(|v| !v.is_empty())
        };
        let rest = url.strip_prefix("s3://").unwrap_or(url).trim_end_matches('/');
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(CacheError(format!("`{url}` names no bucket (`s3://BUCKET/PREFIX`)")));
        }
        let options = ClientOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(30));
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(20),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_virtual_hosted_style_request(false)
            .with_client_options(options)
            .with_retry(retry);
        for (name, value) in settings {
            if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, *value);
            }
        }
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
            .iter()
            .find_map(|name| setting(name));
        if let Some(endpoint) = &endpoint {
            builder = builder.with_endpoint(endpoint);
            if is_loopback(endpoint) {
                builder = builder.with_allow_http(true);
            }
        }
        if setting("AWS_REGION").is_none() && setting("AWS_DEFAULT_REGION").is_none() {
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(|e| CacheError(format!("`{url}`: {e}")))?;
        let prefix = prefix.trim_matches('/').to_owned();
        Ok(S3Cache { store, url: url.trim_end_matches('/').to_owned(), prefix })
    }

    fn path(&self, key: &str) -> Result<Path, CacheError> {
        check_key(key)?;
        let full =
            if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) };
        Path::parse(&full).map_err(|e| CacheError(format!("`{key}` is not a cache key: {e}")))
    }

    fn failure(&self, what: &str, key: &str, error: object_store::Error) -> CacheError {
        if error.to_string().contains("<Code>NoSuchBucket</Code>") {
            return CacheError(format!("{what} `{}/{key}`: the bucket does not exist", self.url));
        }
        CacheError(format!("{what} `{}/{key}`: {error}", self.url))
    }
}

/// A missing key (a missing bucket is an error: every key would be missing).
fn is_missing(error: &object_store::Error) -> bool {
    matches!(error, object_store::Error::NotFound { .. })
        && !error.to_string().contains("<Code>NoSuchBucket</Code>")
}

/// `http://127.0.0.1:…`, `http://localhost…`, `http://[::1]…`.
fn is_loopback(endpoint: &str) -> bool {
    let host = endpoint.strip_prefix("http://").unwrap_or_default();
    ["127.", "localhost", "[::1]"].iter().any(|h| host.starts_with(h))
}

impl RemoteCache for S3Cache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async move { Ok(self.get_versioned(key).await?.map(|(bytes, _)| bytes)) })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(|e| self.failure("PUT", key, e))?;
            Ok(())
        })
    }

    fn has<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            match self.store.head(&path).await {
                Ok(_) => Ok(true),
                Err(e) if is_missing(&e) => Ok(false),
                Err(e) => Err(self.failure("HEAD", key, e)),
            }
        })
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn conditional(&self) -> bool {
        true
    }

    fn get_versioned<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Versioned>, CacheError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let result = match self.store.get(&path).await {
                Ok(result) => result,
                Err(e) if is_missing(&e) => return Ok(None),
                Err(e) => return Err(self.failure("GET", key, e)),
            };
            let version = result.meta.e_tag.clone().ok_or_else(|| {
                CacheError(format!("GET `{}/{key}`: the server sent no ETag", self.url))
            })?;
            let bytes = result.bytes().await.map_err(|e| self.failure("GET", key, e))?;
            Ok(Some((bytes.to_vec(), version)))
        })
    }

    fn put_if<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, CacheError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let mode = match expected {
                None => PutMode::Create,
                Some(e_tag) => {
                    PutMode::Update(UpdateVersion { e_tag: Some(e_tag.to_owned()), version: None })
                }
            };
            let options = PutOptions { mode, ..PutOptions::default() };
            match self.store.put_opts(&path, PutPayload::from(bytes), options).await {
                Ok(result) => result.e_tag.map(Some).ok_or_else(|| {
                    CacheError(format!("PUT `{}/{key}`: the server sent no ETag", self.url))
                }),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. }
                    | object_store::Error::NotFound { .. },
                ) => Ok(None),
                Err(e) => Err(self.failure("conditional PUT", key, e)),
            }
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            match self.store.delete(&path).await {
                Ok(()) => Ok(()),
                Err(e) if is_missing(&e) => Ok(()),
                Err(e) => Err(self.failure("DELETE", key, e)),
            }
        })
    }
}
