//! The canonical hash of files and directory trees. A file's node hash covers its executable
//! bit, length and bytes; a directory's covers its entries sorted by name (bytes), each with
//! its node hash; a symbolic link's covers its target. Nothing else (times, owners, other
//! permission bits, the directory's own path) enters, so the same tree hashes the same on
//! every machine. Files are read once and hashed in parallel.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use rayon::prelude::*;

use crate::{
    digest::Digest,
    error::{StoreError, StoreErrorKind},
};

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File { digest: Digest, executable: bool, size: u64 },
    Dir(Tree),
    Symlink(String),
}

/// A directory: entries by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub entries: BTreeMap<String, Entry>,
}

impl Entry {
    /// The node hash.
    pub fn digest(&self) -> Digest {
        match self {
            Entry::File { digest, .. } => *digest,
            Entry::Dir(tree) => tree.digest(),
            Entry::Symlink(target) => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(b"infra-link\0");
                hasher.update(target.as_bytes());
                Digest::from_bytes(*hasher.finalize().as_bytes())
            }
        }
    }
}

impl Tree {
    /// The node hash of the directory.
    pub fn digest(&self) -> Digest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"infra-dir\0");
        for (name, entry) in &self.entries {
            hasher.update(name.as_bytes());
            hasher.update(&[0]);
            hasher.update(entry.digest().as_bytes());
        }
        Digest::from_bytes(*hasher.finalize().as_bytes())
    }

    /// Every file with its path relative to the tree (`a/b.tf`), in order.
    pub fn files(&self) -> Vec<(String, &Entry)> {
        let mut out = Vec::new();
        collect(self, "", &mut out);
        out
    }
}

fn collect<'t>(tree: &'t Tree, prefix: &str, out: &mut Vec<(String, &'t Entry)>) {
    for (name, entry) in &tree.entries {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        match entry {
            Entry::Dir(sub) => collect(sub, &path, out),
            _ => out.push((path, entry)),
        }
    }
}

/// The tree of a directory made of these files (relative paths); `None` if a path is both a
/// file and a directory.
pub fn tree_from_files<'a>(files: impl Iterator<Item = (&'a String, &'a Entry)>) -> Option<Tree> {
    let mut root = Tree::default();
    for (rel, entry) in files {
        let mut parts: Vec<&str> = rel.split('/').collect();
        let file = parts.pop()?;
        let mut dir = &mut root;
        for part in parts {
            let next =
                dir.entries.entry(part.to_owned()).or_insert_with(|| Entry::Dir(Tree::default()));
            let Entry::Dir(sub) = next else { return None };
            dir = sub;
        }
        if dir.entries.insert(file.to_owned(), entry.clone()).is_some() {
            return None;
        }
    }
    Some(root)
}

/// The node hash of a file's content.
pub fn hash_file_node(bytes: &[u8], executable: bool) -> Digest {
    let mut hasher = file_hasher(executable, bytes.len() as u64);
    hasher.update(bytes);
    Digest::from_bytes(*hasher.finalize().as_bytes())
}

fn file_hasher(executable: bool, len: u64) -> blake3::Hasher {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"infra-file\0");
    hasher.update(&[u8::from(executable)]);
    hasher.update(&len.to_le_bytes());
    hasher
}

fn hash_file_at(path: &Path, executable: bool) -> Result<(Digest, u64), StoreError> {
    let mut file = fs::File::open(path).map_err(|e| StoreError::io(path, e))?;
    let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
    let mut hasher = file_hasher(executable, len);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut read_total = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| StoreError::io(path, e))?;
        if n == 0 {
            break;
        }
        read_total += n as u64;
        hasher.update(&buffer[..n]);
    }
    if read_total != len {
        // The file changed while it was read: its hash would describe neither version.
        return Err(StoreError::io(
            path,
            std::io::Error::other("the file changed while it was being read"),
        ));
    }
    Ok((Digest::from_bytes(*hasher.finalize().as_bytes()), len))
}

/// Whether a path (relative to the tree's root) is kept.
pub type Filter<'a> = &'a (dyn Fn(&Path, bool) -> bool + Sync);

/// Hashes the tree at `root`, keeping what `keep(relative_path, is_dir)` accepts.
pub fn hash_tree_dir(root: &Path, keep: Filter<'_>) -> Result<Tree, StoreError> {
    // Walk first (cheap metadata), then hash every file, in parallel when there is much to
    // read (a module of a few small files started the thread pool, whose idle workers then
    // spun).
    let mut files: Vec<(PathBuf, bool, u64)> = Vec::new();
    let mut skeleton = Skeleton::default();
    walk(root, Path::new(""), keep, &mut skeleton, &mut files)?;
    let hash = |(rel, exec, _): &(PathBuf, bool, u64)| hash_file_at(&root.join(rel), *exec);
    let bytes: u64 = files.iter().map(|f| f.2).sum();
    let hashed: Vec<Result<(Digest, u64), StoreError>> = if files.len() <= 16 && bytes <= 1 << 22 {
        files.iter().map(hash).collect()
    } else {
        files.par_iter().map(hash).collect()
    };
    let mut digests = BTreeMap::new();
    for ((rel, exec, _), result) in files.iter().zip(hashed) {
        let (digest, size) = result?;
        digests.insert(rel.clone(), Entry::File { digest, executable: *exec, size });
    }
    Ok(skeleton.fill(Path::new(""), &mut digests))
}

/// The shape of a tree before its files are hashed.
#[derive(Default)]
struct Skeleton {
    dirs: BTreeMap<String, Skeleton>,
    files: Vec<String>,
    links: BTreeMap<String, String>,
}

impl Skeleton {
    fn fill(self, prefix: &Path, digests: &mut BTreeMap<PathBuf, Entry>) -> Tree {
        let mut tree = Tree::default();
        for name in self.files {
            if let Some(entry) = digests.remove(&prefix.join(&name)) {
                tree.entries.insert(name, entry);
            }
        }
        for (name, target) in self.links {
            tree.entries.insert(name, Entry::Symlink(target));
        }
        for (name, sub) in self.dirs {
            let path = prefix.join(&name);
            tree.entries.insert(name, Entry::Dir(sub.fill(&path, digests)));
        }
        tree
    }
}

fn walk(
    root: &Path,
    rel: &Path,
    keep: Filter<'_>,
    skeleton: &mut Skeleton,
    files: &mut Vec<(PathBuf, bool, u64)>,
) -> Result<(), StoreError> {
    let dir = root.join(rel);
    let entries = fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            return Err(StoreError {
                path: Some(entry.path()),
                kind: StoreErrorKind::Corrupt("a file name that is not UTF-8".to_owned()),
            });
        };
        let child = rel.join(&name);
        let meta =
            fs::symlink_metadata(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
        let ty = meta.file_type();
        if !keep(&child, ty.is_dir()) {
            continue;
        }
        if ty.is_dir() {
            let mut sub = Skeleton::default();
            walk(root, &child, keep, &mut sub, files)?;
            skeleton.dirs.insert(name, sub);
        } else if ty.is_file() {
            files.push((child, is_executable(&meta), meta.len()));
            skeleton.files.push(name);
        } else if ty.is_symlink() {
            let target =
                fs::read_link(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
            skeleton.links.insert(name, target.to_string_lossy().into_owned());
        } else {
            return Err(StoreError {
                path: Some(entry.path()),
                kind: StoreErrorKind::UnsupportedFileType,
            });
        }
    }
    Ok(())
}

pub(crate) use crate::fsutil::is_executable;
