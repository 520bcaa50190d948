//! Work directories: `.infra/work/STACK/NAME`, synchronised from the work-directory object
//! before each run. Files infra wrote last time and no longer has are removed (the manifest
//! `.infra-files` lists them); `.terraform/`, the lock file and anything else Terraform or the
//! user put there are kept. Unchanged files are not rewritten.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

use store::{Digest, ObjectName, Store, hash_file_node};

/// The manifest of files infra wrote into a work directory.
const MANIFEST: &str = ".infra-files";
/// Inputs read from upstream outputs, written at run time.
pub(crate) const UPSTREAM_TFVARS: &str = "infra.upstream.auto.tfvars.json";

/// The upstream inputs file of a work directory.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UpstreamFile<'a> {
    /// Written with these bytes.
    Write(&'a [u8]),
    /// There is none (removed if infra wrote one before).
    Absent,
    /// Left as it is (a hook running in its component's work directory).
    Keep,
}

/// Makes `dest` hold the files of `object` (with `files` their node hashes) and the upstream
/// inputs file as `upstream` says.
pub(crate) fn sync(
    store: &Store,
    object: &ObjectName,
    files: &BTreeMap<String, Digest>,
    upstream: UpstreamFile<'_>,
    dest: &Path,
) -> std::io::Result<()> {
    fs::create_dir_all(dest)?;
    let old: BTreeSet<String> = fs::read_to_string(dest.join(MANIFEST))
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    let mut new: BTreeSet<String> = files.keys().cloned().collect();
    match upstream {
        UpstreamFile::Write(_) => {
            new.insert(UPSTREAM_TFVARS.to_owned());
        }
        UpstreamFile::Keep if old.contains(UPSTREAM_TFVARS) => {
            new.insert(UPSTREAM_TFVARS.to_owned());
        }
        UpstreamFile::Keep | UpstreamFile::Absent => {}
    }
    for stale in old.difference(&new) {
        match fs::remove_file(dest.join(stale)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    let source = store.path(object);
    for (rel, digest) in files {
        let target = dest.join(rel);
        let from = source.join(rel);
        let executable = fs::metadata(&from).is_ok_and(|m| store::fsutil::is_executable(&m));
        if let Ok(bytes) = fs::read(&target)
            && hash_file_node(&bytes, executable) == *digest
        {
            continue;
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let _ = fs::remove_file(&target);
        fs::write(&target, fs::read(&from)?)?;
        crate::build::set_copy_mode(&target, executable)?;
    }
    if let UpstreamFile::Write(bytes) = upstream {
        fs::write(dest.join(UPSTREAM_TFVARS), bytes)?;
    }
    let mut manifest = String::new();
    for rel in &new {
        manifest.push_str(rel);
        manifest.push('\n');
    }
    fs::write(dest.join(MANIFEST), manifest)
}
