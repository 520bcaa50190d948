//! Realisations — which object a derivation was built to — as one append-only log,
//! `.realisations.log`, a line `DERIVATION-HEX OBJECT` each, read once per process into a
//! map. It replaced a file per realisation: a no-op build of 10,000 components opened and
//! read 10,000 of them, and a cold build allocated 10,000 inodes for them. Appends are single
//! `O_APPEND` writes of one short line, which do not interleave on a local filesystem; a line
//! a crash tore does not parse and is skipped (a miss: that work directory is built again). A
//! process does not see what others append after it read the log: a miss again, and the same
//! object. `gc` rewrites the log with the live entries under the store's exclusive lock.
//! Stores made before the log keep their `.realisations/HEX` files, read on a miss.
//!
//! A process that asks for a few realisations (a run of one component of 10,000) searches
//! the log's text from its end for each; past `SCANS` questions the log becomes a map.

use std::{
    collections::HashMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use crate::{digest::Digest, error::StoreError, local::ObjectName};

/// The log's file name in the store.
const LOG: &str = ".realisations.log";

/// How many realisations are looked up by searching the log's text before it is read into a
/// map: a search is a pass over the text, a map costs an entry per line.
const SCANS: usize = 8;

/// The realisations of one store, loaded when first asked.
#[derive(Debug, Default)]
pub(crate) struct Realisations {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The log's text, until it becomes `map`.
    text: Option<String>,
    /// How many lookups searched `text`.
    scans: usize,
    map: Option<HashMap<Digest, ObjectName>>,
}

impl State {
    fn get(&mut self, root: &Path, derivation: &Digest) -> Option<ObjectName> {
        if self.map.is_none() && self.scans >= SCANS {
            let text = self.text.take().unwrap_or_else(|| read_text(root));
            self.map = Some(parse_log(&text));
        }
        if let Some(map) = &self.map {
            return map.get(derivation).cloned();
        }
        self.scans += 1;
        let text = self.text.get_or_insert_with(|| read_text(root));
        search(text, &derivation.to_hex())
    }
}

impl Realisations {
    /// The object `derivation` was realised to, by the log (or a file of an older store).
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
        let path = root.join(LOG);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let line = format!("{hex} {object}\n");
        file.write_all(line.as_bytes()).map_err(|e| StoreError::io(&path, e))?;
        if !deferred {
            file.sync_data().map_err(|e| StoreError::io(&path, e))?;
        }
        if let Ok(mut state) = self.state.lock() {
            if let Some(map) = state.map.as_mut() {
                map.insert(*derivation, object.clone());
            } else if let Some(text) = state.text.as_mut() {
                text.push_str(&line);
            }
        }
        Ok(())
    }

    /// Keeps only the realisations whose object `live` accepts: the log rewritten (atomically),
    /// the files of an older store folded into it and removed. Under the exclusive lock.
    pub(crate) fn retain(
        &self,
        root: &Path,
        live: impl Fn(&ObjectName) -> bool,
    ) -> Result<(), StoreError> {
        let mut entries = parse_log(&read_text(root));
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
        let mut lines: Vec<String> = entries
            .iter()
            .map(|(derivation, object)| format!("{} {object}\n", derivation.to_hex()))
            .collect();
        lines.sort();
        let path = root.join(LOG);
        crate::fsutil::write_atomic(&path, lines.concat().as_bytes(), true)
            .map_err(|e| StoreError::io(&path, e))?;
        for file in folded {
            let _ = fs::remove_file(file);
        }
        if let Ok(mut state) = self.state.lock() {
            *state = State { map: Some(entries), ..State::default() };
        }
        Ok(())
    }
}

fn legacy_dir(root: &Path) -> PathBuf {
    root.join(".realisations")
}

fn read_text(root: &Path) -> String {
    fs::read_to_string(root.join(LOG)).unwrap_or_default()
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
        // (A line appended after a torn one joins it: a miss, written again on its own line.)
        fs::write(dir.path().join(LOG), format!("{text}\n")).unwrap();
        let realisations = Realisations::default();
        let added = digest(6);
        realisations.add(dir.path(), &added, &object(6, "added"), true).unwrap();
        for _ in 0..SCANS + 2 {
            assert_eq!(realisations.get(dir.path(), &a), Some(object(3, "second")));
            assert_eq!(realisations.get(dir.path(), &added), Some(object(6, "added")));
            assert_eq!(realisations.get(dir.path(), &digest(5)), None);
        }
        assert!(realisations.state.lock().unwrap().map.is_some());
    }
}
