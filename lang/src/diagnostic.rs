//! Diagnostics as plain data: a code, a message, a primary span, labels and a help line.
//!
//! Every crate reports problems as `Diagnostic`s over `Span`s into a `SourceMap`; only
//! `diagnostic::render` knows how they look on a terminal (miette) or in JSON.

pub mod render;

use crate::{FileId, SyntaxError, TextRange};

/// Where something is: a file and a range in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub range: TextRange,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem to show a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// A stable code such as `infra::parse::unexpected_token`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub primary: Span,
    /// More places, each with a short message.
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diagnostic {
    /// The diagnostic for a syntax error found in `file`.
    pub fn from_syntax_error(file: FileId, error: &SyntaxError) -> Diagnostic {
        Diagnostic {
            code: error.kind.code(),
            severity: Severity::Error,
            message: error.message.clone(),
            primary: Span { file, range: error.range },
            labels: error
                .labels
                .iter()
                .map(|(range, message)| (Span { file, range: *range }, message.clone()))
                .collect(),
            help: error.help.clone(),
        }
    }
}
