//! Unit tests of the evaluator, through one `check` helper over an in-memory `EvalIo`.
//! The conformance corpus (tests/conformance/eval) covers the language broadly; these pin
//! down the machine's own guarantees: laziness, sharing, depth limits, error shapes.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use expect_test::{Expect, expect};

use crate::{EvalIo, Evaluator, PrintMode};

struct MemoryIo(BTreeMap<PathBuf, String>);

impl EvalIo for MemoryIo {
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.0
            .get(path)
            .map(|s| s.clone().into_bytes())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn path_exists(&self, path: &Path) -> std::io::Result<bool> {
        Ok(self.0.contains_key(path))
    }
    fn read_dir(&self, _: &Path) -> std::io::Result<Vec<(String, &'static str)>> {
        Ok(Vec::new())
    }
    fn env_var(&self, name: &str) -> Option<String> {
        (name == "INFRA_TEST").then(|| "yes".to_owned())
    }
    fn trace(&self, _: &str) {}
}

fn eval(src: &str, mode: PrintMode) -> String {
    let files = BTreeMap::from([(PathBuf::from("/p/lib.infra"), "{ x = 40 + 2; }".to_owned())]);
    let mut evaluator = Evaluator::new(Box::new(MemoryIo(files)));
    let result = evaluator
        .eval_text("test.infra", src, PathBuf::from("/p"))
        .and_then(|v| evaluator.print(&v, mode));
    match result {
        Ok(text) => text,
        Err(error) => format!("error {}: {error}", error.kind.code()),
    }
}

#[track_caller]
fn check(src: &str, expected: Expect) {
    expected.assert_eq(&eval(src, PrintMode::Strict));
}

#[track_caller]
fn check_lazy(src: &str, expected: Expect) {
    expected.assert_eq(&eval(src, PrintMode::Lazy));
}

#[test]
fn unforced_throw_does_not_fire() {
    check(r#"let s = { a = 1; b = throw "no"; }; in s.a"#, expect![["1"]]);
    check(r#"builtins.length [ (throw "x") (abort "y") ]"#, expect![["2"]]);
    check_lazy(r#"{ a = throw "x"; b = 2; }"#, expect![["{ a = <CODE>; b = 2; }"]]);
}

#[test]
fn a_selected_builtin_is_suspended_as_nix_suspends_a_selection() {
    // `builtins.add` is read as the global `__add`, but written as a selection it is a thunk
    // where it is passed, as in Nix; a plain variable (`map`, `__add`) is its value.
    check_lazy(
        "[ builtins.add map __add builtins.true ]",
        expect![["[ <CODE> <PRIMOP> <PRIMOP> <CODE> ]"]],
    );
    check("builtins.foldl' builtins.add 0 [ 1 2 ]", expect![["3"]]);
}

#[test]
fn thunks_are_forced_once_and_shared() {
    // `x` would throw on a second forcing if its result were not kept: `tryEval` restores
    // a failed thunk, but a successful one is final.
    check("let x = builtins.seq 1 2; in [ x x ]", expect![["[ 2 2 ]"]]);
    check("let f = x: x; in [ f ] == [ f ]", expect![["true"]]);
}

#[test]
fn infinite_recursion_is_an_error() {
    check(
        "let x = x; in x",
        expect![["error infra::eval::infinite_recursion: infinite recursion encountered"]],
    );
    check(
        "rec { a = b; b = a; }.a",
        expect![["error infra::eval::infinite_recursion: infinite recursion encountered"]],
    );
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    check(
        "let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 1000000",
        expect![
            "error infra::eval::max_call_depth: maximum call depth exceeded (possible infinite recursion)"
        ],
    );
    check("let f = n: if n == 0 then 0 else 1 + f (n - 1); in f 10000", expect![["10000"]]);
}

#[test]
fn deep_data_is_forced_as_deep_as_nix_forces_it() {
    // 512,000 levels of sets sharing their halves (Nix 2.8 forces it; this stopped at 300,000
    // as "probably infinite", found by a scaling audit); infinite data still stops.
    check(
        "let v = builtins.foldl' (acc: i: { l = acc; r = acc; }) { } (builtins.genList (x: x) 512000); in builtins.deepSeq v 1",
        expect![["1"]],
    );
    check(
        "let f = x: { a = f x; }; in builtins.deepSeq (f 1) 1",
        expect![[
            "error infra::eval::max_call_depth: maximum call depth exceeded (possible infinite recursion)"
        ]],
    );
}

#[test]
fn a_very_long_attribute_path_lowers_without_a_crash() {
    // `{ a0.a1.….a19999 = 1; }` nests 20,000 sets (the parser bounds nesting, not a path's
    // length): lowering it overflowed the stack (found by a scaling audit).
    let path: Vec<String> = (0..20_000).map(|i| format!("a{i}")).collect();
    let src = format!("let s = {{ {} = 1; }}; in builtins.attrNames s.a0.a1", path.join("."));
    check(&src, expect![[r#"[ "a2" ]"#]]);
}

#[test]
fn integer_overflow_is_an_error() {
    check(
        "9223372036854775807 + 1",
        expect![["error infra::eval::integer_overflow: integer overflow"]],
    );
    check(
        "(-9223372036854775807 - 1) / (-1)",
        expect![["error infra::eval::integer_overflow: integer overflow"]],
    );
}

#[test]
fn undefined_variables_are_found_before_evaluation() {
    check(
        "if true then 1 else undefinedThing",
        expect![["error infra::eval::undefined_variable: undefined variable `undefinedThing`"]],
    );
    check("with {}; if true then 1 else anything", expect![["1"]]);
}

#[test]
fn with_does_not_shadow_lexical_bindings() {
    check("let x = 1; in with { x = 2; y = 3; }; [ x y ]", expect![["[ 1 3 ]"]]);
    check("with { a = 1; }; with { a = 2; }; a", expect![["2"]]);
}

#[test]
fn imports_read_through_the_io_and_are_recorded() {
    let files = BTreeMap::from([(PathBuf::from("/p/lib.infra"), "{ x = 40 + 2; }".to_owned())]);
    let mut evaluator = Evaluator::new(Box::new(MemoryIo(files)));
    let value = evaluator
        .eval_text(
            "t",
            "(import ./lib.infra).x + (if builtins.getEnv \"INFRA_TEST\" == \"yes\" then 0 else 1)",
            PathBuf::from("/p"),
        )
        .expect("evaluates");
    assert_eq!(evaluator.print(&value, PrintMode::Strict).expect("prints"), "42");
    let inputs: Vec<String> = evaluator.inputs().iter().map(|i| format!("{i:?}")).collect();
    // The `default.infra`/`default.nix` probes are inputs too: creating one changes the import.
    assert_eq!(
        inputs,
        [
            "File(\"/p/lib.infra\")",
            "Exists(\"/p/lib.infra/default.infra\")",
            "Exists(\"/p/lib.infra/default.nix\")",
            "Env(\"INFRA_TEST\")"
        ]
    );
}

#[test]
fn the_standard_library_is_embedded() {
    check(
        "let lib = (import <infra>).lib; in lib.mergeHierarchy [ { a = { x = 1; y = [ 1 ]; }; } { a = { y = [ 2 ]; }; b = 3; } ]",
        expect![["{ a = { x = 1; y = [ 2 ]; }; b = 3; }"]],
    );
    check("(import <infra/lib>).attrByPath [ \"a\" \"b\" ] 0 { a.b = 7; }", expect![["7"]]);
    check(
        "(import <infra/lib>).foldAttrs (x: acc: [ x ] ++ acc) [ ] [ { a = 1; } { a = 2; b = 3; } ]",
        expect![["{ a = [ 1 2 ]; b = [ 3 ]; }"]],
    );
    check(
        "<nixpkgs>",
        expect![["error infra::eval::io: cannot read `<nixpkgs>`: no such search path"]],
    );
}

#[test]
fn string_context_survives_concatenation() {
    // The core carries context; the domain layer creates it. Plain strings have none.
    check(r#""a${"b"}" + "c""#, expect![[r#""abc""#]]);
}

/// Values nested 40,000 levels deep (built by a fold) must be printed, compared, serialised
/// and dropped without overflowing the stack; cyclic values must stop with an error.
#[test]
fn deep_and_cyclic_values_never_crash() {
    let deep = "let f = xs: builtins.foldl' (acc: x: [ acc ]) [ ] xs; xs = builtins.genList (x: x) 40000; l = f xs;";
    check(&format!("{deep} in builtins.seq l 1"), expect![["1"]]);
    check(&format!("{deep} in builtins.stringLength (builtins.toJSON l)"), expect![["80002"]]);
    check(&format!("{deep} in f xs == l"), expect![["true"]]);
    check(&format!("{deep} in builtins.stringLength (toString l)"), expect![["0"]]);
    check(
        &format!("{deep} in builtins.stringLength (builtins.toJSON (builtins.deepSeq l l))"),
        expect![["80002"]],
    );
    check(
        "toString { __toString = self: self; }",
        expect![
            "error infra::eval::max_call_depth: maximum call depth exceeded (possible infinite recursion)"
        ],
    );
    check(
        "let s = { outPath = s; }; in \"${s}\"",
        expect![
            "error infra::eval::max_call_depth: maximum call depth exceeded (possible infinite recursion)"
        ],
    );
    check(
        "let s = { __functor = self: self; }; in s 1 2",
        expect![
            "error infra::eval::max_call_depth: maximum call depth exceeded (possible infinite recursion)"
        ],
    );
    check(
        "builtins.length (builtins.genList (x: x) 4611686018427387904)",
        expect![
            "error infra::eval::bad_argument: `genList`: 4611686018427387904 elements is more than the 16777216 a list may have"
        ],
    );
}

#[test]
fn regular_expressions_read_as_posix() {
    check(r#"builtins.match ".*" "a\nb""#, expect![["[ ]"]]);
    check(r#"builtins.split "[\\]]" "a]b""#, expect![[r#"[ "a]b" ]"#]]);
    check(r#"builtins.match "[a\\]+" "a\\a""#, expect![["[ ]"]]);
    check(r#"builtins.match "[]a]+" "]a]""#, expect![["[ ]"]]);
    check(r#"builtins.split "b*" "abc""#, expect![[r#"[ "" [ ] "a" [ ] "" [ ] "c" [ ] "" ]"#]]);
    check(r#"builtins.match "[[:digit:]]+\\.([[:alpha:]]+)" "42.ab""#, expect![[r#"[ "ab" ]"#]]);
}

#[test]
fn nix_corner_cases_found_in_review() {
    check(
        r#"[ (builtins.match "a" "a") (builtins.split "^a" "ab") ]"#,
        expect![[r#"[ [ ] [ "" [ ] "b" ] ]"#]],
    );
    check(r#"{ outPath = "a"; x = 1; } == { outPath = "a"; x = 2; }"#, expect![["false"]]);
    check(
        r#"{ type = "derivation"; outPath = "a"; } == { type = "derivation"; outPath = "a"; y = 1; }"#,
        expect![["true"]],
    );
    check("/a/b < /a-b", expect![["false"]]);
    check("\"a\r\nb\rc\"", expect![[r#""a\nb\nc""#]]);
    check(r#"{ "let" = 1; "if" = 2; }"#, expect![[r#"{ "if" = 2; let = 1; }"#]]);
    check(r#"builtins.compareVersions "2147483648" "2147483647""#, expect![["-1"]]);
    check(
        r#"builtins.fromJSON "[ -0, 9223372036854775808 ]""#,
        expect![
            "error infra::eval::bad_argument: `fromJSON`: 9223372036854775808 does not fit in a 64-bit integer (largest: 9223372036854775807)"
        ],
    );
    check(
        r#"builtins.length (builtins.genericClosure { startSet = [ { key = 1; } { key = 1.0; } ]; operator = x: [ ]; })"#,
        expect![["1"]],
    );
}

#[test]
fn values_stay_small() {
    // Every list element, set entry and argument is a thunk (one word); a value is two words
    // (a tag and one pointer or number: lists and strings keep their length in their
    // allocation), and so is a result.
    assert_eq!(std::mem::size_of::<crate::Thunk>(), 8);
    assert_eq!(std::mem::size_of::<crate::Value>(), 16);
    assert_eq!(std::mem::size_of::<crate::EvalResult<crate::Value>>(), 16);
    // A set entry is its name and its thunk.
    assert_eq!(std::mem::size_of::<(alloc_shim::thin::RcStr, crate::Thunk)>(), 16);
}

#[test]
fn yaml_as_people_write_it() {
    let yaml = "defaults: &d\n  size: 1\n  region: eu\nextra: &e\n  size: 5\n  zone: a\nweb:\n  <<: *d\n  size: 3\napi:\n  <<: [ *e, *d ]\n  name: api\n";
    check(
        &format!("let y = builtins.fromYAML {yaml:?}; in {{ inherit (y) web api; }}"),
        expect![[
            r#"{ api = { name = "api"; region = "eu"; size = 5; zone = "a"; }; web = { region = "eu"; size = 3; }; }"#
        ]],
    );
    check(
        r#"builtins.fromYAML "a: 18446744073709551615""#,
        expect![
            "error infra::eval::bad_argument: `fromYAML`: 18446744073709551615 does not fit in a 64-bit integer (largest: 9223372036854775807) (line 1, column 4)"
        ],
    );
    check(
        r#"builtins.fromYAML "a: 1\n---\nb: 2\n""#,
        expect![
            "error infra::eval::bad_argument: `fromYAML`: the text holds 2 YAML documents (separated by `---`); infra reads one (line 2, column 1)"
        ],
    );
}

#[test]
fn yaml_tags_are_read_or_refused() {
    check(
        r#"builtins.fromYAML "a: !!str 1\nb: !!int \"12\"\nc: !!float 2\nd: !!bool true\ne: !!null ~\n""#,
        expect![[r#"{ a = "1"; b = 12; c = 2; d = true; e = null; }"#]],
    );
    check(
        r#"builtins.fromYAML "a: 1\nb:\n  c: !custom foo\n""#,
        expect![
            "error infra::eval::bad_argument: `fromYAML`: the tag `!custom` is not supported: infra reads plain YAML data (strings, numbers, Booleans, null, lists, maps; !!str, !!int, !!float, !!bool, !!null) (line 3, column 14)"
        ],
    );
    check(
        r#"builtins.fromYAML "a: !!binary aGk=""#,
        expect![
            "error infra::eval::bad_argument: `fromYAML`: the tag `!!binary` is not supported: infra reads plain YAML data (strings, numbers, Booleans, null, lists, maps; !!str, !!int, !!float, !!bool, !!null) (line 1, column 13)"
        ],
    );
}

#[test]
fn numbers_never_change_on_the_way_out() {
    check(
        r#"builtins.fromJSON "[18446744073709551615]""#,
        expect![
            "error infra::eval::bad_argument: `fromJSON`: 18446744073709551615 does not fit in a 64-bit integer (largest: 9223372036854775807)"
        ],
    );
    // Beyond u64 too: without this it would quietly become a float.
    check(
        r#"builtins.fromJSON "{\"a\": [1, 184467440737095516150000]}""#,
        expect![
            "error infra::eval::bad_argument: `fromJSON`: 184467440737095516150000 does not fit in a 64-bit integer (largest: 9223372036854775807)"
        ],
    );
    check(
        r#"builtins.fromJSON "[\"184467440737095516150000\", -0, 1.5e3]""#,
        expect![[r#"[ "184467440737095516150000" 0 1500 ]"#]],
    );
    // `toJSON` keeps Nix's text; what infra writes itself is exact.
    check(r#"builtins.toJSON [ 1048576.1 1.000001 ]"#, expect![[r#""[1.04858e+06,1]""#]]);
    let mut evaluator = Evaluator::new(Box::new(MemoryIo(BTreeMap::new())));
    let value = evaluator
        .eval_text("t", "[ 1048576.1 1.000001 0.1 1.0 ]", PathBuf::from("/"))
        .unwrap_or(crate::value::Value::Null);
    let json = evaluator.to_json(&value).unwrap_or_default();
    assert_eq!(json, "[1048576.1,1.000001,0.1,1.0]");
}
