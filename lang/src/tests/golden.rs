//! The golden directories: every case's tokens, tree, errors and rendered diagnostics.

#![allow(clippy::disallowed_methods)]

use std::{
    fs,
    path::{Path, PathBuf},
};

use crate::tests::{dump_diagnostics, dump_parse, dump_tokens};

#[test]
fn lexer_ok() {
    run_dir("lexer/ok", Expect::Clean, &[("tokens", dump_tokens)]);
}

#[test]
fn lexer_err() {
    run_dir("lexer/err", Expect::Errors, &[("tokens", dump_tokens)]);
}

#[test]
fn parser_ok() {
    run_dir("parser/ok", Expect::Clean, &[("rast", dump_parse)]);
}

#[test]
fn parser_err() {
    run_dir("parser/err", Expect::Errors, &[("rast", dump_parse)]);
}

#[test]
fn diagnostics_err() {
    for dir in ["parser/err", "lexer/err"] {
        let cases = cases(dir);
        assert!(!cases.is_empty(), "no cases in test_data/{dir}");
        for path in cases {
            let text = read(&path);
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let actual = dump_diagnostics(&name.unwrap_or_default(), &text);
            check_expectation(&path.with_extension("diag"), &actual);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Clean,
    Errors,
}

type Dump = fn(&str) -> String;

fn run_dir(dir: &str, expect: Expect, dumps: &[(&str, Dump)]) {
    let cases = cases(dir);
    assert!(!cases.is_empty(), "no cases in test_data/{dir}");
    let mut failures = Vec::new();
    for path in cases {
        let text = read(&path);
        let n_errors = crate::parse(&text).errors().len();
        match expect {
            Expect::Clean if n_errors > 0 => {
                failures.push(format!("{}: expected no errors, got {n_errors}", path.display()))
            }
            Expect::Errors if n_errors == 0 => {
                failures.push(format!("{}: expected errors, got none", path.display()))
            }
            _ => {}
        }
        let tree = crate::parse(&text).syntax_node().to_string();
        if tree != text {
            failures.push(format!("{}: the tree does not reproduce the text", path.display()));
        }
        for (extension, dump) in dumps {
            check_expectation(&path.with_extension(extension), &dump(&text));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn test_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")
}

fn cases(dir: &str) -> Vec<PathBuf> {
    let dir = test_data().join(dir);
    let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
    let mut cases: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "infra"))
        .collect();
    cases.sort();
    cases
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares with the expectation file; writes it when missing or when `UPDATE_EXPECT` is set.
#[track_caller]
fn check_expectation(path: &Path, actual: &str) {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    match fs::read_to_string(path) {
        Ok(expected) if !update => {
            if expected != actual {
                panic!(
                    "{} is out of date (run with UPDATE_EXPECT=1 to update)\n{}",
                    path.display(),
                    first_difference(&expected, actual)
                );
            }
        }
        _ => fs::write(path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    }
}

fn first_difference(expected: &str, actual: &str) -> String {
    let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b);
    let line = line.unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    format!(
        "first difference at line {}:\n  expected: {:?}\n  actual:   {:?}",
        line + 1,
        expected.lines().nth(line).unwrap_or("<end>"),
        actual.lines().nth(line).unwrap_or("<end>")
    )
}
