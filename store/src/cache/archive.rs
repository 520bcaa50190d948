//! One store object as bytes for `cas/`: `infra-archive-v1\n`, the object's readable name and
//! a newline, then per file (sorted by path): a kind byte (`f`, or `x` for executable), the
//! path's length (u32 LE) and bytes, the content's length (u64 LE) and bytes. A file object
//! is one entry with an empty path. Unpacking checks the content against the expected hash
//! before anything is written to the store.

use std::{collections::BTreeMap, fs};

use crate::{
    Digest, Entry, ObjectName, Store, StoreError, Tree, cache::CacheError, hash_file_node,
    hash_tree_dir,
};

const MAGIC: &[u8] = b"infra-archive-v1\n";

/// The archive of `object` (its readable name is the part after the hash).
pub fn archive_object(store: &Store, object: &ObjectName) -> Result<Vec<u8>, StoreError> {
    let path = store.path(object);
    let name = object.as_str().split_once('-').map(|(_, n)| n).unwrap_or("object");
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    let meta = fs::symlink_metadata(&path).map_err(|e| StoreError::io(&path, e))?;
    if meta.is_dir() {
        let tree = hash_tree_dir(&path, &|_, _| true)?;
        for (rel, entry) in tree.files() {
            let Entry::File { executable, .. } = entry else { continue };
            let bytes =
                fs::read(path.join(&rel)).map_err(|e| StoreError::io(path.join(&rel), e))?;
            push_entry(&mut out, &rel, *executable, &bytes);
        }
    } else {
        let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
        push_entry(&mut out, "", crate::tree::is_executable(&meta), &bytes);
    }
    Ok(out)
}

fn push_entry(out: &mut Vec<u8>, path: &str, executable: bool, bytes: &[u8]) {
    out.push(if executable { b'x' } else { b'f' });
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Unpacks an archive fetched as `cas/<expected>` into the store, if it hashes to `expected`.
pub fn unpack_object(
    store: &Store,
    archive: &[u8],
    expected: &Digest,
) -> Result<ObjectName, CacheError> {
    let bad = |why: &str| CacheError(format!("rejected `cas/{}`: {why}", expected.to_hex()));
    let rest = archive.strip_prefix(MAGIC).ok_or_else(|| bad("not an archive"))?;
    let newline = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("truncated"))?;
    let name =
        std::str::from_utf8(&rest[..newline]).map_err(|_| bad("a name that is not UTF-8"))?;
    let mut input = &rest[newline + 1..];
    let mut entries: Vec<(String, bool, &[u8])> = Vec::new();
    while !input.is_empty() {
        let (&kind, tail) = input.split_first().ok_or_else(|| bad("truncated"))?;
        let (path_len, tail) = take_u32(tail).ok_or_else(|| bad("truncated"))?;
        let (path, tail) = split(tail, path_len as usize).ok_or_else(|| bad("truncated"))?;
        let (len, tail) = take_u64(tail).ok_or_else(|| bad("truncated"))?;
        let (bytes, tail) = split(tail, usize::try_from(len).map_err(|_| bad("too large"))?)
            .ok_or_else(|| bad("truncated"))?;
        let path = std::str::from_utf8(path).map_err(|_| bad("a path that is not UTF-8"))?;
        if path.split('/').any(|p| p == ".." || p == ".") || path.starts_with('/') {
            return Err(bad("a path outside the object"));
        }
        entries.push((path.to_owned(), kind == b'x', bytes));
        input = tail;
    }
    let store_error = |e: StoreError| CacheError(e.to_string());
    if let [(path, executable, bytes)] = entries.as_slice()
        && path.is_empty()
    {
        if hash_file_node(bytes, *executable) != *expected {
            return Err(bad("its content does not match its hash"));
        }
        return store.add_bytes(name, bytes, *executable).map(|(o, _)| o).map_err(store_error);
    }
    // A directory: check the tree's hash before writing anything.
    let mut files = BTreeMap::new();
    let mut planned = Vec::new();
    for (path, executable, bytes) in &entries {
        let digest = hash_file_node(bytes, *executable);
        let entry = Entry::File { digest, executable: *executable, size: bytes.len() as u64 };
        planned.push((path.clone(), entry.clone(), *bytes, *executable));
        files.insert(path.clone(), entry);
    }
    let mut tree = Tree::default();
    for (path, entry) in &files {
        insert(&mut tree, path, entry.clone())
            .ok_or_else(|| bad("a path that is a file and a directory"))?;
    }
    if tree.digest() != *expected {
        return Err(bad("its content does not match its hash"));
    }
    let mut objects = BTreeMap::new();
    for (path, entry, bytes, executable) in planned {
        let file_name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        let (object, _) = store.add_bytes(&file_name, bytes, executable).map_err(store_error)?;
        objects.insert(path, (object, entry));
    }
    store.add_dir(name, &objects).map(|(o, _)| o).map_err(store_error)
}

fn insert(tree: &mut Tree, path: &str, entry: Entry) -> Option<()> {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file = parts.pop()?;
    let mut dir = tree;
    for part in parts {
        let next =
            dir.entries.entry(part.to_owned()).or_insert_with(|| Entry::Dir(Tree::default()));
        let Entry::Dir(sub) = next else { return None };
        dir = sub;
    }
    dir.entries.insert(file.to_owned(), entry).is_none().then_some(())
}

fn take_u32(input: &[u8]) -> Option<(u32, &[u8])> {
    let (bytes, rest) = split(input, 4)?;
    Some((u32::from_le_bytes(bytes.try_into().ok()?), rest))
}

fn take_u64(input: &[u8]) -> Option<(u64, &[u8])> {
    let (bytes, rest) = split(input, 8)?;
    Some((u64::from_le_bytes(bytes.try_into().ok()?), rest))
}

fn split(input: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (input.len() >= n).then(|| input.split_at(n))
}
