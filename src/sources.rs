//! The source files under a directory, as `fmt` and `check` find them: never through a link
//! to a directory (it could lead back up, a loop), and not into `.git`, `.infra` or any other
//! hidden directory, `node_modules` or `target`.

use std::{
    io,
    path::{Path, PathBuf},
};

/// Every file under `dir` whose name `wanted` accepts, into `files`; a directory is entered
/// when `enter` accepts it too.
pub(crate) fn collect(
    dir: &Path,
    wanted: &dyn Fn(&str) -> bool,
    enter: &dyn Fn(&Path) -> bool,
    files: &mut Vec<PathBuf>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        // Not followed: a link's own type, not its target's.
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let skipped =
                name.starts_with('.') || matches!(name.as_ref(), "node_modules" | "target");
            if !skipped && enter(&path) {
                collect(&path, wanted, enter, files)?;
            }
        } else if !(kind.is_symlink() && path.is_dir()) && wanted(&name) {
            files.push(path);
        }
    }
    Ok(())
}
