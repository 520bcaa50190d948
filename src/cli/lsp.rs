//! `infra lsp`: the language server, on stdin and stdout (see `src/lsp.rs`).

use std::process::ExitCode;

use clap::Args;

use crate::error::CliError;

/// Serve the language server protocol on stdin/stdout (for editors).
#[derive(Debug, Args)]
pub(crate) struct LspArgs {}

pub(crate) fn run(_: &LspArgs) -> Result<ExitCode, CliError> {
    crate::lsp::serve().map_err(|e| {
        CliError::user("infra::lsp::protocol", format!("the editor's connection: {e}"))
    })?;
    Ok(ExitCode::SUCCESS)
}
