//! The cache settings of a project: the URL (`--cache`, else `INFRA_CACHE`, else the file
//! `.infra-cache` at the project root), the signing key (`INFRA_CACHE_SIGNING_KEY`: the key,
//! or a file holding it) and the trusted public keys (`.infra-cache-keys`, one per line).
//! Credentials come from the environment only, never from the project's files.

use runner::Trust;

use crate::{ctx::Ctx, error::CliError, output::Output};

/// The cache URL to use, if any: `file:///dir` (or a bare absolute path, a directory),
/// `http(s)://…` or `s3://bucket/prefix`. Anything else is an error, not a run without a
/// cache: a mistyped URL would silently stop sharing.
#[allow(clippy::disallowed_methods)]
pub(crate) fn cache_url(ctx: &Ctx, flag: Option<&str>) -> Result<Option<String>, CliError> {
    let (url, from) = if let Some(url) = flag {
        (url.to_owned(), "`--cache`")
    } else if let Ok(url) = std::env::var("INFRA_CACHE")
        && !url.is_empty()
    {
        (url, "`INFRA_CACHE`")
    } else {
        let Ok(text) = std::fs::read_to_string(ctx.root.join(".infra-cache")) else {
            return Ok(None);
        };
        let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
        let Some(line) = line else { return Ok(None) };
        (line.to_owned(), "`.infra-cache`")
    };
    if url.starts_with('/') {
        return Ok(Some(format!("file://{url}")));
    }
    let known = ["file://", "http://", "https://", "s3://"];
    if known.iter().any(|scheme| url.starts_with(scheme)) {
        return Ok(Some(url));
    }
    // Credentials written into the URL are not repeated (the message reaches CI logs).
    let shown = match url.rsplit_once('@') {
        Some((before, host)) => {
            let scheme = before.split_once("://").map_or(String::new(), |(s, _)| format!("{s}://"));
            format!("{scheme}…@{host}")
        }
        None => url.clone(),
    };
    Err(CliError::user(
        "infra::cache::bad_url",
        format!("{from} gives `{shown}`, which is not a cache URL"),
    )
    .with_hint(
        "use `file:///dir` (or an absolute path), `http(s)://host/prefix` or `s3://bucket/prefix`"
            .into(),
    ))
}

/// The signing key and the trusted keys.
#[allow(clippy::disallowed_methods)]
pub(crate) fn trust(ctx: &Ctx) -> Result<Trust, CliError> {
    let signing_key = match std::env::var("INFRA_CACHE_SIGNING_KEY") {
        Ok(value) if !value.is_empty() => {
            let text = if runner::parse_key(&value).is_some() {
                value
            } else {
                std::fs::read_to_string(&value).map_err(|e| {
                    CliError::user(
                        "infra::cache::signing_key",
                        format!(
                            "`INFRA_CACHE_SIGNING_KEY` is neither a key nor a readable file: {e}"
                        ),
                    )
                })?
            };
            Some(runner::parse_key(&text).ok_or_else(|| {
                CliError::user(
                    "infra::cache::signing_key",
                    "`INFRA_CACHE_SIGNING_KEY` is not a key (64 hex digits)".into(),
                )
                .with_hint("make one with `infra cache keygen -o FILE`".into())
            })?)
        }
        _ => None,
    };
    let mut trusted = Vec::new();
    if let Ok(text) = std::fs::read_to_string(ctx.root.join(".infra-cache-keys")) {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            trusted.push(runner::parse_key(line).ok_or_else(|| {
                CliError::user(
                    "infra::cache::trusted_key",
                    format!(".infra-cache-keys:{}: not a public key (64 hex digits)", i + 1),
                )
            })?);
        }
    }
    Ok(Trust { signing_key, trusted })
}

/// Prints what a cache operation did and its warnings (a cache never fails a run).
pub(crate) fn report(
    out: &mut Output,
    what: &str,
    url: &str,
    report: &runner::CacheReport,
) -> Result<(), CliError> {
    for warning in &report.warnings {
        out.status(&format!("warning[infra::cache::unavailable]: {warning}"))?;
    }
    let requests = if report.requests == 1 { "request" } else { "requests" };
    out.status(&format!(
        "cache {what} `{url}`: {} {requests}, {} uploaded, {} downloaded",
        report.requests, report.uploaded, report.downloaded
    ))
}
