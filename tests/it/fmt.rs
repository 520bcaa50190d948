//! `infra fmt`: over every conformance case and example, the formatted text parses, formats
//! to itself again (idempotence) and — for the conformance cases — evaluates to exactly what
//! infra makes of the original, value or error (the meaning is unchanged); `--check` lists what would change
//! and exits 1; a file with a syntax error is reported and left byte for byte.

#![allow(clippy::disallowed_methods)]

use evaluator::{Evaluator, PrintMode};

use crate::support::{TestIo, files, infra, root, scratch_dir};

/// Cases whose value is a source position (`__curPos`, `unsafeGetAttrPos`): formatting moves
/// columns, which is the one thing it may change.
const POSITIONAL: &[&str] = &["builtins-cur-pos", "builtins-unsafe-get-attr-pos"];

/// What infra makes of `text` (as the file `path`): the strict value, or the error.
fn evaluate(path: &std::path::Path, text: &str) -> String {
    let mut evaluator = Evaluator::new(Box::new(TestIo));
    let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    evaluator
        .eval_text(&path.display().to_string(), text, base)
        .and_then(|v| evaluator.print(&v, PrintMode::Strict))
        .unwrap_or_else(|e| format!("error {}: {e}", e.kind.code()))
}

#[test]
fn formatting_keeps_the_meaning_and_is_idempotent() {
    let corpus = root().join("tests/conformance/eval");
    let mut checked = 0;
    let mut failures = Vec::new();
    let cases = files(&corpus.join("okay"), "infra")
        .into_iter()
        .chain(files(&corpus.join("fail"), "infra"));
    for path in cases {
        let text = std::fs::read_to_string(&path).expect("read");
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let Ok(formatted) = lang::format(&text) else {
            // A case that does not parse is left alone (and that is what the test checks).
            continue;
        };
        if lang::format(&formatted).as_deref() != Ok(formatted.as_str()) {
            failures.push(format!("{name}: formatting twice changes it again"));
        }
        if POSITIONAL.contains(&name.as_str()) {
            continue;
        }
        let (before, after) = (evaluate(&path, &text), evaluate(&path, &formatted));
        // Errors may point elsewhere in the file; their codes and messages may not change.
        let (before, after) = (strip_positions(&before), strip_positions(&after));
        if before == after {
            checked += 1;
        } else {
            failures.push(format!("{name}: {before:?} became {after:?}"));
        }
    }
    for path in files(&root().join("examples"), "infra")
        .into_iter()
        .chain(files(&root().join("stdlib"), "infra"))
    {
        let text = std::fs::read_to_string(&path).expect("read");
        match lang::format(&text) {
            Ok(once) if lang::format(&once).as_deref() == Ok(once.as_str()) => {}
            Ok(_) => failures.push(format!("{}: not idempotent", path.display())),
            // The examples of mistakes are meant not to parse.
            Err(_) if path.to_string_lossy().contains("mistakes") => {}
            Err(_) => failures.push(format!("{}: does not format", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 300, "only {checked} cases checked");
}

/// `text` without `file:line:col` positions.
fn strip_positions(text: &str) -> String {
    text.split_whitespace().filter(|w| !w.contains(".infra:")).collect::<Vec<_>>().join(" ")
}

#[test]
fn check_lists_what_would_change_and_broken_files_stay_as_they_are() {
    let dir = scratch_dir("fmt");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    let messy = "{\nfoo =   1;\n    bar = [ 1\n2 ];\n}\n";
    let broken = "{ a = ; }\n";
    std::fs::write(dir.join("sub/messy.infra"), messy).expect("write");
    std::fs::write(dir.join("clean.infra"), "{\n  a = 1;\n}\n").expect("write");
    std::fs::write(dir.join("broken.nix"), broken).expect("write");
    #[cfg(unix)]
    let mode = |path: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(dir.join(path)).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let shared = std::fs::Permissions::from_mode(0o664);
        std::fs::set_permissions(dir.join("sub/messy.infra"), shared).expect("chmod");
    }
    let check = infra(&dir, &["fmt", "--check", "sub", "clean.infra"]);
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&check.stdout), "sub/messy.infra\n");
    assert_eq!(std::fs::read_to_string(dir.join("sub/messy.infra")).unwrap_or_default(), messy);
    let fixed = infra(&dir, &["fmt"]);
    assert_eq!(fixed.status.code(), Some(1), "the broken file fails the run");
    assert!(String::from_utf8_lossy(&fixed.stderr).contains("infra::parse::"));
    assert_eq!(
        std::fs::read_to_string(dir.join("sub/messy.infra")).unwrap_or_default(),
        "{\n  foo = 1;\n  bar = [ 1\n    2 ];\n}\n"
    );
    // Rewritten in place, the file keeps its mode (not a temporary file's private 0600).
    #[cfg(unix)]
    assert_eq!(mode("sub/messy.infra"), 0o664);
    assert_eq!(std::fs::read_to_string(dir.join("broken.nix")).unwrap_or_default(), broken);
    std::fs::remove_file(dir.join("broken.nix")).expect("rm");
    let clean = infra(&dir, &["fmt", "--check"]);
    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stdout));
    let _ = std::fs::remove_dir_all(&dir);
}
