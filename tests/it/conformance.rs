//! The evaluator conformance corpus, `tests/conformance/eval/{okay,fail}/`: each `okay` case
//! must print exactly its `.exp` (produced by the real `nix-instantiate --eval --strict`), each
//! `fail` case must fail with the diagnostics in its `.err` (written on the first run,
//! `UPDATE_EXPECT=1` rewrites). Cases where Nix 2.8 differs on purpose are listed by name.

#![allow(clippy::disallowed_methods)]

use std::{fmt::Write, path::Path};

use evaluator::{Evaluator, PrintMode};
use lang::diagnostic::render;

use crate::support::{TestIo, files, root};

/// Where infra differs from Nix 2.8 on purpose: the case, and what infra does instead.
const DIFFERS_FROM_NIX: &[(&str, &str)] = &[
    ("arith-overflow-add", "integer overflow is an error (Nix 2.8 wraps around)"),
    ("arith-overflow-mul", "integer overflow is an error (Nix 2.8 wraps around)"),
    ("builtins-has-names", "infra has `builtins.warn` (Nix 2.8 does not)"),
];

fn eval_strict(path: &Path) -> Result<String, String> {
    let mut evaluator = Evaluator::new(Box::new(TestIo));
    let result = evaluator.eval_file(path).and_then(|v| evaluator.print(&v, PrintMode::Strict));
    result.map_err(|error| {
        let mut out = String::new();
        for diagnostic in error.diagnostics() {
            out.push_str(&render::human(&diagnostic, evaluator.sources(), render::Style::plain()));
        }
        if out.is_empty() {
            out = format!("{}: {error}\n", error.kind.code());
        }
        out.replace(&root().display().to_string(), "[ROOT]")
    })
}

fn case_name(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

#[test]
fn okay_cases_print_what_nix_prints() {
    let cases: Vec<_> = files(&root().join("tests/conformance/eval/okay"), "infra")
        .into_iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("okay")))
        .collect();
    assert!(cases.len() > 200, "the corpus went missing");
    let mut failures = String::new();
    for path in &cases {
        let name = case_name(path);
        let expected = std::fs::read_to_string(path.with_extension("exp")).unwrap_or_default();
        let actual = eval_strict(path);
        if let Some((_, why)) = DIFFERS_FROM_NIX.iter().find(|(n, _)| *n == name) {
            if actual.is_ok_and(|text| format!("{text}\n") == expected) {
                let _ = writeln!(failures, "{name}: expected to differ from Nix ({why})");
            }
            continue;
        }
        match actual {
            Ok(text) if format!("{text}\n") == expected => {}
            Ok(text) => {
                let _ = writeln!(
                    failures,
                    "{name}:\n  nix:   {}\n  infra: {text}",
                    expected.trim_end()
                );
            }
            Err(error) => {
                let _ = writeln!(failures, "{name}: failed\n{error}");
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn fail_cases_fail_with_their_diagnostics() {
    let cases = files(&root().join("tests/conformance/eval/fail"), "infra");
    assert!(cases.len() > 40, "the corpus went missing");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = String::new();
    for path in &cases {
        let name = case_name(path);
        match eval_strict(path) {
            Ok(text) => {
                let _ = writeln!(failures, "{name}: evaluated to {text}");
            }
            Err(rendered) => {
                let expectation = path.with_extension("err");
                match std::fs::read_to_string(&expectation) {
                    Ok(expected) if !update => {
                        if expected != rendered {
                            let _ = writeln!(
                                failures,
                                "{name}: diagnostics changed (UPDATE_EXPECT=1 to accept)\n{rendered}"
                            );
                        }
                    }
                    _ => std::fs::write(&expectation, &rendered).expect("write .err"),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
