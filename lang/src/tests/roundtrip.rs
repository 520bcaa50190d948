//! The lossless property: for any input, the tree's text is the input, and nothing panics.

use proptest::prelude::*;

/// Pieces that make inputs look like code, so the generator reaches deep into the grammar.
const PIECES: &[&str] = &[
    " ",
    "\n",
    "\t",
    "x",
    "abc",
    "or",
    "let",
    "in",
    "rec",
    "with",
    "if",
    "then",
    "else",
    "assert",
    "inherit",
    "1",
    "2.5",
    ".5",
    "=",
    ";",
    ":",
    ",",
    ".",
    "...",
    "@",
    "?",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "''",
    "'",
    "${",
    "$",
    "\\",
    "+",
    "++",
    "-",
    "->",
    "*",
    "/",
    "//",
    "!",
    "!=",
    "==",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "|>",
    "<|",
    "./a",
    "../b/c",
    "~/x",
    "/abs",
    "<infra>",
    "a/b",
    "x:x",
    "http://e.org",
    "#c\n",
    "/*",
    "*/",
    "€",
    "é",
    "\r",
];

fn code() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..60).prop_map(|pieces| pieces.concat())
}

fn check(text: &str) {
    let parse = crate::parse(text);
    assert_eq!(parse.syntax_node().to_string(), text);
    let tokens = crate::tokenize(text);
    let lexed: String = tokens.iter().map(|t| &text[t.range]).collect();
    assert_eq!(lexed, text);
    for error in parse.errors() {
        assert!(usize::from(error.range.end()) <= text.len(), "error range out of bounds");
    }
    // The typed AST must hold up on broken trees too.
    let _ = parse.tree().expr();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn code_like_input_round_trips(text in code()) {
        check(&text);
    }

    #[test]
    fn arbitrary_text_round_trips(text in any::<String>()) {
        check(&text);
    }
}

#[test]
fn every_corpus_file_survives_every_truncation() {
    // Cutting a valid file anywhere yields unterminated constructs of every kind.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/parser/ok");
    let entries = std::fs::read_dir(dir).expect("test_data/parser/ok exists");
    let mut n_files = 0;
    for entry in entries.flatten() {
        if entry.path().extension().is_none_or(|e| e != "infra") {
            continue;
        }
        n_files += 1;
        let text = std::fs::read_to_string(entry.path()).expect("read a corpus file");
        for (cut, _) in text.char_indices() {
            check(&text[..cut]);
        }
    }
    assert!(n_files > 50, "the corpus went missing");
}
