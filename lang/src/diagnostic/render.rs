//! Rendering diagnostics: for people through miette, for machines as JSON.
//!
//! This is the only code that knows miette. Both forms are snapshot-tested on the same cases.

use std::fmt;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use crate::{Diagnostic, Severity, SourceMap, Span};

/// How human-readable output should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours and bold text.
    pub color: bool,
    /// Unicode box drawing; ASCII otherwise.
    pub unicode: bool,
    /// Wrap width in columns.
    pub width: usize,
}

impl Style {
    /// No colour, Unicode: for logs, pipes and snapshots.
    pub fn plain() -> Style {
        Style { color: false, unicode: true, width: 100 }
    }
}

/// The first line of every error infra prints, with a place in a file or without:
/// `error[CODE]: MESSAGE` (the form rustc and cargo use; `error` red when coloured).
pub fn header(severity: Severity, code: &str, message: &str, style: Style) -> String {
    let (word, colour) = match severity {
        Severity::Error => ("error", "\u{1b}[1;31m"),
        Severity::Warning => ("warning", "\u{1b}[1;33m"),
    };
    if style.color {
        format!("{colour}{word}\u{1b}[0m\u{1b}[1m[{code}]: {message}\u{1b}[0m\n")
    } else {
        format!("{word}[{code}]: {message}\n")
    }
}

/// Renders a diagnostic: its `header`, then miette's graphical snippet of the source with the
/// labels, then the help line.
pub fn human(diagnostic: &Diagnostic, sources: &SourceMap, style: Style) -> String {
    let theme = match (style.unicode, style.color) {
        (true, true) => GraphicalTheme::unicode(),
        (true, false) => GraphicalTheme::unicode_nocolor(),
        (false, true) => GraphicalTheme::ascii(),
        (false, false) => GraphicalTheme::none(),
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(style.width);
    // A label on a very long line (a generated or minified file) is shown as a place, not a
    // snippet: the snippet would be unreadable, and miette cannot pad past 65,535 columns.
    let snippet = !labelled_spans(diagnostic)
        .any(|span| span.file == diagnostic.primary.file && on_long_line(sources, span));
    let adapter = Adapter { diagnostic, sources, snippet };
    let mut report = String::new();
    // Invariant: rendering into a String cannot fail; the header alone is still the message.
    if handler.render_report(&mut report, &adapter).is_err() {
        report.clear();
    }
    // miette's own first line is the (empty) message: the header takes its place.
    let rest = report.split_once('\n').map_or("", |(_, rest)| rest);
    let mut out = header(diagnostic.severity, diagnostic.code, &diagnostic.message, style);
    if !snippet {
        let span = &diagnostic.primary;
        let at = sources.line_col(span.file, span.range.start());
        let name = sources.name(span.file);
        out.push_str(&format!("  at {name}:{}:{} (a line too long to show)\n", at.line, at.column));
    }
    out.push_str(rest);
    // A label in another file cannot share the snippet: it is named by place (the function
    // called, written in the file imported), each place once (its first label says most).
    let mut named = Vec::new();
    for (span, message) in &diagnostic.labels {
        let place = (span.file, span.range.start());
        if span.file != diagnostic.primary.file && !named.contains(&place) {
            named.push(place);
            let at = sources.line_col(span.file, span.range.start());
            let name = sources.name(span.file);
            out.push_str(&format!("  note: {message}: {name}:{}:{}\n", at.line, at.column));
        }
    }
    // Without colour, escape sequences in messages (a `throw` of coloured text, as nixpkgs'
    // module system makes) are dropped, as Nix drops them when not writing to a terminal.
    if style.color { out } else { strip_escapes(&out) }
}

/// `text` without ANSI escape sequences (`ESC [ … letter`).
fn strip_escapes(text: &str) -> String {
    if !text.contains('\u{1b}') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Renders a diagnostic as one JSON object (the `--message-format json` wire format, version 1).
pub fn json(diagnostic: &Diagnostic, sources: &SourceMap) -> serde_json::Value {
    let span = |span: &Span| {
        let range = sources.clamp(span.file, span.range);
        let start = sources.line_col(span.file, range.start());
        let end = sources.line_col(span.file, range.end());
        serde_json::json!({
            "file": sources.name(span.file),
            "start": u32::from(range.start()),
            "end": u32::from(range.end()),
            "line": start.line,
            "column": start.column,
            "end_line": end.line,
            "end_column": end.column,
        })
    };
    serde_json::json!({
        "version": 1,
        "code": diagnostic.code,
        "severity": match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "message": diagnostic.message,
        "span": span(&diagnostic.primary),
        "labels": diagnostic.labels.iter().map(|(s, message)| {
            let mut value = span(s);
            value["message"] = serde_json::Value::String(message.clone());
            value
        }).collect::<Vec<_>>(),
        "help": diagnostic.help,
    })
}

/// Lines longer than this are not shown in a snippet.
const LONG_LINE: usize = 2_000;

/// The primary span and the other labels' spans.
fn labelled_spans(diagnostic: &Diagnostic) -> impl Iterator<Item = &Span> {
    std::iter::once(&diagnostic.primary).chain(diagnostic.labels.iter().map(|(span, _)| span))
}

/// Whether `span` starts or ends on a line longer than `LONG_LINE` bytes.
fn on_long_line(sources: &SourceMap, span: &Span) -> bool {
    let text = sources.text(span.file);
    let range = sources.clamp(span.file, span.range);
    [usize::from(range.start()), usize::from(range.end())].into_iter().any(|at| {
        let at = at.min(text.len());
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        end - start > LONG_LINE
    })
}

/// Presents a `Diagnostic` to miette without copying any source text.
struct Adapter<'a> {
    diagnostic: &'a Diagnostic,
    sources: &'a SourceMap,
    /// Whether to show the source around the labels.
    snippet: bool,
}

impl fmt::Debug for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Adapter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("") // the message is in the header
    }
}

impl std::error::Error for Adapter<'_> {}

impl miette::Diagnostic for Adapter<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        None // in the header
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        if self.snippet { Some(self) } else { None }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if !self.snippet {
            return None;
        }
        let file = self.diagnostic.primary.file;
        let primary = LabeledSpan::new_primary_with_span(
            Some(short_label(&self.diagnostic.message)),
            self.source_span(&self.diagnostic.primary),
        );
        // Labels in other files cannot share this snippet; they are listed after it (`render`).
        let others = self.diagnostic.labels.iter().filter(move |(span, _)| span.file == file).map(
            |(span, message)| {
                LabeledSpan::new_with_span(Some(message.clone()), self.source_span(span))
            },
        );
        Some(Box::new(std::iter::once(primary).chain(others)))
    }
}

impl Adapter<'_> {
    fn source_span(&self, span: &Span) -> SourceSpan {
        let range = self.sources.clamp(span.file, span.range);
        let (start, len) = (usize::from(range.start()), usize::from(range.len()));
        // An empty span at the very end of a text with no final line break (`1 +`, found end
        // of file) has no column miette can draw: it marks the last character instead.
        let text = self.sources.text(span.file);
        if len == 0
            && start == text.len()
            && let Some(last) = text.chars().next_back().filter(|c| *c != '\n')
        {
            return SourceSpan::new((start - last.len_utf8()).into(), last.len_utf8());
        }
        SourceSpan::new(start.into(), len)
    }
}

impl SourceCode for Adapter<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let file = self.diagnostic.primary.file;
        let text: &'b str = self.sources.text(file);
        let contents = text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.sources.name(file).to_owned(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

/// The label under the primary span: the message up to its first comma, kept short.
fn short_label(message: &str) -> String {
    message.split(", found").next().unwrap_or(message).to_owned()
}
