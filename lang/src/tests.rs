//! Tests of the front end: golden directories, the lossless round trip, robustness.
//!
//! `test_data/{lexer,parser}/{ok,err}/*.infra` are the cases. Each has expectation files next to
//! it: `.tokens` (lexer), `.rast` (parser: tree and errors) and, for `err` cases, `.diag` (the
//! rendered diagnostics, human and JSON). A missing expectation is written on the first run;
//! `UPDATE_EXPECT=1` rewrites them all.

mod ast;
mod golden;
mod labels;
mod robustness;
mod roundtrip;

use crate::{Diagnostic, SourceMap, diagnostic::render, parse, tokenize};

/// The `.tokens` form of a file: one token per line, then lexical errors.
pub(crate) fn dump_tokens(text: &str) -> String {
    let mut out = String::new();
    for token in tokenize(text) {
        out.push_str(&format!("{:?}@{:?} {:?}\n", token.kind, token.range, &text[token.range]));
    }
    for error in &crate::lexer::lex(text).errors {
        out.push_str(&format!("lex error @{:?}: {:?}\n", error.range, error.kind));
    }
    out
}

/// The `.rast` form of a file: the tree, then every error with its code and range.
pub(crate) fn dump_parse(text: &str) -> String {
    let parse = parse(text);
    let mut out = parse.debug_tree();
    for error in parse.errors() {
        out.push_str(&format!(
            "error @{:?} {}: {}\n",
            error.range,
            error.kind.code(),
            error.message
        ));
    }
    out
}

/// The `.diag` form of a file: each diagnostic rendered for people, then as JSON.
pub(crate) fn dump_diagnostics(name: &str, text: &str) -> String {
    let parse = parse(text);
    let mut sources = SourceMap::new();
    let file = sources.add(name.to_owned(), text.to_owned());
    let mut out = String::new();
    for error in parse.errors() {
        let diagnostic = Diagnostic::from_syntax_error(file, error);
        out.push_str(&render::human(&diagnostic, &sources, render::Style::plain()));
        out.push_str(&render::json(&diagnostic, &sources).to_string());
        out.push_str("\n\n");
    }
    out
}
