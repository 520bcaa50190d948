//! A lease in a cache: `locks/NAME` holds who has it and until when. Taking it is a
//! create-if-absent write; a holder renews it (a write conditional on the version it wrote)
//! well before it expires; a lease that expired — its holder died or lost the network — is
//! taken over by a write conditional on the expired version, so of two contenders exactly
//! one wins. Releasing rewrites the lease as expired (conditionally, so a lock taken over is
//! never touched). Times are seconds since the epoch on each contender's clock: leases should be
//! long against the clock skew between machines (NTP keeps it under a second).

use serde::{Deserialize, Serialize};

use crate::cache::{CacheError, RemoteCache};

/// What a lock says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it, for people (`alice@ci-runner-7, pid 4242, infra apply`).
    pub holder: String,
    /// Unique to one holding (a run id), so that a holder recognises its own lock.
    pub token: String,
    /// When it was taken and until when it holds (seconds since the epoch).
    pub since: u64,
    pub expires: u64,
}

/// The outcome of one attempt to take a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Taken: the version written (for `renew` and `release`), and the expired lease it
    /// replaced, if any.
    Taken { version: String, expired: Option<Lease> },
    /// Someone else holds it.
    Held(Lease),
    /// It changed while we looked (released or taken over): try again.
    Raced,
}

/// One attempt to take the lock at `key` with `lease`, at time `now`.
pub async fn try_take(
    cache: &dyn RemoteCache,
    key: &str,
    lease: &Lease,
    now: u64,
) -> Result<Attempt, CacheError> {
    let bytes = encode(lease);
    if let Some(version) = cache.put_if(key, bytes.clone(), None).await? {
        return Ok(Attempt::Taken { version, expired: None });
    }
    let Some((current, version)) = cache.get_versioned(key).await? else {
        return Ok(Attempt::Raced);
    };
    // A lock that is not a lease (a crash mid-write cannot make one: writes are whole) is
    // treated as expired rather than blocking every run for ever.
    let current: Option<Lease> = serde_json::from_slice(&current).ok();
    match current {
        // Ours already: a create whose answer was lost took it.
        Some(held) if held.token == lease.token => Ok(Attempt::Taken { version, expired: None }),
        Some(held) if held.expires > now => Ok(Attempt::Held(held)),
        previous => {
            // A released lease (expired at 0) is free, not taken over.
            let expired = previous.filter(|l| l.expires != 0);
            match cache.put_if(key, bytes, Some(&version)).await? {
                Some(version) => Ok(Attempt::Taken { version, expired }),
                None => Ok(Attempt::Raced),
            }
        }
    }
}

/// Extends a held lock to `lease.expires`; the new version, or `None` if it was lost (taken
/// over after it expired).
pub async fn renew(
    cache: &dyn RemoteCache,
    key: &str,
    lease: &Lease,
    version: &str,
) -> Result<Option<String>, CacheError> {
    cache.put_if(key, encode(lease), Some(version)).await
}

/// Gives a held lock up: the lease is rewritten as expired, on the condition that it is still
/// the version we wrote (so a lock taken over meanwhile is left alone; nothing is deleted).
pub async fn release(
    cache: &dyn RemoteCache,
    key: &str,
    lease: &Lease,
    version: &str,
) -> Result<(), CacheError> {
    let expired = Lease { expires: 0, ..lease.clone() };
    cache.put_if(key, encode(&expired), Some(version)).await.map(|_| ())
}

/// The version of the lock at `key` if `token` holds it (a renewal whose answer was lost
/// still wrote it).
pub async fn version_if_ours(
    cache: &dyn RemoteCache,
    key: &str,
    token: &str,
) -> Result<Option<String>, CacheError> {
    Ok(cache.get_versioned(key).await?.and_then(|(bytes, version)| {
        serde_json::from_slice::<Lease>(&bytes).ok().filter(|l| l.token == token).map(|_| version)
    }))
}

fn encode(lease: &Lease) -> Vec<u8> {
    // Invariant: a struct of strings and integers always serialises.
    serde_json::to_vec_pretty(lease).unwrap_or_default()
}
