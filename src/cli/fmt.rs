//! `infra fmt [--check] [PATHS…]`: format `.infra` and `.nix` files in place (`lang::format`:
//! indentation, blanks and blank lines; tokens, line breaks, comments and strings kept). A
//! directory means every such file under it (not in hidden directories, `node_modules/` or
//! `target/`, nor through a link to a directory); no
//! path means the current directory. A file with syntax errors is reported and left as it is.
//! `--check` writes nothing, lists the files that would change and exits 1 if any would.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Args;

use crate::{error::CliError, output::Output};

/// Format .infra and .nix files in place (or, with --check, list the ones that would change).
#[derive(Debug, Args)]
pub(crate) struct FmtArgs {
    /// Files or directories (the current directory when none).
    paths: Vec<PathBuf>,
    /// Change nothing: list the files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    check: bool,
}

pub(crate) fn run(out: &mut Output, args: &FmtArgs) -> Result<ExitCode, CliError> {
    let roots = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    let mut files = Vec::new();
    for root in &roots {
        collect(root, &mut files).map_err(|e| {
            CliError::user("infra::io::read", format!("cannot read `{}`: {e}", root.display()))
        })?;
    }
    files.sort();
    let (mut changed, mut broken) = (Vec::new(), 0usize);
    for path in &files {
        let (file, text) = out.load(path)?;
        match lang::format(&text) {
            Err(errors) => {
                broken += 1;
                out.syntax_errors(file, &errors)?;
            }
            Ok(formatted) if formatted != text => {
                if !args.check {
                    store::fsutil::write_atomic_shared(path, formatted.as_bytes(), false).map_err(
                        |e| {
                            CliError::user(
                                "infra::io::write",
                                format!("cannot write `{}`: {e}", path.display()),
                            )
                        },
                    )?;
                }
                changed.push(path.display().to_string());
            }
            Ok(_) => {}
        }
    }
    if args.check {
        for path in &changed {
            out.data(&format!("{path}\n"))?;
        }
    } else if !changed.is_empty() {
        let files = if changed.len() == 1 { "file" } else { "files" };
        out.status(&format!("formatted {} {files}", changed.len()))?;
    }
    let failed = broken > 0 || (args.check && !changed.is_empty());
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `path` if it is a file, else every `.infra` and `.nix` file under it.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !path.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let source = |name: &str| name.ends_with(".infra") || name.ends_with(".nix");
    crate::sources::collect(path, &source, &|_| true, files)
}
