//! Tidy: the architecture rules of docs/ARCHITECTURE.md, checked over the whole tree.
//! Dependency direction between workspace crates, rowan and nom only in `lang`, a `//!` doc at
//! the top of every Rust file, no `mod.rs`, no ignored or should-panic tests, and every
//! integration-test module declared.

use std::path::Path;

use crate::support::{files, root};

/// The workspace edges allowed: crate (its directory) → the workspace crates it may depend on.
/// `alloc` (the allocator and thin shared pointers) is a leaf, like `store`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("alloc", &[]),
    ("lang", &[]),
    ("stdlib", &[]),
    ("store", &[]),
    ("evaluator", &["alloc", "lang", "stdlib", "store"]),
    ("runner", &["evaluator", "store"]),
];

/// A crate's package name, as a manifest names it, from its directory.
fn package(dir: &str) -> &str {
    if dir == "alloc" { "alloc-shim" } else { dir }
}

#[test]
fn workspace_dependencies_point_one_way() {
    let crates: Vec<&str> = ALLOWED.iter().map(|(name, _)| *name).collect();
    for (name, allowed) in ALLOWED {
        let manifest =
            std::fs::read_to_string(root().join(name).join("Cargo.toml")).expect("read manifest");
        for dep in crates.iter().filter(|dep| *dep != name) {
            let package = package(dep);
            let declared = manifest.lines().any(|line| {
                let line = line.trim();
                line.starts_with(&format!("{package}.workspace"))
                    || line.starts_with(&format!("{package} ="))
                    || line.starts_with(&format!("{package}={{"))
            });
            assert!(
                !declared || allowed.contains(dep),
                "`{name}` must not depend on `{dep}` (allowed: {allowed:?}); see docs/ARCHITECTURE.md"
            );
        }
    }
}

#[test]
fn only_lang_knows_rowan_and_nom() {
    for path in rust_files() {
        let relative = relative(&path);
        if relative.starts_with("lang/") || relative == "tests/it/tidy.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        for banned in ["rowan::", "nom::", "use rowan", "use nom"] {
            assert!(!text.contains(banned), "{relative}: `{banned}` outside lang/");
        }
    }
}

#[test]
fn every_rust_file_has_a_module_doc_and_no_mod_rs() {
    for path in rust_files() {
        let relative = relative(&path);
        assert!(
            !relative.ends_with("/mod.rs"),
            "{relative}: write `x.rs` next to `x/`, not `x/mod.rs`"
        );
        let text = std::fs::read_to_string(&path).expect("read");
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(first.starts_with("//!"), "{relative}: start the file with a `//!` module doc");
    }
}

#[test]
fn no_ignored_or_should_panic_tests() {
    for path in rust_files() {
        let text = std::fs::read_to_string(&path).expect("read");
        for banned in ["#[ignore", "#[should_panic"] {
            let banned_here = text.lines().any(|l| l.trim_start().starts_with(banned));
            assert!(
                !banned_here,
                "{}: `{banned}` (assert today's behaviour instead)",
                relative(&path)
            );
        }
    }
}

#[test]
fn no_forgotten_integration_test_files() {
    let main = std::fs::read_to_string(root().join("tests/it/main.rs")).expect("read main.rs");
    for path in files(&root().join("tests/it"), "rs") {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if stem == "main" || path.parent() != Some(&root().join("tests/it")) {
            continue;
        }
        assert!(
            main.contains(&format!("mod {stem};")),
            "tests/it/{stem}.rs is not declared in main.rs"
        );
    }
}

fn rust_files() -> Vec<std::path::PathBuf> {
    ["src", "alloc", "lang", "evaluator", "store", "runner", "stdlib", "tests"]
        .iter()
        .flat_map(|dir| files(&root().join(dir), "rs"))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().replace('\\', "/")
}
