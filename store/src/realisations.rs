//! Realisations — which object a derivation was built to — as append-only logs,
//! `.realisations.d/XX.log`, sharded by the derivation's first two hex digits, a line
//! `DERIVATION-HEX OBJECT` each. One log replaced a file per realisation (a no-op build of
//! 10,000 components opened and read 10,000 of them, and a cold build allocated 10,000 inodes
//! for them); the shards keep a lookup of a few realisations from reading all of them (a run
//! of one component of 10,000 read 3.4 MB). Appends are single `O_APPEND` writes of one short
//! line, which do not interleave on a local filesystem; a line a crash tore does not parse and
//! is skipped (a miss: that work directory is built again). A process does not see what
//! others append after it read a shard: a miss again, and the same object. `gc` rewrites the
//! shards with the live entries under the store's exclusive lock.
//!
//! A process searches a shard's text from its end for each of its first `SCANS` lookups;
//! past them every shard is read into a map. Stores made before the shards keep their one
//! `.realisations.log` (folded into the shards when first used) or their `.realisations/HEX`
//! files (read on a miss, folded by `gc`).

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use crate::{digest::Digest, error::StoreError, local::ObjectName};

/// The shards' directory in the store.
const SHARDS: &str = ".realisations.d";

/// The one log of stores made before the shards.
const OLD_LOG: &str = ".realisations.log";

/// How many realisations are looked up by searching a shard's text before every shard is
/// read into a map.
const SCANS: usize = 8;

/// The realisations of one store, loaded when first asked.
#[derive(Debug, Default)]
pub(crate) struct Realisations {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Whether an older store's one log was looked for (and folded into the shards).
    migrated: bool,
    /// The shards read so far, by name, until they become `map`.
    texts: HashMap<String, String>,
    /// How many lookups searched a shard.
    scans: usize,
    map: Option<HashMap<Digest, ObjectName>>,
}

impl State {
    fn get(&mut self, root: &Path, derivation: &Digest) -> Option<ObjectName> {
        self.migrate(root);
        if self.map.is_none() && self.scans >= SCANS {
            self.map = Some(read_all(root));
            self.texts.clear();
        }
        if let Some(map) = &self.map {
            return map.get(derivation).cloned();
        }
        self.scans += 1;
        let hex = derivation.to_hex();
        let shard = shard_of(&hex);
        let text = self.texts.entry(shard.to_owned()).or_insert_with(|| read_shard(root, shard));
        search(text, &hex)
    }

    /// Folds an older store's one log into the shards, once per process. Two processes doing
    /// it at once append the same lines twice (the same answers); one that reads a shard
    /// before the fold misses (and builds the same object again).
    fn migrate(&mut self, root: &Path) {
        if std::mem::replace(&mut self.migrated, true) {
            return;
        }
        let Ok(text) = fs::read_to_string(root.join(OLD_LOG)) else { return };
        let mut by_shard: BTreeMap<&str, String> = BTreeMap::new();
        for line in text.lines() {
            if let Some((hex, object)) = line.split_once(' ')
                && Digest::from_hex(hex).is_some()
                && ObjectName::parse(object).is_some()
            {
                let lines = by_shard.entry(shard_of(hex)).or_default();
                lines.push_str(line);
                lines.push('\n');
            }
        }
        for (shard, lines) in by_shard {
            if append(root, shard, &lines, true).is_err() {
                return; // the old log stays, and is folded next time
            }
        }
        let _ = fs::remove_file(root.join(OLD_LOG));
    }
}

impl Realisations {
    /// The object `derivation` was realised to, by the logs (or a file of an older store).
    pub(crate) fn get(&self, root: &Path, derivation: &Digest) -> Option<ObjectName> {
        if let Ok(mut state) = self.state.lock()
            && let Some(object) = state.get(root, derivation)
        {
            return Some(object);
        }
        let text = fs::read_to_string(legacy_dir(root).join(derivation.to_hex())).ok()?;
        ObjectName::parse(text.trim())
    }

    /// Appends a realisation (fsynced unless `deferred`: a batch syncs it).
    pub(crate) fn add(
        &self,
        root: &Path,
        derivation: &Digest,
        object: &ObjectName,
        deferred: bool,
    ) -> Result<(), StoreError> {
        let hex = derivation.to_hex();
        let line = format!("{hex} {object}\n");
        let shard = shard_of(&hex);
        let Ok(mut state) = self.state.lock() else { return Ok(()) };
        state.migrate(root);
        append(root, shard, &line, !deferred)?;
        if let Some(map) = state.map.as_mut() {
            map.insert(*derivation, object.clone());
        } else if let Some(text) = state.texts.get_mut(shard) {
            text.push_str(&line);
        }
        Ok(())
    }

    /// Keeps only the realisations whose object `live` accepts: the shards rewritten
    /// (atomically), an older store's log and files folded into them and removed. Under the
    /// exclusive lock.
    pub(crate) fn retain(
        &self,
        root: &Path,
        live: impl Fn(&ObjectName) -> bool,
    ) -> Result<(), StoreError> {
        let Ok(mut state) = self.state.lock() else { return Ok(()) };
        state.migrate(root);
        let mut entries = read_all(root);
        let legacy = legacy_dir(root);
        let mut folded = Vec::new();
        for entry in fs::read_dir(&legacy).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Only realisations (64 hex digits); a temporary being written is not one.
            if name.len() != 64 {
                continue;
            }
            if let Some(object) =
                fs::read_to_string(entry.path()).ok().and_then(|t| ObjectName::parse(t.trim()))
                && let Some(derivation) = Digest::from_hex(&name)
            {
                entries.entry(derivation).or_insert(object);
            }
            folded.push(entry.path());
        }
        entries.retain(|_, object| live(object));
        let mut shards: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (derivation, object) in entries.iter().collect::<BTreeMap<_, _>>() {
            let hex = derivation.to_hex();
            shards.entry(shard_of(&hex).to_owned()).or_default().push(format!("{hex} {object}\n"));
        }
        let dir = root.join(SHARDS);
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(shard) = name.strip_suffix(".log")
                && !shards.contains_key(shard)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
        for (shard, lines) in shards {
            let path = shard_path(root, &shard);
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            crate::fsutil::write_atomic(&path, lines.concat().as_bytes(), true)
                .map_err(|e| StoreError::io(&path, e))?;
        }
        for file in folded {
            let _ = fs::remove_file(file);
        }
        *state = State { migrated: true, map: Some(entries), ..State::default() };
        Ok(())
    }
}

fn legacy_dir(root: &Path) -> PathBuf {
    root.join(".realisations")
}

/// The shard of a derivation: its first two hex digits.
fn shard_of(hex: &str) -> &str {
    &hex[..2]
}

fn shard_path(root: &Path, shard: &str) -> PathBuf {
    root.join(SHARDS).join(format!("{shard}.log"))
}

fn read_shard(root: &Path, shard: &str) -> String {
    fs::read_to_string(shard_path(root, shard)).unwrap_or_default()
}

/// Every shard's entries.
fn read_all(root: &Path) -> HashMap<Digest, ObjectName> {
    let mut all = HashMap::new();
    for entry in fs::read_dir(root.join(SHARDS)).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().ends_with(".log") {
            all.extend(parse_log(&fs::read_to_string(entry.path()).unwrap_or_default()));
        }
    }
    all
}

/// Appends `lines` to a shard (durably with `durable`).
fn append(root: &Path, shard: &str, lines: &str, durable: bool) -> Result<(), StoreError> {
    let path = shard_path(root, shard);
    let open = || fs::OpenOptions::new().create(true).append(true).open(&path);
    let mut file = match open() {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = root.join(SHARDS);
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            open().map_err(|e| StoreError::io(&path, e))?
        }
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    file.write_all(lines.as_bytes()).map_err(|e| StoreError::io(&path, e))?;
    if durable {
        file.sync_data().map_err(|e| StoreError::io(&path, e))?;
    }
    Ok(())
}

/// The log's entries; the last line for a derivation wins, lines that do not parse are
/// skipped.
fn parse_log(text: &str) -> HashMap<Digest, ObjectName> {
    text.lines()
        .filter_map(|line| {
            let (hex, object) = line.split_once(' ')?;
            Some((Digest::from_hex(hex)?, ObjectName::parse(object)?))
        })
        .collect()
}

/// What the log's last valid line for the derivation `hex` names, as `parse_log` would say.
fn search(text: &str, hex: &str) -> Option<ObjectName> {
    let bytes = text.as_bytes();
    memchr::memmem::rfind_iter(bytes, hex.as_bytes()).find_map(|at| {
        let starts_line = at == 0 || bytes[at - 1] == b'\n';
        let rest = &text[at + hex.len()..];
        let object = rest.strip_prefix(' ')?;
        let object = &object[..object.find('\n').unwrap_or(object.len())];
        if starts_line { ObjectName::parse(object) } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searching_the_log_answers_what_its_map_answers() {
        let digest = |i: u8| Digest::of(&[i]);
        let object = |i: u8, name: &str| ObjectName::new(&Digest::of(&[i, i]), name);
        let (a, b, c) = (digest(1), digest(2), digest(3));
        let torn = format!("{} {}", c.to_hex(), &object(9, "cut").to_string()[..10]);
        let text = [
            format!("{} {}", a.to_hex(), object(1, "first")),
            format!("{} {}", b.to_hex(), object(2, "b")),
            // `a` realised again (the last line wins); `b`'s hex inside another line's text
            // is not a line of `b`.
            format!("{} {}", a.to_hex(), object(3, "second")),
            format!("{} x{}", digest(4).to_hex(), b.to_hex()),
            "not a line".to_owned(),
            torn,
        ]
        .join("\n");
        let map = parse_log(&text);
        for d in [a, b, c, digest(4), digest(5)] {
            assert_eq!(search(&text, &d.to_hex()), map.get(&d).cloned(), "{}", d.to_hex());
        }
        assert_eq!(map.get(&a), Some(&object(3, "second")));
        assert_eq!(map.get(&b), Some(&object(2, "b")));

        // Past `SCANS` lookups the state answers from a map, with what was added since.
        let dir = tempfile::tempdir().unwrap();
        // An older store's one log, folded into the shards when first used. (A line
        // appended after a torn one joins it: a miss, written again on its own line.)
        fs::write(dir.path().join(OLD_LOG), format!("{text}\n")).unwrap();
        let realisations = Realisations::default();
        let added = digest(6);
        realisations.add(dir.path(), &added, &object(6, "added"), true).unwrap();
        for _ in 0..SCANS + 2 {
            assert_eq!(realisations.get(dir.path(), &a), Some(object(3, "second")));
            assert_eq!(realisations.get(dir.path(), &added), Some(object(6, "added")));
            assert_eq!(realisations.get(dir.path(), &digest(5)), None);
        }
        assert!(realisations.state.lock().unwrap().map.is_some());
        assert!(!dir.path().join(OLD_LOG).exists(), "the old log was folded");
        let fresh = Realisations::default();
        assert_eq!(fresh.get(dir.path(), &a), Some(object(3, "second")), "from its shard");
    }
}
