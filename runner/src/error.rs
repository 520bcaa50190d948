//! Runner errors: what failed, for which component.

use std::fmt;

use store::StoreError;

/// A failed build (and later, run) step.
#[derive(Debug)]
pub struct RunnerError {
    /// The component (`STACK/NAME`) it concerns, if one.
    pub address: Option<String>,
    pub kind: RunnerErrorKind,
    pub help: Option<String>,
}

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunnerErrorKind {
    /// The store failed (reading a module, writing an object).
    Store(StoreError),
    /// A module source holds something a work directory cannot (a symbolic link).
    Source(String),
    /// Writing an exported directory failed.
    Export(String),
    /// A target that names no stack or component.
    UnknownTarget(String),
    /// Neither the configured tool nor `tofu`/`terraform` can be found.
    Tool(String),
}

impl RunnerError {
    pub(crate) fn store(address: &str, error: StoreError) -> RunnerError {
        RunnerError {
            address: Some(address.to_owned()),
            kind: RunnerErrorKind::Store(error),
            help: None,
        }
    }

    /// The stable code of the error.
    pub fn code(&self) -> &'static str {
        match self.kind {
            RunnerErrorKind::Store(_) => "infra::build::store",
            RunnerErrorKind::Source(_) => "infra::build::source",
            RunnerErrorKind::Export(_) => "infra::build::export",
            RunnerErrorKind::UnknownTarget(_) => "infra::build::unknown_target",
            RunnerErrorKind::Tool(_) => "infra::run::tool_not_found",
        }
    }
}

impl fmt::Display for RunnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(address) = &self.address {
            write!(f, "`{address}`: ")?;
        }
        match &self.kind {
            RunnerErrorKind::Store(e) => write!(f, "{e}"),
            RunnerErrorKind::Source(m) | RunnerErrorKind::Export(m) | RunnerErrorKind::Tool(m) => {
                write!(f, "{m}")
            }
            RunnerErrorKind::UnknownTarget(t) => write!(f, "`{t}` names no stack or component"),
        }
    }
}

impl std::error::Error for RunnerError {}
