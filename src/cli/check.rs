//! `infra check FILE...`: parse and validate files, report every diagnostic.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;

use crate::{error::CliError, output::Output};

/// Check files for syntax errors and invalid definitions (duplicate attributes, repeated
/// arguments, …), reporting every problem found.
///
/// Exits with 0 when every file is clean and 1 when any diagnostic was reported.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The files to check (can be repeated).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub(crate) fn run(out: &mut Output, args: &CheckArgs) -> Result<ExitCode, CliError> {
    let mut n_errors = 0;
    let mut evaluator = evaluator::Evaluator::new(Box::new(crate::io::RealIo::default()));
    for path in &args.files {
        match out.load(path) {
            Ok((file, text)) => {
                let parse = lang::parse(&text);
                let syntax = out.syntax_errors(file, parse.errors())?;
                n_errors += syntax;
                if syntax > 0 {
                    continue;
                }
                // What `infra eval` would reject before evaluating: undefined variables.
                let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
                let base = std::path::absolute(&base).unwrap_or(base);
                let name = path.display().to_string();
                for diagnostic in evaluator.check_text(&name, &text, base) {
                    out.diagnostic_in(evaluator.sources(), &diagnostic)?;
                    n_errors += 1;
                }
            }
            Err(err) if !err.is_fatal() => {
                out.report_error(&err);
                n_errors += 1;
            }
            Err(err) => return Err(err),
        }
    }
    if n_errors > 0 && out.is_human() {
        let files = if args.files.len() == 1 { "file" } else { "files" };
        let errors = if n_errors == 1 { "error" } else { "errors" };
        out.status(&format!("{n_errors} {errors} in {} {files}", args.files.len()))?;
    }
    Ok(if n_errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
