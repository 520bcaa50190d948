//! `http(s)://host/prefix`: GET, PUT and HEAD of `prefix/key`, with short timeouts, so that a
//! cache that is down slows a run by at most a timeout. 404 is a miss.

use std::time::Duration;

use crate::cache::{BoxFuture, CacheError, RemoteCache, check_key};

pub struct HttpCache {
    base: String,
    client: reqwest::Client,
}

impl HttpCache {
    pub fn new(url: &str) -> Result<HttpCache, CacheError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CacheError(format!("cannot make an HTTP client: {e}")))?;
        Ok(HttpCache { base: url.trim_end_matches('/').to_owned(), client })
    }

    fn at(&self, key: &str) -> String {
        format!("{}/{key}", self.base)
    }
}

fn failure(what: &str, url: &str, error: impl std::fmt::Display) -> CacheError {
    CacheError(format!("{what} `{url}`: {error}"))
}

impl RemoteCache for HttpCache {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            let url = self.at(key);
            let response =
                self.client.get(&url).send().await.map_err(|e| failure("GET", &url, e))?;
            match response.status().as_u16() {
                200 => {
                    Ok(Some(response.bytes().await.map_err(|e| failure("GET", &url, e))?.to_vec()))
                }
                404 => Ok(None),
                status => Err(failure("GET", &url, format!("HTTP {status}"))),
            }
        })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            let url = self.at(key);
            let response = self
                .client
                .put(&url)
                .body(bytes)
                .send()
                .await
                .map_err(|e| failure("PUT", &url, e))?;
            match response.status().as_u16() {
                200..=299 => Ok(()),
                status => Err(failure("PUT", &url, format!("HTTP {status}"))),
            }
        })
    }

    fn has<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            check_key(key)?;
            let url = self.at(key);
            let response =
                self.client.head(&url).send().await.map_err(|e| failure("HEAD", &url, e))?;
            match response.status().as_u16() {
                200 => Ok(true),
                404 => Ok(false),
                status => Err(failure("HEAD", &url, format!("HTTP {status}"))),
            }
        })
    }

    fn url(&self) -> String {
        self.base.clone()
    }
}
