//! Hostile programs: each must end with a diagnostic and exit 1, in bounded time, under a 3 GB
//! address-space limit (a program that outgrew it would abort with a signal, not exit 1) and
//! a 1 GiB memory limit of infra's own (`INFRA_MAX_MEMORY`; by default three quarters of the
//! machine's memory): self-application, infinite data under `--strict`, deep recursion,
//! strings and lists that double in a loop, data that grows in breadth without end, a
//! pathological regular expression, and what `tools/fuzz` found.

#![allow(clippy::disallowed_methods)]

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const CASES: &[(&str, &str, &str)] = &[
    ("self-application", "(x: x x) (x: x x)", "infra::eval::max_call_depth"),
    ("infinite data", "let f = x: { a = f x; }; in f 1", "infra::eval::max_call_depth"),
    ("infinite list", "let f = x: [ (f x) ]; in f 1", "infra::eval::max_call_depth"),
    (
        "deep recursion",
        "let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 10000000",
        "infra::eval::max_call_depth",
    ),
    (
        "doubling strings",
        "let s = n: if n == 0 then \"x\" else let t = s (n - 1); in t + t; in builtins.stringLength (s 40)",
        "infra::eval::too_large",
    ),
    (
        "doubling interpolations",
        "let s = n: if n == 0 then \"x\" else let t = s (n - 1); in \"${t}${t}\"; in builtins.stringLength (s 40)",
        "infra::eval::too_large",
    ),
    (
        "doubling lists",
        "let l = n: if n == 0 then [ 1 ] else let t = l (n - 1); in t ++ t; in builtins.length (l 40)",
        "infra::eval::too_large",
    ),
    (
        "doubling concatLists",
        "let l = n: if n == 0 then [ 1 ] else let t = l (n - 1); in builtins.concatLists [ t t ]; in builtins.length (l 40)",
        "infra::eval::too_large",
    ),
    // Found in review: a curried chain called with all its arguments went around the stack
    // check (the depth rose by two per turn, `eval` only ever saw odd depths).
    (
        "curried recursion in a list",
        "let f = a: b: f a b; in [ (f 1 2) ]",
        "infra::eval::max_call_depth",
    ),
    // Builtins that force their argument first evaluate it without a thunk: recursion
    // through them is still counted and stopped.
    (
        "recursion through a strict builtin",
        "let f = n: builtins.length (f n); in f 1",
        "infra::eval::max_call_depth",
    ),
    (
        "recursion through nested strict builtins",
        "let f = n: builtins.isAttrs (builtins.head (f n)); in f 1",
        "infra::eval::max_call_depth",
    ),
    // Interpolation applies `toString` itself (no call of the builtin): recursion through it
    // is still counted and stopped.
    (
        "recursion through toString in an interpolation",
        r#"let f = n: "x${toString (f n)}"; in f 1"#,
        "infra::eval::max_call_depth",
    ),
    (
        "curried recursion in a set",
        "let f = a: b: c: f a b c; in { x = f 1 2 3; }.x",
        "infra::eval::max_call_depth",
    ),
    // Found in review: lazy applications of a builtin forcing each other (each element of
    // `map toString l` forces one of `l`, itself a `map toString`) counted no depth, and a
    // million of them overflowed the stack.
    (
        "a million lazy maps of a builtin",
        "let l = builtins.foldl' (acc: _: map builtins.toString acc) [ \"x\" ] (builtins.genList (i: i) 1000000); in builtins.head l",
        "infra::eval::max_call_depth",
    ),
    (
        "a million lazy mapAttrs of a builtin",
        "let s = builtins.foldl' (acc: _: builtins.mapAttrs (k: builtins.toString) acc) { a = \"x\"; } (builtins.genList (i: i) 1000000); in s.a",
        "infra::eval::max_call_depth",
    ),
    // Found by tools/fuzz: toXML of a cyclic value grew until the allocator aborted.
    ("cyclic toXML", "builtins.toXML (let r = { a = r; }; in r)", "infra::eval::too_large"),
    ("cyclic toXML list", "builtins.toXML (let l = [ l ]; in l)", "infra::eval::too_large"),
    ("a huge genList", "builtins.genList (x: x) 1000000000", "infra::eval::bad_argument"),
    // No single value too large, no recursion too deep: only the memory limit stops these.
    (
        "breadth without end",
        "builtins.deepSeq (builtins.genList (i: builtins.genList (j: j) 1000) 10000000) 1",
        "infra::eval::memory_limit",
    ),
    (
        "breadth without end, under tryEval (which does not catch it)",
        "(builtins.tryEval (builtins.deepSeq (builtins.genList (i: builtins.genList (j: j) 1000) 10000000) 1)).success",
        "infra::eval::memory_limit",
    ),
    (
        "a closure that never closes",
        "builtins.length (builtins.genericClosure { startSet = [ { key = 0; } ]; operator = x: [ { key = x.key + 1; } ]; })",
        "infra::eval::memory_limit",
    ),
    (
        "catastrophic backtracking",
        "builtins.match \"(a*)*b\" (builtins.concatStringsSep \"\" (builtins.genList (x: \"a\") 5000)) == null && throw \"matched nothing\"",
        "infra::eval::throw",
    ),
];

#[test]
fn hostile_programs_end_with_a_diagnostic_in_bounded_time_and_memory() {
    let mut failures = Vec::new();
    for (name, program, code) in CASES {
        let started = Instant::now();
        let mut child = Command::new("sh")
            .args([
                "-c",
                "ulimit -v 3000000; exec \"$0\" eval --strict --message-format json -E \"$1\"",
            ])
            .arg(env!("CARGO_BIN_EXE_infra"))
            .arg(program)
            .env("INFRA_MAX_MEMORY", "1G")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start infra");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let output = child.wait_with_output().expect("output");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        match status {
            None => failures.push(format!("{name}: still running after 60 s")),
            Some(status) if status.code() != Some(1) => {
                failures.push(format!("{name}: ended with {status}, not exit 1: {text}"))
            }
            Some(_) if !text.contains(&format!("\"code\":\"{code}\"")) => {
                failures.push(format!("{name}: no `{code}` diagnostic: {text}"))
            }
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Long left-associative chains (generated code concatenating thousands of strings or
/// applying a function to thousands of arguments) evaluate as in Nix, through every command
/// that reads a file; a chain too long for the tree is a diagnostic, never a stack overflow.
#[test]
fn long_chains_evaluate_as_in_nix_and_longer_ones_are_a_diagnostic() {
    let dir = crate::support::scratch_dir("long-chains");
    let terms = 150_000;
    let program = format!(
        "let f = x: f; x = 2; s = \"a\"; in [ ({}) (builtins.isFunction (f{})) (builtins.stringLength ({})) ]",
        vec!["x"; terms].join(" + "),
        " 1".repeat(terms),
        vec!["s"; terms / 3].join(" + "),
    );
    let file = dir.join("long.nix");
    std::fs::write(&file, &program).expect("write");
    let nix = crate::support::nix_instantiate()
        .args(["--eval", "--strict"])
        .arg(&file)
        .output()
        .expect("run nix-instantiate");
    assert!(nix.status.success(), "{}", String::from_utf8_lossy(&nix.stderr));
    let infra = crate::support::infra(&dir, &["eval", "--strict", "long.nix"]);
    assert!(infra.status.success(), "{}", String::from_utf8_lossy(&infra.stderr));
    assert_eq!(String::from_utf8_lossy(&infra.stdout), String::from_utf8_lossy(&nix.stdout));
    // Checked, formatted, formatted again (nothing left to change), and the same value.
    for args in [&["check", "long.nix"][..], &["fmt", "long.nix"], &["fmt", "--check", "long.nix"]]
    {
        let output = crate::support::infra(&dir, args);
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let formatted = crate::support::infra(&dir, &["eval", "--strict", "long.nix"]);
    assert_eq!(formatted.stdout, nix.stdout);

    std::fs::write(dir.join("longer.nix"), vec!["1"; 1_000_000].join(" + ")).expect("write");
    for args in
        [&["eval", "longer.nix"][..], &["check", "longer.nix"], &["fmt", "--check", "longer.nix"]]
    {
        let output = crate::support::infra(&dir, args);
        let text = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains("infra::parse::too_deep"), "{args:?}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
