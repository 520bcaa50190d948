//! The records manifest (`index/records`): every address's latest sealed record in one
//! object, so that a fresh machine reads them all in one request instead of one per
//! component. Each push merges its records in with a conditional write (retried when another
//! machine wrote in between), so no update is lost; a backend without conditional writes
//! (plain HTTP) keeps no manifest and is read record by record. Within the manifest a record
//! replaces another only if it is newer (`replaces`), as when pulling.

use std::{collections::BTreeMap, time::Duration};

use evaluator::Json;
use serde_json::json;

use super::{Counter, replaces};
use crate::record::RunRecord;

pub(super) const MANIFEST: &str = "index/records";

/// Attempts at a conditional write before giving up (with a growing pause between).
const ATTEMPTS: u32 = 40;

/// The sealed records the manifest holds, by address (`None`: there is none, or it cannot
/// be read).
pub(super) async fn read(counter: &Counter) -> Option<BTreeMap<String, Json>> {
    let bytes = counter.get(MANIFEST).await?;
    records_of(&bytes)
}

fn records_of(bytes: &[u8]) -> Option<BTreeMap<String, Json>> {
    let manifest: Json = serde_json::from_slice(bytes).ok()?;
    serde_json::from_value(manifest.get("records")?.clone()).ok()
}

/// Merges `sealed` (address → sealed record) into the manifest. `Err`: why it could not
/// (the caller warns: other machines may then read an older record of these addresses).
pub(super) async fn merge(
    counter: &Counter,
    sealed: &BTreeMap<String, Json>,
) -> Result<(), String> {
    for attempt in 0..ATTEMPTS {
        let current = counter.get_versioned(MANIFEST).await?;
        let (mut records, version) = match current {
            Some((bytes, version)) => (records_of(&bytes).unwrap_or_default(), Some(version)),
            None => (BTreeMap::new(), None),
        };
        let mut changed = false;
        for (address, envelope) in sealed {
            let newer = match records.get(address).and_then(record_of) {
                Some(existing) => record_of(envelope).is_some_and(|r| replaces(&existing, &r)),
                None => true,
            };
            if newer {
                records.insert(address.clone(), envelope.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        let body = json!({ "version": 1, "records": records }).to_string().into_bytes();
        if counter.put_if(MANIFEST, body, version.as_deref()).await?.is_some() {
            return Ok(());
        }
        // Someone wrote in between: read again, after a pause that grows and differs
        // between machines (the attempt number and the process id).
        let pause = 5 * u64::from(attempt + 1) + u64::from(std::process::id() % 7);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    Err(format!("`{MANIFEST}` changed {ATTEMPTS} times while this run wrote to it"))
}

fn record_of(envelope: &Json) -> Option<RunRecord> {
    serde_json::from_value(envelope.get("record")?.clone()).ok()
}
