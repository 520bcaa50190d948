//! `CliError`: the one catch-all error type, only in the binary, each kind one exit code.

use std::{fmt, io, process::ExitCode};

/// What went wrong, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// Bad input from the user: a missing file, invalid UTF-8. Exit code 1.
    User,
    /// The output pipe was closed (`infra parse f | head`): not an error. Exit code 0.
    BrokenPipe,
    /// Anything else: a bug or the machine. Exit code 101.
    Internal,
}

#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) kind: ErrorKind,
    /// A stable code such as `infra::io::read`.
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) hints: Vec<String>,
}

impl CliError {
    pub(crate) fn user(code: &'static str, message: String) -> CliError {
        CliError { kind: ErrorKind::User, code, message, hints: Vec::new() }
    }

    pub(crate) fn with_hint(mut self, hint: String) -> CliError {
        self.hints.push(hint);
        self
    }

    /// Whether the command should stop (rather than go on with the next file).
    pub(crate) fn is_fatal(&self) -> bool {
        self.kind != ErrorKind::User
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        match self.kind {
            ErrorKind::User => ExitCode::FAILURE,
            ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            ErrorKind::Internal => ExitCode::from(101),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Writing to stdout or stderr failed.
impl From<io::Error> for CliError {
    fn from(err: io::Error) -> CliError {
        if err.kind() == io::ErrorKind::BrokenPipe {
            return CliError {
                kind: ErrorKind::BrokenPipe,
                code: "infra::io::broken_pipe",
                message: String::new(),
                hints: Vec::new(),
            };
        }
        CliError {
            kind: ErrorKind::Internal,
            code: "infra::io::write",
            message: format!("cannot write output: {err}"),
            hints: Vec::new(),
        }
    }
}
