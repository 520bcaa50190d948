//! Labels that a snippet cannot show.

use crate::{
    Diagnostic, Severity, SourceMap, TextRange, TextSize,
    diagnostic::{Span, render},
};

fn span(file: crate::FileId, start: u32, end: u32) -> Span {
    Span { file, range: TextRange::new(TextSize::new(start), TextSize::new(end)) }
}

/// An error at `primary`, with no labels or help yet.
fn error(code: &'static str, message: &str, primary: Span) -> Diagnostic {
    Diagnostic {
        code,
        severity: Severity::Error,
        message: message.into(),
        primary,
        labels: Vec::new(),
        help: None,
    }
}

#[test]
fn a_label_in_another_file_is_named_by_place() {
    let mut sources = SourceMap::new();
    let call = sources.add("main.nix".into(), "import ./lib.nix { a = 1; }".into());
    let lib = sources.add("lib.nix".into(), "# the library\n{ a, b }: a\n".into());
    let mut diagnostic = error(
        "infra::eval::missing_argument",
        "function called without required argument `b`",
        span(call, 0, 27),
    );
    diagnostic.labels = vec![(span(lib, 14, 22), "the arguments the function takes".into())];
    let text = render::human(&diagnostic, &sources, render::Style::plain());
    assert!(text.contains("  note: the arguments the function takes: lib.nix:2:1\n"), "{text}");
    // A label in the same file is drawn, not listed.
    let mut same = diagnostic.clone();
    same.labels = vec![(span(call, 7, 16), "the file".into())];
    let text = render::human(&same, &sources, render::Style::plain());
    assert!(!text.contains("note:") && text.contains("the file"), "{text}");
}

#[test]
fn the_end_of_a_text_without_a_final_line_break_marks_its_last_character() {
    let mut sources = SourceMap::new();
    let file = sources.add("e.nix".into(), "1 +".into());
    let diagnostic = error(
        "infra::parse::unexpected_eof",
        "expected an expression, found end of file",
        span(file, 3, 3),
    );
    let text = render::human(&diagnostic, &sources, render::Style::plain());
    assert!(text.contains("1 +\n") && text.contains("╰── expected an expression"), "{text}");
}
