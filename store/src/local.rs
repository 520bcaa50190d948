//! The on-disk store: immutable objects named `<hash>-<name>` in one directory, written
//! atomically (a temporary inside the store, fsync, rename), made read-only once in place;
//! realisations (derivation → object, `realisations.rs`: sharded logs) and roots
//! (`.roots/<name>@<hash>`: the objects a build or a record keeps alive).
//!
//! Two processes writing the same object both succeed: the content is the same, and whichever
//! rename lands first wins. A build writes through a `Batch` (`batch.rs`): no fsync per
//! object, one sync of the filesystem at its end, and a marker that lets the next opening of
//! the store find and remove what a crash left half-written.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use crate::{
    digest::Digest,
    error::{StoreError, StoreErrorKind},
    tree::{Entry, Tree, hash_file_node, hash_tree_dir},
};

/// The name of an object in the store: `<32 base32 characters>-<readable name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectName(String);

impl ObjectName {
    pub fn new(digest: &Digest, name: &str) -> ObjectName {
        ObjectName(format!("{}-{}", digest.short(), sanitize(name)))
    }

    /// Parses a name read back from disk or a record.
    pub fn parse(text: &str) -> Option<ObjectName> {
        let (hash, name) = text.split_once('-')?;
        let valid = hash.len() == 32
            && hash.bytes().all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
            && !name.is_empty()
            && !name.contains('/');
        valid.then(|| ObjectName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash part (32 base32 characters).
    pub fn hash_part(&self) -> &str {
        &self.0[..32]
    }
}

impl std::fmt::Display for ObjectName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Object names are file names: anything but `[A-Za-z0-9._+-]` becomes `_`.
fn sanitize(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._+-".contains(c) { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with('.') { format!("_{name}") } else { name }
}

/// A root's file name, `NAME@HASH` (the hash of what it holds), and its text: an object a line.
fn root_file(name: &str, objects: &BTreeSet<ObjectName>) -> (String, String) {
    let mut text = String::new();
    for object in objects {
        text.push_str(object.as_str());
        text.push('\n');
    }
    let hash = Digest::of(text.as_bytes()).short();
    (format!("{}@{}", sanitize(name), &hash[..16]), text)
}

/// Whether a root file `NAME@HASH` holds what its name says.
pub(crate) fn root_file_intact(path: &Path) -> bool {
    let Some((_, hash)) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.split_once('@'))
    else {
        return false;
    };
    fs::read(path).is_ok_and(|text| Digest::of(&text).short().starts_with(hash) && hash.len() == 16)
}

/// The root a root file is of (`sanitize` never writes `@`).
fn root_name(file: &str) -> &str {
    file.split_once('@').map_or(file, |(name, _)| name)
}

/// What `verify` found wrong with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub object: String,
    pub message: String,
}

/// A store rooted at a directory (`.infra/store`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Writes skip their own fsync: a `Batch` syncs them all at once.
    pub(crate) batch: Option<std::sync::Arc<crate::batch::BatchState>>,
    /// The realisations, read as asked (`realisations.rs`).
    pub(crate) realisations: std::sync::Arc<crate::realisations::Realisations>,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for dir in [root.to_path_buf(), root.join(".roots"), root.join(".tmp")] {
            fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        let store =
            Store { root: root.to_path_buf(), batch: None, realisations: Default::default() };
        crate::batch::recover(&store)?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where objects are written before they are renamed into place: a directory per
    /// thread, since threads creating entries in one directory queue on its lock (measured:
    /// most of a cold build's time was the kernel spinning on it).
    pub(crate) fn temp_dir(&self) -> PathBuf {
        let thread = format!("{:?}", std::thread::current().id());
        let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
        self.root.join(".tmp").join(format!("t{thread}"))
    }

    /// `make` in this thread's temporary directory, which is created the first time.
    fn in_temp_dir<T>(&self, make: impl Fn(&Path) -> std::io::Result<T>) -> Result<T, StoreError> {
        let dir = self.temp_dir();
        match make(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
                make(&dir).map_err(|e| StoreError::io(&dir, e))
            }
            made => made.map_err(|e| StoreError::io(&dir, e)),
        }
    }

    /// Where an object lives.
    pub fn path(&self, object: &ObjectName) -> PathBuf {
        self.root.join(object.as_str())
    }

    pub fn contains(&self, object: &ObjectName) -> bool {
        fs::symlink_metadata(self.path(object)).is_ok()
    }

    /// Adds a file object holding `bytes`.
    pub fn add_bytes(
        &self,
        name: &str,
        bytes: &[u8],
        executable: bool,
    ) -> Result<(ObjectName, Entry), StoreError> {
        let digest = hash_file_node(bytes, executable);
        let entry = Entry::File { digest, executable, size: bytes.len() as u64 };
        let object = ObjectName::new(&digest, name);
        if !self.contains(&object) {
            self.write_file(&object, bytes, executable)?;
        }
        Ok((object, entry))
    }

    /// Adds a file object copied from `source`, which must still hash to `expected` (a file
    /// that changed since it was hashed is an error, not a wrong object).
    pub fn add_file_from(
        &self,
        name: &str,
        source: &Path,
        expected: &Entry,
    ) -> Result<ObjectName, StoreError> {
        let Entry::File { digest, executable, .. } = expected else {
            return Err(StoreError {
                path: Some(source.into()),
                kind: StoreErrorKind::UnsupportedFileType,
            });
        };
        let object = ObjectName::new(digest, name);
        if self.contains(&object) {
            return Ok(object);
        }
        let bytes = fs::read(source).map_err(|e| StoreError::io(source, e))?;
        if hash_file_node(&bytes, *executable) != *digest {
            return Err(StoreError::io(
                source,
                std::io::Error::other("the file changed while the build was reading it"),
            ));
        }
        self.write_file(&object, &bytes, *executable)?;
        Ok(object)
    }

    fn write_file(
        &self,
        object: &ObjectName,
        bytes: &[u8],
        executable: bool,
    ) -> Result<(), StoreError> {
        let mut temp =
            self.in_temp_dir(|dir| tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir))?;
        temp.write_all(bytes).map_err(|e| StoreError::io(temp.path(), e))?;
        if !self.deferred()? {
            temp.as_file().sync_all().map_err(|e| StoreError::io(temp.path(), e))?;
        }
        set_read_only(temp.path(), false, executable)?;
        let target = self.path(object);
        temp.persist(&target).map_err(|e| StoreError::io(&target, e.error))?;
        self.sync_root();
        Ok(())
    }

    /// Adds a directory object made of file objects already in the store, by relative path.
    /// Returns its name and tree.
    pub fn add_dir(
        &self,
        name: &str,
        files: &BTreeMap<String, (ObjectName, Entry)>,
    ) -> Result<(ObjectName, Tree), StoreError> {
        let tree = tree_of(files)?;
        let object = ObjectName::new(&tree.digest(), name);
        if self.contains(&object) {
            return Ok((object, tree));
        }
        self.deferred()?;
        let temp =
            self.in_temp_dir(|dir| tempfile::Builder::new().prefix(".tmp-").tempdir_in(dir))?;
        let mut dirs = BTreeSet::new();
        for (rel, (file_object, _)) in files {
            let target = temp.path().join(rel);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
                dirs.insert(parent.to_path_buf());
            }
            let source = self.path(file_object);
            // Objects are immutable (and were fsynced when written), so the directory may
            // share their inodes; a copy is fsynced here.
            if fs::hard_link(&source, &target).is_err() {
                fs::copy(&source, &target).map_err(|e| StoreError::io(&target, e))?;
                self.sync(&target)?;
            }
        }
        // Deepest first, so that a parent is made read-only and durable after its children.
        dirs.insert(temp.path().to_path_buf());
        for dir in dirs.iter().rev() {
            set_read_only(dir, true, false)?;
            self.sync(dir)?;
        }
        let target = self.path(&object);
        let kept = temp.keep();
        match fs::rename(&kept, &target) {
            Ok(()) => self.sync_root(),
            Err(_) if self.contains(&object) => remove_tree(&kept)?,
            Err(e) => {
                remove_tree(&kept)?;
                return Err(StoreError::io(&target, e));
            }
        }
        Ok((object, tree))
    }

    /// The object a derivation was realised to, if it is still in the store.
    pub fn realisation(&self, derivation: &Digest) -> Option<ObjectName> {
        let object = self.realisations.get(&self.root, derivation)?;
        self.contains(&object).then_some(object)
    }

    /// Records that `derivation` was realised to `object`.
    pub fn add_realisation(
        &self,
        derivation: &Digest,
        object: &ObjectName,
    ) -> Result<(), StoreError> {
        let deferred = self.deferred()?;
        self.realisations.add(&self.root, derivation, object, deferred)
    }

    /// Takes the store's lock: shared for builds (many at once), exclusive for `gc`, so that
    /// gc never removes what a running build has written but not yet rooted. Released when the
    /// returned file is dropped.
    pub fn lock(&self, exclusive: bool) -> Result<fs::File, StoreError> {
        let path = self.root.join(".lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let locked = if exclusive { file.lock() } else { file.lock_shared() };
        locked.map_err(|e| StoreError::io(&path, e))?;
        Ok(file)
    }

    /// Removes the roots whose names start with `prefix`, except those in `keep`.
    pub fn remove_roots_except(
        &self,
        prefix: &str,
        keep: &BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let dir = self.root.join(".roots");
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && !keep.contains(root_name(&name)) {
                fs::remove_file(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
            }
        }
        Ok(())
    }

    /// Makes `objects` the root named `name` (replacing what it held), as the file `NAME`.
    /// (A root set by a build of many components may also have a file `NAME@HASH` from an
    /// earlier one: gc keeps what either holds until the next such build replaces both.)
    pub fn set_root(&self, name: &str, objects: &BTreeSet<ObjectName>) -> Result<(), StoreError> {
        let (_, text) = root_file(name, objects);
        let path = self.root.join(".roots").join(sanitize(name));
        if fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            return Ok(());
        }
        self.write_small(&path, text.as_bytes())
    }

    /// As `set_root`, for a build of many components, given the root files that exist
    /// (`root_files`, listed once): the file is `NAME@HASH`, named by what it holds, so a root
    /// that holds what it held costs nothing, where reading each of 10,000 roots to compare
    /// was a sixth of a no-op build.
    pub fn set_root_in(
        &self,
        name: &str,
        objects: &BTreeSet<ObjectName>,
        present: &BTreeSet<String>,
    ) -> Result<(), StoreError> {
        let (file, text) = root_file(name, objects);
        let base = sanitize(name);
        if present.contains(&file) && !present.contains(&base) {
            return Ok(());
        }
        let dir = self.root.join(".roots");
        if !present.contains(&file) {
            self.write_small(&dir.join(&file), text.as_bytes())?;
        }
        for old in present.iter().filter(|f| root_name(f) == base && **f != file) {
            let _ = fs::remove_file(dir.join(old));
        }
        Ok(())
    }

    /// The names of the roots' files (`NAME@HASH`; `NAME` in stores made before).
    pub fn root_files(&self) -> Result<BTreeSet<String>, StoreError> {
        let dir = self.root.join(".roots");
        fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
        Ok(crate::fsutil::names(&dir).into_iter().collect())
    }

    /// Every object named by a root.
    pub fn roots(&self) -> Result<BTreeSet<ObjectName>, StoreError> {
        let dir = self.root.join(".roots");
        let mut out = BTreeSet::new();
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
            let text =
                fs::read_to_string(entry.path()).map_err(|e| StoreError::io(entry.path(), e))?;
            out.extend(text.lines().filter_map(ObjectName::parse));
        }
        Ok(out)
    }

    /// Every object in the store.
    pub fn objects(&self) -> Result<Vec<ObjectName>, StoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, e))? {
            let entry = entry.map_err(|e| StoreError::io(&self.root, e))?;
            if let Some(object) = entry.file_name().to_str().and_then(ObjectName::parse) {
                out.push(object);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Re-hashes every object and reports those whose content does not match their name.
    pub fn verify(&self) -> Result<Vec<Problem>, StoreError> {
        let mut problems = Vec::new();
        for object in self.objects()? {
            let path = self.path(&object);
            let actual = match node_digest(&path) {
                Ok(digest) => digest,
                Err(e) => {
                    problems.push(Problem { object: object.to_string(), message: e.to_string() });
                    continue;
                }
            };
            if actual.short() != object.hash_part() {
                problems.push(Problem {
                    object: object.to_string(),
                    message: format!("its content hashes to `{}`", actual.short()),
                });
            }
        }
        Ok(problems)
    }

    fn sync_root(&self) {
        // Durability of the rename; a failure here loses nothing that is not rebuilt.
        if self.batch.is_none()
            && let Ok(dir) = fs::File::open(&self.root)
        {
            let _ = dir.sync_all();
        }
    }

    /// fsync a file or directory, unless a batch syncs it.
    fn sync(&self, path: &Path) -> Result<(), StoreError> {
        if self.deferred()? { Ok(()) } else { sync_path(path) }
    }

    /// Writes a small file atomically (durably, unless a batch syncs it).
    fn write_small(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let durable = !self.deferred()?;
        crate::fsutil::write_atomic(path, bytes, durable).map_err(|e| StoreError::io(path, e))
    }

    /// Whether this write is part of a batch (whose marker it makes exist first).
    fn deferred(&self) -> Result<bool, StoreError> {
        match &self.batch {
            None => Ok(false),
            Some(batch) => batch.begin(&self.root).map(|()| true),
        }
    }
}

/// The node hash of an object on disk.
pub(crate) fn node_digest(path: &Path) -> Result<Digest, StoreError> {
    let meta = fs::symlink_metadata(path).map_err(|e| StoreError::io(path, e))?;
    if meta.is_dir() {
        Ok(hash_tree_dir(path, &|_, _| true)?.digest())
    } else if meta.is_file() {
        let bytes = fs::read(path).map_err(|e| StoreError::io(path, e))?;
        Ok(hash_file_node(&bytes, crate::tree::is_executable(&meta)))
    } else {
        let target = fs::read_link(path).map_err(|e| StoreError::io(path, e))?;
        Ok(Entry::Symlink(target.to_string_lossy().into_owned()).digest())
    }
}

/// The tree of a directory made of these files; a path that is both a file and a directory
/// is an error.
fn tree_of(files: &BTreeMap<String, (ObjectName, Entry)>) -> Result<Tree, StoreError> {
    crate::tree::tree_from_files(files.iter().map(|(rel, (_, entry))| (rel, entry))).ok_or_else(
        || StoreError {
            path: None,
            kind: StoreErrorKind::Corrupt("a path that is both a file and a directory".to_owned()),
        },
    )
}

/// fsync a file or directory.
fn sync_path(path: &Path) -> Result<(), StoreError> {
    fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| StoreError::io(path, e))
}

#[cfg(unix)]
fn set_read_only(path: &Path, is_dir: bool, executable: bool) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if is_dir || executable { 0o555 } else { 0o444 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| StoreError::io(path, e))
}

#[cfg(not(unix))]
fn set_read_only(path: &Path, _is_dir: bool, _executable: bool) -> Result<(), StoreError> {
    let mut perms = fs::metadata(path).map_err(|e| StoreError::io(path, e))?.permissions();
    perms.set_readonly(true);
    fs::set_permissions(path, perms).map_err(|e| StoreError::io(path, e))
}

/// Removes a (possibly read-only) tree.
pub(crate) fn remove_tree(path: &Path) -> Result<(), StoreError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    if meta.is_dir() {
        make_writable(path)?;
        fs::remove_dir_all(path).map_err(|e| StoreError::io(path, e))
    } else {
        fs::remove_file(path).map_err(|e| StoreError::io(path, e))
    }
}

fn make_writable(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| StoreError::io(dir, e))?;
    }
    for entry in fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}
