//! Small file-system helpers every layer needs the same way: atomic writes (a temporary beside
//! the target, optionally fsynced, renamed into place), private files (mode 0600 from the
//! start), and the executable bit.

use std::{fs, io::Write, path::Path};

/// Writes `bytes` to `path` atomically; with `durable`, fsynced before the rename. The file
/// is private (0600, a temporary file's mode).
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, durable, None)
}

/// `write_atomic`, with the file given `mode` before it is renamed into place (never visible
/// with another).
pub fn write_atomic_mode(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    mode: Option<u32>,
) -> std::io::Result<()> {
    replace_with(path, bytes, durable, Created::Private, mode)
}

/// Writes a file the user owns and reads with other tools (a formatted source, a project
/// `init` makes, a CI workflow) atomically: it keeps the permission bits of the file it
/// replaces, and a new file gets 0666 less the umask, as an editor would leave it, not
/// private as `write_atomic`'s.
pub fn write_atomic_shared(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    let kept = {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o777)
    };
    #[cfg(not(unix))]
    let kept = None;
    replace_with(path, bytes, durable, Created::Shared, kept)
}

/// The mode a temporary file is made with: a temporary's own 0600, or 0666 less the umask.
enum Created {
    Private,
    Shared,
}

/// Writes `bytes` to a temporary beside `path` (made `created`, then given `mode` if any),
/// fsynced with `durable`, and renames it into place.
fn replace_with(
    path: &Path,
    bytes: &[u8],
    durable: bool,
    created: Created,
    mode: Option<u32>,
) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tmp-");
    #[cfg(unix)]
    if let Created::Shared = created {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    #[cfg(not(unix))]
    let _ = created;
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    if let Some(mode) = mode {
        set_mode(temp.path(), mode)?;
    }
    if durable {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Creates `path` with mode 0600 (never readable by others, even briefly) and writes `bytes`;
/// an existing file is replaced only with `replace`.
pub fn write_private(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    set_mode(path, 0o600)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `SIZE:MTIME_NANOS` of a file: what changes when a binary is replaced (used to key caches
/// by a program without reading it).
pub fn stamp(meta: &fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}:{modified}", meta.len())
}

/// Whether a file has an executable bit.
pub fn is_executable(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// Sets a Unix mode (no-op elsewhere).
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// The names of a directory's entries that do not start with `.` (temporaries, markers in
/// the making); none when it cannot be read.
pub fn names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}
