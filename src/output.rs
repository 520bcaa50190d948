//! Everything the binary prints: data to stdout, diagnostics and status to stderr, in the
//! `--message-format` and colour the user chose. Also loads source files into the `SourceMap`.

use std::{
    io::{self, IsTerminal, Read, Write},
    path::Path,
    process::ExitCode,
};

use lang::{Diagnostic, FileId, Severity, SourceMap, SyntaxError, diagnostic::render};

use crate::{
    cli::{ColorChoice, GlobalArgs, MessageFormat},
    error::{CliError, ErrorKind},
};

pub(crate) struct Output {
    format: MessageFormat,
    style: render::Style,
    sources: SourceMap,
    /// The current directory with a trailing `/`: paths under it are shown relative to it in
    /// what people read (JSON keeps them whole).
    here: Option<String>,
}

impl Output {
    pub(crate) fn new(global: &GlobalArgs) -> Output {
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => io::stderr().is_terminal() && !no_color(),
        };
        let width = terminal_width().unwrap_or(100);
        Output {
            format: global.message_format,
            style: render::Style { color, unicode: true, width },
            sources: SourceMap::new(),
            here: current_dir(),
        }
    }

    /// `text` with the paths under the current directory made relative to it.
    fn relative(&self, text: &str) -> String {
        match &self.here {
            Some(here) if here.len() > 1 => text.replace(here.as_str(), ""),
            _ => text.to_owned(),
        }
    }

    /// Whether stderr gets colour.
    pub(crate) fn color(&self) -> bool {
        self.style.color
    }

    pub(crate) fn is_human(&self) -> bool {
        self.format == MessageFormat::Human
    }

    /// Reads a source file (or stdin for `-`) into the source map.
    pub(crate) fn load(&mut self, path: &Path) -> Result<(FileId, String), CliError> {
        let shown = path.display().to_string();
        let bytes = if path == Path::new("-") {
            let mut bytes = Vec::new();
            io::stdin().read_to_end(&mut bytes).map(|_| bytes)
        } else {
            std::fs::read(path)
        };
        let bytes = bytes.map_err(|err| {
            CliError::user("infra::io::read", format!("cannot read `{shown}`: {err}"))
        })?;
        if bytes.len() > lang::MAX_FILE_SIZE {
            return Err(CliError::user(
                "infra::io::too_large",
                format!("`{shown}` is too large ({} bytes)", bytes.len()),
            ));
        }
        let text = String::from_utf8(bytes).map_err(|err| {
            let at = err.utf8_error().valid_up_to();
            CliError::user(
                "infra::io::invalid_utf8",
                format!("`{shown}` is not valid UTF-8 (at byte {at})"),
            )
            .with_hint("infra source files must be UTF-8 encoded".into())
        })?;
        let file = self.sources.add(shown, text.clone());
        Ok((file, text))
    }

    /// Prints data on stdout.
    pub(crate) fn data(&mut self, text: &str) -> Result<(), CliError> {
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        Ok(())
    }

    /// A status line for people, on stderr; nothing in JSON mode.
    pub(crate) fn status(&mut self, line: &str) -> Result<(), CliError> {
        if self.is_human() {
            writeln!(io::stderr().lock(), "{}", self.relative(line))?;
        }
        Ok(())
    }

    /// Reports syntax errors of `file`; returns how many there were.
    pub(crate) fn syntax_errors(
        &mut self,
        file: FileId,
        errors: &[SyntaxError],
    ) -> Result<usize, CliError> {
        for error in errors {
            self.diagnostic(&Diagnostic::from_syntax_error(file, error))?;
        }
        Ok(errors.len())
    }

    pub(crate) fn diagnostic(&mut self, diagnostic: &Diagnostic) -> Result<(), CliError> {
        let sources = std::mem::take(&mut self.sources);
        let result = self.diagnostic_in(&sources, diagnostic);
        self.sources = sources;
        result
    }

    /// Reports a diagnostic whose files are in `sources` (an evaluator's, say).
    pub(crate) fn diagnostic_in(
        &mut self,
        sources: &SourceMap,
        diagnostic: &Diagnostic,
    ) -> Result<(), CliError> {
        match self.format {
            MessageFormat::Human => {
                let text = self.relative(&render::human(diagnostic, sources, self.style));
                io::stderr().lock().write_all(text.as_bytes())?;
            }
            MessageFormat::Json => {
                let value = render::json(diagnostic, sources);
                writeln!(io::stdout().lock(), "{value}")?;
            }
        }
        Ok(())
    }

    /// Reports an error that has no place in a source file, and gives its exit code.
    pub(crate) fn report_error(&mut self, err: &CliError) -> ExitCode {
        if err.kind == ErrorKind::BrokenPipe {
            return err.exit_code();
        }
        let printed = match self.format {
            MessageFormat::Human => {
                let header = render::header(Severity::Error, err.code, &err.message, self.style);
                let mut text = self.relative(&header);
                for hint in &err.hints {
                    text.push_str(&format!("  help: {hint}\n"));
                }
                io::stderr().lock().write_all(text.as_bytes())
            }
            MessageFormat::Json => {
                let value = serde_json::json!({
                    "version": 1,
                    "code": err.code,
                    "severity": "error",
                    "message": err.message,
                    "span": null,
                    "labels": [],
                    "help": err.hints.first(),
                });
                writeln!(io::stdout().lock(), "{value}")
            }
        };
        // Nothing more can be done if even the error cannot be printed.
        let _ = printed;
        err.exit_code()
    }
}

/// The current directory, `/`-terminated.
fn current_dir() -> Option<String> {
    let dir = std::env::current_dir().ok()?;
    Some(format!("{}/", dir.display()))
}

#[allow(clippy::disallowed_methods)]
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[allow(clippy::disallowed_methods)]
fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse().ok()
}
