//! `infra parse FILE`: print the lossless syntax tree of a file.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;

use crate::{error::CliError, output::Output};

/// Print the syntax tree of a file, one node or token per line, with its byte range.
///
/// Diagnostics for any syntax errors go to stderr and the exit code is 1; the tree is printed
/// either way, error nodes included.
#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// The file to parse (`-` reads standard input).
    file: PathBuf,
}

pub(crate) fn run(out: &mut Output, args: &ParseArgs) -> Result<ExitCode, CliError> {
    let (file, text) = out.load(&args.file)?;
    let parse = lang::parse(&text);
    out.data(&parse.debug_tree())?;
    let n_errors = out.syntax_errors(file, parse.errors())?;
    Ok(if n_errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
