//! The records manifest (`index/records`): every address's latest sealed record in one
//! object, so that a fresh machine reads them all in one request instead of one per
//! component. Each push merges its records in with a conditional write (retried when another
//! machine wrote in between), so no update is lost; a backend without conditional writes
//! (plain HTTP) keeps no manifest and is read record by record. Within the manifest a record
//! replaces another only if it is newer (`replaces`), as when pulling. A push writes the
//! manifest before `refs/` (and `refs/` only once the manifest took its records), so the
//! manifest, which readers trust, is never older than `refs/`; a push that cannot write it
//! shares nothing, like a push to a cache that is down. (An infra from before the manifest
//! writes only `refs/`: do not mix it with this one on one cache.)

use std::{collections::BTreeMap, time::Duration};

use serde_json::value::RawValue;

use super::{Counter, replaces};
use crate::record::RunRecord;

pub(super) const MANIFEST: &str = "index/records";

/// How long a push keeps trying its conditional write while other machines write theirs.
const PATIENCE: Duration = Duration::from_secs(60);

/// The index as stored: each sealed record kept as the raw JSON it was written as (10,000
/// records are 10 MB: a JSON tree of them, and re-serialising each, was most of a pull).
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    version: u32,
    records: BTreeMap<String, Box<RawValue>>,
}

/// The sealed records the manifest holds, by address (`None`: there is none, or it cannot
/// be read).
pub(super) async fn read(counter: &Counter) -> Option<BTreeMap<String, Box<RawValue>>> {
    let bytes = counter.get(MANIFEST).await?;
    records_of(&bytes)
}

fn records_of(bytes: &[u8]) -> Option<BTreeMap<String, Box<RawValue>>> {
    serde_json::from_slice::<Manifest>(bytes).ok().map(|m| m.records)
}

/// Merges `sealed` (address → sealed record, as bytes) into the manifest. `Err`: why it could
/// not (the caller shares nothing then).
pub(super) async fn merge(
    counter: &Counter,
    sealed: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let start = std::time::Instant::now();
    let mut attempt: u64 = 0;
    while start.elapsed() < PATIENCE {
        attempt += 1;
        let current = counter.get_versioned(MANIFEST).await?;
        let (mut records, version) = match current {
            Some((bytes, version)) => (records_of(&bytes).unwrap_or_default(), Some(version)),
            None => (BTreeMap::new(), None),
        };
        let mut changed = false;
        for (address, envelope) in sealed {
            let newer = match records.get(address).and_then(|raw| record_of(raw.get())) {
                Some(existing) => {
                    record_of_bytes(envelope).is_some_and(|r| replaces(&existing, &r))
                }
                None => true,
            };
            let raw = String::from_utf8(envelope.clone())
                .ok()
                .and_then(|t| RawValue::from_string(t).ok());
            if let (true, Some(raw)) = (newer, raw) {
                records.insert(address.clone(), raw);
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        let body =
            serde_json::to_vec(&Manifest { version: 1, records }).map_err(|e| e.to_string())?;
        if counter.put_if(MANIFEST, body, version.as_deref()).await?.is_some() {
            return Ok(());
        }
        // Someone wrote in between: read again, after a pause that grows (to a second) and
        // differs between machines (the process id, the clock).
        let jitter = u64::from(std::process::id() % 13)
            + u64::from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_micros())
                    % 17,
            );
        let pause = (5 * attempt).min(1000) + jitter;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    Err(format!(
        "`{MANIFEST}` kept changing for {} s while this run wrote to it",
        PATIENCE.as_secs()
    ))
}

fn record_of_bytes(envelope: &[u8]) -> Option<RunRecord> {
    std::str::from_utf8(envelope).ok().and_then(record_of)
}

fn record_of(envelope: &str) -> Option<RunRecord> {
    #[derive(serde::Deserialize)]
    struct Sealed {
        record: RunRecord,
    }
    serde_json::from_str::<Sealed>(envelope).ok().map(|s| s.record)
}
