//! The project corpus, `tests/conformance/project/{okay,fail}/`: each `okay` case's extracted
//! project (stacks, placed components, JSON inputs, references) must equal its `.exp`; each
//! `fail` case must fail with the rendered diagnostics in its `.err`. Both are written on the
//! first run; `UPDATE_EXPECT=1` rewrites them.

#![allow(clippy::disallowed_methods)]

use std::{fmt::Write, path::Path};

use evaluator::{Evaluator, Project};
use lang::diagnostic::render;

use crate::support::{TestIo, files, root};

fn extract(path: &Path) -> Result<String, String> {
    let mut evaluator = Evaluator::new(Box::new(TestIo));
    match evaluator.eval_project(path) {
        Ok(project) => Ok(describe(&project)),
        Err(error) => {
            let mut out = String::new();
            for diagnostic in error.diagnostics() {
                out.push_str(&render::human(
                    &diagnostic,
                    evaluator.sources(),
                    render::Style::plain(),
                ));
            }
            if out.is_empty() {
                out = format!("{}: {error}\n", error.kind.code());
            }
            Err(out.replace(&root().display().to_string(), "[ROOT]"))
        }
    }
}

/// The project as pretty JSON (the form the evaluation cache stores).
fn describe(project: &Project) -> String {
    let text = serde_json::to_string_pretty(&serde_json::to_value(project).unwrap_or_default())
        .unwrap_or_default();
    format!("{text}\n").replace(&root().display().to_string(), "[ROOT]")
}

fn check_corpus(kind: &str, expect_ok: bool) {
    let dir = root().join("tests/conformance/project").join(kind);
    let cases = files(&dir, "infra");
    assert!(cases.len() >= if expect_ok { 1 } else { 10 }, "the corpus went missing");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut failures = String::new();
    for path in &cases {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let (actual, extension) = match (extract(path), expect_ok) {
            (Ok(text), true) => (text, "exp"),
            (Err(text), false) => (text, "err"),
            (Ok(text), false) => {
                let _ = writeln!(failures, "{name}: should fail, but gave\n{text}");
                continue;
            }
            (Err(text), true) => {
                let _ = writeln!(failures, "{name}: failed\n{text}");
                continue;
            }
        };
        let expectation = path.with_extension(extension);
        match std::fs::read_to_string(&expectation) {
            Ok(expected) if !update => {
                if expected != actual {
                    let _ =
                        writeln!(failures, "{name}: changed (UPDATE_EXPECT=1 to accept)\n{actual}");
                }
            }
            _ => std::fs::write(&expectation, &actual).expect("write the expectation"),
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn okay_projects_extract_as_expected() {
    check_corpus("okay", true);
}

#[test]
fn fail_projects_fail_with_their_diagnostics() {
    check_corpus("fail", false);
}

/// Every project diagnostic code has a fail case.
#[test]
fn every_project_code_has_a_fail_case() {
    let mut all = String::new();
    for path in files(&root().join("tests/conformance/project/fail"), "err") {
        all.push_str(&std::fs::read_to_string(path).unwrap_or_default());
    }
    for code in [
        "infra::project::not_a_stack",
        "infra::project::duplicate_stack",
        "infra::project::duplicate_component",
        "infra::project::invalid_spec",
        "infra::project::unknown_component",
        "infra::project::dependency_cycle",
        "infra::project::unknown_output",
        "infra::project::unknown_input",
        "infra::project::placeholder_not_allowed",
        "infra::eval::template_missing_key",
        "infra::eval::secret_inspected",
        "infra::project::secret_not_allowed",
    ] {
        assert!(all.contains(code), "no fail case shows `{code}`");
    }
}

/// A run of some components evaluates only them and what they depend on
/// (`Evaluator::eval_project_upstream`): for every component of every okay case, that part
/// holds exactly the component's upstream closure, each node equal to the whole project's.
#[test]
fn the_part_a_run_evaluates_equals_the_whole_projects() {
    let mut cases = files(&root().join("tests/conformance/project/okay"), "infra");
    let examples = std::fs::read_dir(root().join("examples")).into_iter().flatten().flatten();
    cases.extend(examples.map(|e| e.path().join("main.infra")).filter(|p| p.is_file()));
    let mut checked = 0;
    for path in cases {
        let Ok(whole) = Evaluator::new(Box::new(TestIo)).eval_project(&path) else { continue };
        for component in whole.components() {
            let address = component.address();
            let part = Evaluator::new(Box::new(TestIo))
                .eval_project_upstream(&path, std::slice::from_ref(&address))
                .unwrap_or_else(|e| panic!("{}: {address}: {e}", path.display()));
            let mut closure = std::collections::BTreeSet::from([address.clone()]);
            loop {
                let before = closure.len();
                let upstream: Vec<String> = whole
                    .components()
                    .filter(|c| closure.contains(&c.address()))
                    .flat_map(|c| c.depends_on.iter().cloned())
                    .collect();
                closure.extend(upstream);
                if closure.len() == before {
                    break;
                }
            }
            let Some(part) = part else {
                // Only a hook (not a declared component), or what depends on one, falls back.
                let hook = |a: &String| whole.component(a).is_some_and(|c| c.kind_name() == "hook");
                assert!(closure.iter().any(hook), "{}: {address} fell back", path.display());
                continue;
            };
            let got: std::collections::BTreeSet<String> =
                part.components().map(|c| c.address()).collect();
            // The part may hold the hooks of what it read; every node of the closure is in it.
            assert!(closure.is_subset(&got), "{}: {address}: {got:?}", path.display());
            for node in part.components() {
                let full = whole.component(&node.address());
                assert_eq!(Some(node), full, "{}: {address}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} components checked");
}
