//! Sharing through a remote cache: `push` uploads work-directory objects (`cas/`), their
//! realisations (`ac/`) and the latest apply records (`refs/`), data first and records last;
//! `pull_refs` fetches the records of many components in one round of parallel requests;
//! `check` compares local build outputs with the cache's. Every fetched object is verified
//! against its hash. Records can be signed (ed25519); once a project lists trusted keys,
//! unsigned or wrongly signed records are ignored with a warning. A cache that fails or is
//! down produces warnings, never a failed run.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use ed25519_dalek::{Signer, Verifier};
use evaluator::Json;
use serde_json::json;
use store::{
    Digest, Store,
    cache::{RemoteCache, archive_object, open_cache},
};
use tokio::sync::Semaphore;

mod manifest;

use crate::{
    build::BuildReport,
    record::{RunRecord, read_record, write_record_with},
};

/// Requests in flight at once.
const PARALLEL: usize = 32;

/// Who may sign records, and the key to sign with.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The signing key (32-byte seed), from the environment.
    pub signing_key: Option<[u8; 32]>,
    /// Trusted public keys; empty: unsigned records are accepted.
    pub trusted: Vec<[u8; 32]>,
}

/// What a cache operation did.
#[derive(Debug, Clone, Default)]
pub struct CacheReport {
    pub requests: usize,
    pub uploaded: usize,
    pub downloaded: usize,
    /// Problems that did not stop anything (the cache is down, a record was rejected, …).
    pub warnings: Vec<String>,
}

/// A new signing key: (seed hex for `INFRA_CACHE_SIGNING_KEY`, public key hex).
pub fn cache_keygen() -> std::io::Result<(String, String)> {
    let mut seed = [0u8; 32];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok((hex(&seed), hex(key.verifying_key().as_bytes())))
}

/// Parses 64 hex digits (a key or a seed).
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    Digest::from_hex(text.trim()).map(|d| *d.as_bytes())
}

struct Counter {
    cache: Box<dyn RemoteCache>,
    requests: AtomicUsize,
    limit: Semaphore,
    warnings: Mutex<Vec<String>>,
}

impl Counter {
    fn warn(&self, message: String) {
        if let Ok(mut warnings) = self.warnings.lock() {
            warnings.push(message);
        }
    }
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let _permit = self.limit.acquire().await.ok()?;
        self.requests.fetch_add(1, Ordering::SeqCst);
        match self.cache.get(key).await {
            Ok(found) => found,
            Err(e) => {
                self.warn(e.to_string());
                None
            }
        }
    }
    async fn get_versioned(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, String> {
        let _permit = self.limit.acquire().await.map_err(|e| e.to_string())?;
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.cache.get_versioned(key).await.map_err(|e| e.to_string())
    }
    async fn put_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: Option<&str>,
    ) -> Result<Option<String>, String> {
        let _permit = self.limit.acquire().await.map_err(|e| e.to_string())?;
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.cache.put_if(key, bytes, expected).await.map_err(|e| e.to_string())
    }
    async fn has(&self, key: &str) -> bool {
        let Ok(_permit) = self.limit.acquire().await else { return false };
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.cache.has(key).await.unwrap_or(false)
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> bool {
        let Ok(_permit) = self.limit.acquire().await else { return false };
        self.requests.fetch_add(1, Ordering::SeqCst);
        match self.cache.put(key, bytes).await {
            Ok(()) => true,
            Err(e) => {
                self.warn(e.to_string());
                false
            }
        }
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
}

fn open(url: &str) -> Result<Arc<Counter>, String> {
    let cache = open_cache(url).map_err(|e| e.to_string())?;
    Ok(Arc::new(Counter {
        cache,
        requests: AtomicUsize::new(0),
        limit: Semaphore::new(PARALLEL),
        warnings: Mutex::new(Vec::new()),
    }))
}

fn finish(counter: &Counter, uploaded: usize, downloaded: usize) -> CacheReport {
    CacheReport {
        requests: counter.requests.load(Ordering::SeqCst),
        uploaded,
        downloaded,
        warnings: counter.warnings.lock().map(|w| w.clone()).unwrap_or_default(),
    }
}

fn failed(message: String) -> CacheReport {
    CacheReport { warnings: vec![message], ..CacheReport::default() }
}

/// Uploads the work directories of `build` (objects first, then realisations) and the records
/// of `addresses` (last).
pub fn push(
    url: &str,
    store: &Store,
    root: &Path,
    build: &BuildReport,
    addresses: &[String],
    trust: &Trust,
) -> CacheReport {
    let counter = match open(url) {
        Ok(counter) => counter,
        Err(message) => return failed(message),
    };
    let Ok(runtime) = runtime() else { return failed("cannot start the cache client".into()) };
    let uploaded = runtime.block_on(async {
        let mut uploaded = 0;
        // Objects: a HEAD each, then a PUT of the missing ones, in parallel.
        let mut tasks = Vec::new();
        for built in &build.components {
            let counter = counter.clone();
            let store = store.clone();
            let object = built.workdir.clone();
            let path = store.path(&object);
            tasks.push(tokio::spawn(async move {
                let digest = match store::hash_tree_dir(&path, &|_, _| true) {
                    Ok(tree) => tree.digest(),
                    Err(e) => {
                        counter.warn(e.to_string());
                        return None;
                    }
                };
                let key = format!("cas/{}", digest.to_hex());
                if counter.has(&key).await {
                    return Some((object, digest, false));
                }
                let archive = archive_object(&store, &object).ok()?;
                let put = counter.put(&key, archive).await;
                put.then_some((object, digest, true))
            }));
        }
        let mut done: BTreeMap<String, (String, Digest)> = BTreeMap::new();
        for (built, task) in build.components.iter().zip(tasks) {
            if let Ok(Some((object, digest, new))) = task.await {
                uploaded += usize::from(new);
                done.insert(built.derivation.to_hex(), (object.to_string(), digest));
            }
        }
        // Realisations, for the objects now in the cache.
        let mut tasks = Vec::new();
        for (derivation, (object, digest)) in done {
            let counter = counter.clone();
            let body =
                json!({ "object": object, "digest": digest.to_hex() }).to_string().into_bytes();
            tasks.push(tokio::spawn(async move {
                counter.put(&format!("ac/{derivation}"), body).await
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        // Records last: a record names inputs that are now all in the cache. Where the cache
        // keeps a records index, it is written first and is what readers trust; `refs/` is
        // then written only for records the index took, so the two never disagree.
        let mut sealed = BTreeMap::new();
        for address in addresses {
            let Some(record) = read_record(root, address) else { continue };
            sealed.insert(address.clone(), seal(&record, trust.signing_key.as_ref()));
        }
        if counter.cache.conditional()
            && !sealed.is_empty()
            && let Err(e) = manifest::merge(&counter, &sealed).await
        {
            let addresses: Vec<&str> = sealed.keys().map(String::as_str).collect();
            counter.warn(format!(
                "the records of {} were not shared ({e}); `infra cache push` tries again",
                addresses.join(", ")
            ));
            return uploaded;
        }
        let mut tasks = Vec::new();
        for (address, envelope) in sealed {
            let counter = counter.clone();
            let key = format!("refs/{address}");
            tasks.push(tokio::spawn(async move { counter.put(&key, envelope).await }));
        }
        for task in tasks {
            if let Ok(true) = task.await {
                uploaded += 1;
            }
        }
        uploaded
    });
    finish(&counter, uploaded, 0)
}

/// Fetches the records of `addresses` (one round of parallel requests) and keeps those that
/// are newer than the local ones and trusted.
pub fn pull_refs(url: &str, root: &Path, addresses: &[String], trust: &Trust) -> CacheReport {
    let counter = match open(url) {
        Ok(counter) => counter,
        Err(message) => return failed(message),
    };
    let Ok(runtime) = runtime() else { return failed("cannot start the cache client".into()) };
    let pulled = runtime.block_on(async {
        // One request for the manifest, then one per address it does not hold.
        let mut listed = if counter.cache.conditional() {
            manifest::read(&counter).await.unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        let tasks: Vec<_> = addresses
            .iter()
            .map(|address| {
                let counter = counter.clone();
                let key = format!("refs/{address}");
                let found = listed.remove(address);
                let trust = trust.clone();
                let address = address.clone();
                tokio::spawn(async move {
                    // An index entry that does not open (unsigned where keys are trusted,
                    // not this address's) does not hide the record under `refs/`.
                    if let Some(Ok(record)) =
                        found.map(|raw| open_envelope(raw.get().as_bytes(), &address, &trust))
                    {
                        return Some(Ok(record));
                    }
                    let bytes = counter.get(&key).await?;
                    Some(open_envelope(&bytes, &address, &trust))
                })
            })
            .collect();
        let mut pulled = Vec::new();
        for (address, task) in addresses.iter().zip(tasks) {
            let Ok(Some(opened)) = task.await else { continue };
            match opened {
                Ok(record) => pulled.push(record),
                Err(message) => {
                    counter.warn(format!("ignored the cached record of `{address}`: {message}"))
                }
            }
        }
        pulled
    });
    // Written in parallel (a fresh checkout of 10,000 writes 10,000 records). Newer wins;
    // within the same second (times are whole seconds), the cache's record of other inputs was
    // pushed after ours.
    use rayon::prelude::*;
    let downloaded = pulled
        .par_iter()
        .filter(|record| {
            let local = read_record(root, &record.address);
            local.as_ref().is_none_or(|l| replaces(l, record))
                && write_record_with(root, record, false).is_ok()
        })
        .count();
    finish(&counter, 0, downloaded)
}

/// For `build --check`: every built work directory whose output differs from the cache's
/// realisation of the same derivation.
pub fn check(url: &str, build: &BuildReport, store: &Store) -> (Vec<String>, CacheReport) {
    let counter = match open(url) {
        Ok(counter) => counter,
        Err(message) => return (Vec::new(), failed(message)),
    };
    let Ok(runtime) = runtime() else {
        return (Vec::new(), failed("cannot start the cache client".into()));
    };
    let mismatches = runtime.block_on(async {
        let tasks: Vec<_> = build
            .components
            .iter()
            .map(|built| {
                let counter = counter.clone();
                let key = format!("ac/{}", built.derivation.to_hex());
                tokio::spawn(async move { counter.get(&key).await })
            })
            .collect();
        let mut mismatches = Vec::new();
        for (built, task) in build.components.iter().zip(tasks) {
            let Ok(Some(bytes)) = task.await else { continue };
            let Ok(realisation) = serde_json::from_slice::<Json>(&bytes) else { continue };
            let ours = store::hash_tree_dir(&store.path(&built.workdir), &|_, _| true)
                .map(|t| t.digest().to_hex())
                .unwrap_or_default();
            if realisation["digest"].as_str() != Some(ours.as_str()) {
                mismatches.push(format!(
                    "`{}`: the cache has {} for this derivation, this build made {}",
                    built.address,
                    realisation["digest"].as_str().unwrap_or("?"),
                    ours
                ));
            }
        }
        mismatches
    });
    (mismatches, finish(&counter, 0, 0))
}

/// A record as stored under `refs/`: the record and, with a key, its signature.
fn seal(record: &RunRecord, key: Option<&[u8; 32]>) -> Vec<u8> {
    let body = serde_json::to_vec(record).unwrap_or_default();
    let signature = key.map(|seed| {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        json!({ "key": hex(key.verifying_key().as_bytes()), "value": hex(&key.sign(&body).to_bytes()) })
    });
    json!({ "version": 1, "record": serde_json::from_slice::<Json>(&body).unwrap_or(Json::Null), "signature": signature })
        .to_string()
        .into_bytes()
}

/// A sealed record as the cache holds it.
#[derive(serde::Deserialize)]
struct Envelope {
    record: RunRecord,
    #[serde(default)]
    signature: Option<Signature>,
}

#[derive(serde::Deserialize)]
struct Signature {
    key: String,
    value: String,
}

fn open_envelope(bytes: &[u8], address: &str, trust: &Trust) -> Result<RunRecord, String> {
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() { "not JSON".to_owned() } else { "not a record".to_owned() }
    })?;
    let record = envelope.record;
    if record.address != address {
        return Err(format!("it is the record of `{}`", record.address));
    }
    if trust.trusted.is_empty() {
        return Ok(record);
    }
    let Some(Signature { key, value }) = &envelope.signature else {
        return Err("it is not signed, and the project lists trusted keys".to_owned());
    };
    let key = parse_key(key).ok_or("a malformed key")?;
    if !trust.trusted.contains(&key) {
        return Err("it is signed by a key the project does not trust".to_owned());
    }
    let value = from_hex(value).ok_or("a malformed signature")?;
    let signature =
        ed25519_dalek::Signature::from_slice(&value).map_err(|_| "a malformed signature")?;
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| "a malformed key")?;
    let body = serde_json::to_vec(&record).unwrap_or_default();
    verifying.verify(&body, &signature).map_err(|_| "its signature does not match".to_owned())?;
    Ok(record)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    text.len()
        .is_multiple_of(2)
        .then(|| {
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

/// Whether a record pulled from a cache replaces the local one: a newer one does (within the
/// same second, times being whole seconds, one of other inputs does: it was pushed after
/// ours); an incomplete local record (an apply began here) only by one that finished after it
/// was marked.
fn replaces(local: &RunRecord, pulled: &RunRecord) -> bool {
    match local.incomplete_since {
        Some(since) if local.incomplete.is_some() => pulled.finished > since,
        _ => {
            local.finished < pulled.finished
                || (local.finished == pulled.finished && local.input_hash != pulled.input_hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RunRecord {
        RunRecord {
            version: 1,
            address: "dev/vpc".into(),
            input_hash: "h".into(),
            inputs: BTreeMap::new(),
            workdir: "w".into(),
            files: BTreeMap::new(),
            outputs: BTreeMap::from([("id".into(), json!("x"))]),
            sensitive_outputs: BTreeMap::new(),
            tool: "terraform".into(),
            tool_version: "1.0.3".into(),
            started: 1,
            finished: 2,
            run: String::new(),
            verdicts: Vec::new(),
            incomplete: None,
            incomplete_since: None,
        }
    }

    #[test]
    fn a_pulled_record_never_erases_an_unfinished_apply() {
        let local = RunRecord { finished: 10, input_hash: "h0".into(), ..record() };
        let newer = RunRecord { finished: 20, input_hash: "h1".into(), ..record() };
        let same_second = RunRecord { finished: 10, input_hash: "h1".into(), ..record() };
        assert!(replaces(&local, &newer));
        assert!(replaces(&local, &same_second));
        assert!(!replaces(&newer, &local), "an older one never");
        // An apply began here at 30 and did not finish: a record that finished at 20 (before
        // it) does not replace it; one that finished at 40 (after) does.
        let marked = RunRecord {
            incomplete: Some("an apply began".into()),
            incomplete_since: Some(30),
            ..local.clone()
        };
        assert!(!replaces(&marked, &newer));
        assert!(replaces(&marked, &RunRecord { finished: 40, ..newer.clone() }));
    }

    #[test]
    fn concurrent_pushes_lose_no_record_in_the_manifest_and_older_never_wins() {
        let counter = Arc::new(Counter {
            cache: Box::new(store::cache::MemoryCache::default()),
            requests: AtomicUsize::new(0),
            limit: Semaphore::new(PARALLEL),
            warnings: Mutex::new(Vec::new()),
        });
        let sealed = |address: &str, finished: u64| {
            let record = RunRecord { address: address.into(), finished, ..record() };
            BTreeMap::from([(address.to_owned(), seal(&record, None))])
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            // Twenty machines push twenty different records at once.
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let counter = counter.clone();
                    let records = sealed(&format!("dev/c{i}"), 5);
                    tokio::spawn(async move { manifest::merge(&counter, &records).await })
                })
                .collect();
            for task in tasks {
                assert_eq!(task.await.expect("join"), Ok(()));
            }
            let listed = manifest::read(&counter).await.expect("a manifest");
            assert_eq!(listed.len(), 20);
            // An older record of an address does not replace a newer one; a newer does.
            manifest::merge(&counter, &sealed("dev/c0", 3)).await.expect("merge");
            manifest::merge(&counter, &sealed("dev/c1", 9)).await.expect("merge");
            let listed = manifest::read(&counter).await.expect("a manifest");
            let finished = |a: &str| {
                serde_json::from_str::<Json>(listed[a].get()).ok()?["record"]["finished"].as_u64()
            };
            assert_eq!((finished("dev/c0"), finished("dev/c1")), (Some(5), Some(9)));
        });
    }

    #[test]
    fn signed_records_are_checked_against_trusted_keys() {
        let (seed, public) = cache_keygen().expect("keygen");
        let seed = parse_key(&seed).expect("seed");
        let public = parse_key(&public).expect("public");
        let (other_seed, _) = cache_keygen().expect("keygen");
        let other_seed = parse_key(&other_seed).expect("seed");
        let trusting = Trust { signing_key: None, trusted: vec![public] };
        let open = Trust::default();

        let signed = seal(&record(), Some(&seed));
        assert_eq!(open_envelope(&signed, "dev/vpc", &trusting), Ok(record()));
        let unsigned = seal(&record(), None);
        assert!(
            open_envelope(&unsigned, "dev/vpc", &open).is_ok(),
            "no trusted keys: unsigned is fine"
        );
        assert!(open_envelope(&unsigned, "dev/vpc", &trusting).unwrap_err().contains("not signed"));
        let stranger = seal(&record(), Some(&other_seed));
        assert!(
            open_envelope(&stranger, "dev/vpc", &trusting).unwrap_err().contains("does not trust")
        );
        // A forged record: the body changed after signing.
        let forged = String::from_utf8(signed).expect("utf8").replace("\"x\"", "\"evil\"");
        assert!(
            open_envelope(forged.as_bytes(), "dev/vpc", &trusting)
                .unwrap_err()
                .contains("does not match")
        );
        assert!(open_envelope(&seal(&record(), None), "dev/other", &open).is_err());
    }
}
