//! `infra build`: every component's work directory as a store object. Per component: the
//! module's files (minus `.terraform/` and state files), `backend.tf.json`,
//! `providers.tf.json`, `infra.auto.tfvars.json` and the extra `files`, each a file object;
//! generated files are derivations (`builder = "text"`), and the work directory is a
//! derivation joining them (`builder = "workdir"`). A derivation realised before is not
//! rendered again. Inputs that read upstream outputs are left out: they go to
//! `infra.upstream.auto.tfvars.json`, written when the values are known.

mod render;

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
    sync::Arc,
};

use evaluator::{Component, File, Json, Project};
use rayon::prelude::*;
use store::{
    Derivation, Digest, Entry, ObjectName, Store, StoreError, Tree, hash_file_node, hash_tree_dir,
    tree_from_files,
};

pub(crate) use self::render::{canonical_json, generated_files};
use crate::{
    error::{RunnerError, RunnerErrorKind},
    resolve,
};

/// What building one component produced.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    pub address: String,
    /// The work-directory object.
    pub workdir: ObjectName,
    /// The work-directory derivation's hash.
    pub derivation: Digest,
    /// Every file of the work directory with its node hash.
    pub files: BTreeMap<String, Digest>,
    /// Inputs waiting for upstream outputs (with their placeholders).
    pub upstream_inputs: BTreeMap<String, Json>,
    /// Derivations rendered now, and found realised.
    pub rendered: usize,
    pub cached: usize,
    /// What to write if the work directory is wanted but not in the store yet (a build that
    /// only needed hashes: `plan` and `apply` realise a component only when it runs).
    pending: Option<Arc<Pending>>,
}

/// The files of a work directory not yet written to the store.
#[derive(Debug)]
struct Pending {
    name: String,
    planned: Vec<(String, ObjectName, Entry, Source)>,
}

/// What a build produced.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    pub components: Vec<BuiltComponent>,
    /// Every object the build uses (the gc root).
    pub objects: BTreeSet<ObjectName>,
}

impl BuildReport {
    pub fn rendered(&self) -> usize {
        self.components.iter().map(|c| c.rendered).sum()
    }

    pub fn cached(&self) -> usize {
        self.components.iter().map(|c| c.cached).sum()
    }

    pub fn files(&self) -> usize {
        self.components.iter().map(|c| c.files.len()).sum()
    }

    /// The work directory `component` runs in: its own, or its owner's for a hook.
    pub fn workdir_of(&self, component: &Component) -> Option<&BuiltComponent> {
        let address = component.workdir_of();
        // `build_with` keeps the project's order: by stack, then name.
        let wanted = address.split_once('/');
        match self.components.binary_search_by(|b| b.address.split_once('/').cmp(&wanted)) {
            Ok(at) => Some(&self.components[at]),
            Err(_) => self.components.iter().find(|b| b.address == address),
        }
    }
}

/// Builds the components at `addresses` into `store` (in parallel). Each component's objects
/// become its gc root (`build.STACK.NAME`); a build of the whole project also drops the roots
/// of components that no longer exist.
pub fn build(
    project: &Project,
    addresses: &[String],
    store: &Store,
) -> Result<BuildReport, RunnerError> {
    build_with(project, addresses, store, true)
}

/// Computes every work directory's derivation and object name; writes them to the store only
/// with `realise` (otherwise `realise_component` does, for the components that run).
pub fn build_with(
    project: &Project,
    addresses: &[String],
    store: &Store,
    realise: bool,
) -> Result<BuildReport, RunnerError> {
    let store_error =
        |e| RunnerError { address: None, kind: RunnerErrorKind::Store(e), help: None };
    // Shared with other builds; gc waits for it.
    let _lock = store.lock(false).map_err(store_error)?;
    // Written without an fsync each, made durable at once at the end.
    let batch = store.batch();
    let store = batch.store();
    let components: Vec<&Component> = {
        // Hashed: 10,000 addresses in an ordered set were 20,000 searches of string compares.
        let wanted: std::collections::HashSet<&str> =
            addresses.iter().map(String::as_str).collect();
        // A hook runs in its component's work directory.
        let mut owners = std::collections::HashSet::new();
        let mut selected = Vec::new();
        for component in project.components() {
            let address = component.address();
            let owner = component.workdir_of();
            if wanted.contains(address.as_str()) {
                owners.insert(owner.clone());
            }
            selected.push((component, address, owner));
        }
        // A hook has no work directory of its own.
        selected
            .into_iter()
            .filter(|(_, address, owner)| {
                owner == address && (wanted.contains(address.as_str()) || owners.contains(address))
            })
            .map(|(component, _, _)| component)
            .collect()
    };
    // A module is usually shared by many components: hash each source tree once.
    let mut dirs: BTreeSet<&Path> = components.iter().filter_map(|c| c.source_dir()).collect();
    // And every module directory shipped with a component (`source = "../shared"`).
    dirs.extend(components.iter().flat_map(|c| {
        c.terraform().into_iter().flat_map(|t| t.siblings.iter().map(|s| s.dir.as_path()))
    }));
    let dirs: Vec<&Path> = dirs.into_iter().collect();
    let hashed: Vec<(&Path, Result<Tree, StoreError>)> =
        map_all(&dirs, |dir| (*dir, hash_tree_dir(dir, &keep_source)));
    let mut trees = BTreeMap::new();
    for (dir, tree) in hashed {
        let address = components
            .iter()
            .find(|c| {
                c.source_dir() == Some(dir)
                    || c.terraform().is_some_and(|t| t.siblings.iter().any(|s| s.dir == dir))
            })
            .map(|c| c.address())
            .unwrap_or_default();
        trees.insert(dir, tree.map_err(|e| RunnerError::store(&address, e))?);
    }
    // The roots as they are, listed once when there are many to set (most hold what they
    // held); a few are looked at one by one (listing 10,000 roots for one was 4 ms).
    let present = match components.len() {
        0..=64 => None,
        _ => Some(store.root_files().map_err(store_error)?),
    };
    // Each component's build, its objects and its gc root's name.
    type Built = (BuiltComponent, BTreeSet<ObjectName>, String);
    let results: Vec<Result<Built, RunnerError>> = map_all(&components, |c| {
        let (built, objects) = build_component(project, c, &trees, store, realise)?;
        let root = format!("build.{}", built.address.replace('/', "."));
        if built.pending.is_none() {
            match &present {
                Some(present) => store.set_root_in(&root, &objects, present),
                None => store.set_root(&root, &objects),
            }
            .map_err(|e| RunnerError::store(&built.address, e))?;
        }
        Ok((built, objects, root))
    });
    let mut report = BuildReport::default();
    let mut roots = BTreeSet::new();
    for result in results {
        let (built, objects, root) = result?;
        roots.insert(root);
        report.objects.extend(objects);
        report.components.push(built);
    }
    let own_workdirs = project.components().filter(|c| c.workdir_of() == c.address()).count();
    if realise && report.components.len() == own_workdirs {
        store.remove_roots_except("build.", &roots).map_err(store_error)?;
    }
    batch.commit().map_err(store_error)?;
    Ok(report)
}

/// `f` over `items`: in parallel when there are many, here when there are a few (a build of
/// one component started the thread pool for it: a tenth of a run of one component).
fn map_all<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    match items.len() {
        0..=8 => items.iter().map(f).collect(),
        _ => items.par_iter().map(f).collect(),
    }
}

/// A file of a work directory, before it is in the store.
#[derive(Debug, Clone)]
enum Source {
    /// A file of the module or a copied file: its path and node hash.
    File(std::path::PathBuf, Entry),
    /// A generated file.
    Generated(String, Vec<u8>),
}

/// Every file of `tree` (the directory `dir`) as a source under `prefix`; a symbolic link is
/// an error (a work directory holds regular files only).
fn add_tree(
    sources: &mut BTreeMap<String, Source>,
    prefix: &str,
    dir: &Path,
    tree: &Tree,
    address: &str,
) -> Result<(), RunnerError> {
    for (rel, entry) in tree.files() {
        if let Entry::Symlink(_) = entry {
            return Err(RunnerError {
                address: Some(address.to_owned()),
                kind: RunnerErrorKind::Source(format!(
                    "`{}` is a symbolic link",
                    dir.join(&rel).display()
                )),
                help: Some(
                    "a work directory holds regular files only: copy the target instead".into(),
                ),
            });
        }
        sources.insert(format!("{prefix}{rel}"), Source::File(dir.join(&rel), entry.clone()));
    }
    Ok(())
}

/// The module directories a component's files call outside its own, under
/// `.infra-modules/PATH`, and its files' calls rewritten to point there (see the evaluator's
/// `project/siblings.rs`).
fn ship_siblings(
    component: &Component,
    trees: &BTreeMap<&Path, Tree>,
    sources: &mut BTreeMap<String, Source>,
) -> Result<(), RunnerError> {
    let Some(terraform) = component.terraform() else { return Ok(()) };
    let address = component.address();
    let source_error = |message: String| RunnerError {
        address: Some(address.clone()),
        kind: RunnerErrorKind::Source(message),
        help: None,
    };
    for sibling in &terraform.siblings {
        let Some(tree) = trees.get(sibling.dir.as_path()) else { continue };
        let prefix = format!("{}/{}/", evaluator::MODULES_DIR, sibling.path);
        add_tree(sources, &prefix, &sibling.dir, tree, &address)?;
    }
    let mut by_file: BTreeMap<&str, Vec<&evaluator::SourceRewrite>> = BTreeMap::new();
    for rewrite in &terraform.rewrites {
        by_file.entry(rewrite.file.as_str()).or_default().push(rewrite);
    }
    for (file, rewrites) in by_file {
        // Only the module's own file (one of `files` may have replaced it).
        let Some(Source::File(path, _)) = sources.get(file) else { continue };
        if terraform.source.as_ref().map(|s| s.join(file)).as_ref() != Some(path) {
            continue;
        }
        let mut bytes =
            fs::read(path).map_err(|e| RunnerError::store(&address, store_io(path, e)))?;
        for rewrite in rewrites.iter().rev() {
            if bytes.get(rewrite.start..rewrite.end) != Some(rewrite.was.as_bytes()) {
                return Err(source_error(format!(
                    "`{}` changed while infra was reading it: run again",
                    path.display()
                )));
            }
            bytes.splice(rewrite.start..rewrite.end, rewrite.source.bytes());
        }
        let name = file.rsplit('/').next().unwrap_or(file).to_owned();
        sources.insert(file.to_owned(), Source::Generated(name, bytes));
    }
    Ok(())
}

/// Module files copied into work directories: all but `.terraform/`, state files, and the
/// project's own `.infra/` and `.git/` (a module may be the project directory itself).
fn keep_source(rel: &Path, is_dir: bool) -> bool {
    let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let excluded = if is_dir {
        matches!(name, ".terraform" | ".infra" | ".git")
    } else {
        name.contains(".tfstate")
    };
    !excluded
}

fn build_component(
    project: &Project,
    component: &Component,
    trees: &BTreeMap<&Path, Tree>,
    store: &Store,
    realise: bool,
) -> Result<(BuiltComponent, BTreeSet<ObjectName>), RunnerError> {
    let address = component.address();
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    if let Some(dir) = component.source_dir()
        && let Some(tree) = trees.get(dir)
    {
        add_tree(&mut sources, "", dir, tree, &address)?;
    }
    for (name, file) in component.terraform().into_iter().flat_map(|t| &t.files) {
        if let File::Copy(path) = file {
            // A directory: every file of it, under `name/`.
            if path.is_dir() {
                let tree = hash_tree_dir(path, &keep_source)
                    .map_err(|e| RunnerError::store(&address, e))?;
                add_tree(&mut sources, &format!("{name}/"), path, &tree, &address)?;
                continue;
            }
            let bytes =
                fs::read(path).map_err(|e| RunnerError::store(&address, store_io(path, e)))?;
            let executable =
                fs::metadata(path).map(|m| store::fsutil::is_executable(&m)).unwrap_or(false);
            let digest = hash_file_node(&bytes, executable);
            sources.insert(
                name.clone(),
                Source::File(
                    path.clone(),
                    Entry::File { digest, executable, size: bytes.len() as u64 },
                ),
            );
        }
    }
    // After `files`: a module file that one of them replaced keeps its calls as written.
    ship_siblings(component, trees, &mut sources)?;
    let (_, fixed_inputs) = resolve::pending(component);
    for (name, bytes) in generated_files(project, component, &fixed_inputs, None) {
        sources.insert(
            name.clone(),
            Source::Generated(name.rsplit('/').next().unwrap_or(&name).to_owned(), bytes),
        );
    }
    let mut built = BuiltComponent {
        address: address.clone(),
        workdir: ObjectName::new(&Digest::of(b""), "x"),
        derivation: Digest::of(b""),
        files: BTreeMap::new(),
        upstream_inputs: resolve::pending(component).0,
        rendered: 0,
        cached: 0,
        pending: None,
    };
    // A path that is a file and also a directory of others (`files."sub"` over `sub/x.tf`).
    let names: Vec<&String> = sources.keys().collect();
    for pair in names.windows(2) {
        if pair[1].starts_with(&format!("{}/", pair[0])) {
            return Err(RunnerError {
                address: Some(address),
                kind: RunnerErrorKind::Source(format!(
                    "`{}` is a file, but `{}` needs it to be a directory",
                    pair[0], pair[1]
                )),
                help: Some("rename the file in `files`, or the module's directory".into()),
            });
        }
    }
    // First, every file's node hash and object name, in memory: if the work-directory
    // derivation was realised before, nothing else is looked up or written.
    let mut planned: Vec<(String, ObjectName, Entry, Source)> = Vec::with_capacity(sources.len());
    for (rel, source) in sources {
        let file_name = rel.rsplit('/').next().unwrap_or(&rel).to_owned();
        let entry = match &source {
            Source::File(_, entry) => entry.clone(),
            Source::Generated(_, bytes) => Entry::File {
                digest: hash_file_node(bytes, false),
                executable: false,
                size: bytes.len() as u64,
            },
        };
        let object = ObjectName::new(&entry.digest(), &file_name);
        built.files.insert(rel.clone(), entry.digest());
        planned.push((rel, object, entry, source));
    }
    let inputs = built.files.iter().map(|(rel, digest)| (rel.clone(), digest.to_hex())).collect();
    let name = format!("{}-{}", component.stack, component.name);
    built.derivation = Derivation::new(&name, "workdir", inputs).hash();
    let mut objects: BTreeSet<ObjectName> = planned.iter().map(|(_, o, _, _)| o.clone()).collect();
    let generated = planned.iter().filter(|p| matches!(p.3, Source::Generated(..))).count();
    if let Some(object) = store.realisation(&built.derivation) {
        built.cached += generated + 1;
        built.workdir = object.clone();
        objects.insert(object);
        return Ok((built, objects));
    }
    if !realise {
        // The object's name from its tree, computed in memory; written when it is needed.
        let tree = tree_from_files(planned.iter().map(|(rel, _, entry, _)| (rel, entry)))
            .ok_or_else(|| RunnerError {
                address: Some(address.clone()),
                kind: RunnerErrorKind::Source("a path that is a file and a directory".into()),
                help: None,
            })?;
        built.workdir = ObjectName::new(&tree.digest(), &name);
        objects.insert(built.workdir.clone());
        built.pending = Some(Arc::new(Pending { name, planned }));
        return Ok((built, objects));
    }
    write_component(store, &address, &name, planned, &mut built, &mut objects)?;
    Ok((built, objects))
}

/// Writes a component's work directory to the store if a lazy build left it out.
pub(crate) fn realise_component(store: &Store, built: &BuiltComponent) -> Result<(), RunnerError> {
    let Some(pending) = &built.pending else { return Ok(()) };
    if store.contains(&built.workdir) {
        return Ok(());
    }
    // Shared with builds; a concurrent `gc` waits until the objects are rooted.
    let _lock = store.lock(false).map_err(|e| RunnerError::store(&built.address, e))?;
    let batch = store.batch();
    let store = batch.store();
    let planned = pending
        .planned
        .iter()
        .map(|(rel, object, entry, source)| {
            (rel.clone(), object.clone(), entry.clone(), source.clone())
        })
        .collect();
    let mut copy = built.clone();
    let mut objects = BTreeSet::new();
    write_component(store, &built.address, &pending.name, planned, &mut copy, &mut objects)?;
    let root = format!("build.{}", built.address.replace('/', "."));
    store.set_root(&root, &objects).map_err(|e| RunnerError::store(&built.address, e))?;
    batch.commit().map_err(|e| RunnerError::store(&built.address, e))
}

fn write_component(
    store: &Store,
    address: &str,
    name: &str,
    planned: Vec<(String, ObjectName, Entry, Source)>,
    built: &mut BuiltComponent,
    objects: &mut BTreeSet<ObjectName>,
) -> Result<(), RunnerError> {
    let mut entries: BTreeMap<String, (ObjectName, Entry)> = BTreeMap::new();
    for (rel, object, entry, source) in planned {
        objects.insert(object.clone());
        let store_error = |e| RunnerError::store(address, e);
        match source {
            Source::File(path, entry) => {
                let file_name = rel.rsplit('/').next().unwrap_or(&rel);
                store.add_file_from(file_name, &path, &entry).map_err(store_error)?;
            }
            Source::Generated(name, bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let derivation =
                    Derivation::new(&name, "text", BTreeMap::from([("text".to_owned(), text)]));
                let digest = derivation.hash();
                if store.realisation(&digest).is_some() {
                    built.cached += 1;
                } else {
                    let (written, _) =
                        store.add_bytes(&name, &bytes, false).map_err(store_error)?;
                    store.add_realisation(&digest, &written).map_err(store_error)?;
                    built.rendered += 1;
                }
            }
        }
        entries.insert(rel, (object, entry));
    }
    let (object, _) = store.add_dir(name, &entries).map_err(|e| RunnerError::store(address, e))?;
    store
        .add_realisation(&built.derivation, &object)
        .map_err(|e| RunnerError::store(address, e))?;
    built.rendered += 1;
    built.workdir = object.clone();
    objects.insert(object);
    Ok(())
}

/// Writes the work directory of `component` to `dest`, ready for Terraform: writable copies
/// of its files, the local state path made absolute (so the copy shares the project's
/// state), and `infra.upstream.auto.tfvars.json` from `upstream` values.
pub fn export(
    project: &Project,
    component: &Component,
    built: &BuiltComponent,
    store: &Store,
    project_root: &Path,
    upstream: &BTreeMap<String, Json>,
    dest: &Path,
) -> Result<(), RunnerError> {
    let address = component.address();
    let export_error = |message: String| RunnerError {
        address: Some(address.clone()),
        kind: RunnerErrorKind::Export(message),
        help: None,
    };
    if dest.exists() && fs::read_dir(dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(export_error(format!("`{}` exists and is not empty", dest.display())));
    }
    let source = store.path(&built.workdir);
    for rel in built.files.keys() {
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| export_error(format!("cannot create `{}`: {e}", parent.display())))?;
        }
        let bytes = fs::read(source.join(rel))
            .map_err(|e| export_error(format!("cannot read `{rel}` from the store: {e}")))?;
        fs::write(&target, bytes)
            .map_err(|e| export_error(format!("cannot write `{}`: {e}", target.display())))?;
        // A writable copy that keeps the executable bit (scripts for `external` data sources).
        let executable = fs::metadata(source.join(rel))
            .map(|m| store::fsutil::is_executable(&m))
            .unwrap_or(false);
        set_copy_mode(&target, executable)
            .map_err(|e| export_error(format!("cannot set the mode of `{rel}`: {e}")))?;
    }
    let state_root = crate::Layout::new(project_root).tfstates();
    let (_, fixed_inputs) = resolve::pending(component);
    for (name, bytes) in generated_files(project, component, &fixed_inputs, Some(&state_root)) {
        fs::write(dest.join(&name), bytes)
            .map_err(|e| export_error(format!("cannot write `{name}`: {e}")))?;
    }
    if !upstream.is_empty() {
        let bytes = render::canonical_json(&Json::Object(upstream.clone().into_iter().collect()));
        fs::write(dest.join("infra.upstream.auto.tfvars.json"), bytes)
            .map_err(|e| export_error(format!("cannot write the upstream inputs: {e}")))?;
    }
    Ok(())
}

fn store_io(path: &Path, error: std::io::Error) -> store::StoreError {
    store::StoreError { path: Some(path.to_path_buf()), kind: store::StoreErrorKind::Io(error) }
}

/// A writable copy's mode: 0755 for executables, else 0644.
pub(crate) fn set_copy_mode(path: &Path, executable: bool) -> std::io::Result<()> {
    store::fsutil::set_mode(path, if executable { 0o755 } else { 0o644 })
}
