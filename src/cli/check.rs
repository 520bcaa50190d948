//! `infra check [FILE...]`: parse and validate files, and the project they make, without
//! running anything; report every diagnostic.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Args;

use crate::{
    ctx::{Ctx, ENTRY},
    error::CliError,
    output::Output,
};

/// Check files for syntax errors and invalid definitions (duplicate attributes, repeated
/// arguments, undefined variables, …), reporting every problem found; for a project, also
/// evaluate it and report what `plan` would reject (a misspelt attribute of a component, a
/// reference to a component that is not there, a dependency cycle, an evaluation error, a
/// variable a module requires that is given no value).
///
/// Without FILE, checks the project of the current directory (or `-C DIR`): every `.infra`
/// file under its root (hidden directories, `node_modules` and projects of their own left
/// out), then the project. A FILE named `main.infra` checks its project too; a directory
/// stands for its files and its project. Nothing is written and Terraform is not run.
///
/// Exits with 0 when everything is clean and 1 when any diagnostic was reported.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The files to check (can be repeated); the project's when none.
    files: Vec<PathBuf>,
}

pub(crate) fn run(
    out: &mut Output,
    dir: Option<&Path>,
    args: &CheckArgs,
) -> Result<ExitCode, CliError> {
    let (files, projects) = if args.files.is_empty() {
        let ctx = Ctx::discover(dir)?;
        let mut files = Vec::new();
        infra_files(&ctx.root, &mut files);
        (files, vec![ctx.entry()])
    } else {
        // A directory stands for its files, and its project when it has one.
        let (mut files, mut projects) = (Vec::new(), Vec::new());
        for path in &args.files {
            if path.is_dir() {
                infra_files(path, &mut files);
                if path.join(ENTRY).is_file() {
                    projects
                        .push(std::path::absolute(path.join(ENTRY)).unwrap_or(path.join(ENTRY)));
                }
                continue;
            }
            if path.file_name() == Some(ENTRY.as_ref()) {
                projects.push(std::path::absolute(path).unwrap_or(path.clone()));
            }
            files.push(path.clone());
        }
        (files, projects)
    };
    let mut n_errors = 0;
    let mut failed = Vec::new();
    let mut evaluator = evaluator::Evaluator::new(Box::new(crate::io::RealIo::default()));
    for path in &files {
        let errors = check_file(out, &mut evaluator, path)?;
        if errors > 0 {
            failed.push(std::path::absolute(path).unwrap_or(path.clone()));
        }
        n_errors += errors;
    }
    // A project whose entry does not parse is not evaluated (it would only repeat the error);
    // one whose other files do is, without their syntax errors again.
    for entry in projects.iter().filter(|entry| !failed.contains(entry)) {
        let mut evaluator = evaluator::Evaluator::new(Box::new(crate::io::RealIo::default()));
        let Err(error) = evaluator.check_project(entry) else { continue };
        let diagnostics = error.diagnostics();
        if diagnostics.is_empty() {
            out.report_error(&CliError::user(error.kind.code(), error.to_string()));
            n_errors += 1;
        }
        for diagnostic in &diagnostics {
            // An error in a file already reported on its own is that report again.
            let file = Path::new(evaluator.sources().name(diagnostic.primary.file));
            let file = std::path::absolute(file).unwrap_or(file.to_path_buf());
            if !failed.contains(&file) {
                out.diagnostic_in(evaluator.sources(), diagnostic)?;
                n_errors += 1;
            }
        }
    }
    if n_errors > 0 && out.is_human() {
        let noun = if files.len() == 1 { "file" } else { "files" };
        let errors = if n_errors == 1 { "error" } else { "errors" };
        out.status(&format!("{n_errors} {errors} in {} {noun}", files.len().max(1)))?;
    }
    Ok(if n_errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The diagnostics of one file on its own: syntax, then undefined variables.
fn check_file(
    out: &mut Output,
    evaluator: &mut evaluator::Evaluator,
    path: &Path,
) -> Result<usize, CliError> {
    let (file, text) = match out.load(path) {
        Ok(loaded) => loaded,
        Err(err) if !err.is_fatal() => {
            out.report_error(&err);
            return Ok(1);
        }
        Err(err) => return Err(err),
    };
    let parse = lang::parse(&text);
    let syntax = out.syntax_errors(file, parse.errors())?;
    if syntax > 0 {
        return Ok(syntax);
    }
    // What `infra eval` would reject before evaluating: undefined variables.
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = std::path::absolute(&base).unwrap_or(base);
    let name = path.display().to_string();
    let mut errors = 0;
    for diagnostic in evaluator.check_text(&name, &text, base) {
        out.diagnostic_in(evaluator.sources(), &diagnostic)?;
        errors += 1;
    }
    Ok(errors)
}

/// Every `.infra` file under `dir`, in name order (`sources::collect`), but not in a
/// directory holding a project of its own (a `main.infra`).
fn infra_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut found = Vec::new();
    let enter = |sub: &Path| !sub.join(ENTRY).is_file();
    // An unreadable directory has no files to check.
    let _ = crate::sources::collect(dir, &|name| name.ends_with(".infra"), &enter, &mut found);
    found.sort();
    files.extend(found);
}
