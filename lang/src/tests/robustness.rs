//! Pathological inputs: deep nesting, unterminated constructs, huge files. Each must produce
//! diagnostics (or parse), never a panic or a stack overflow.

use crate::{SyntaxErrorKind, parse};

/// Parses in a thread with the default 2 MiB test stack, as a user's thread might have.
fn parse_kinds(text: String) -> Vec<SyntaxErrorKind> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let parse = parse(&text);
            assert_eq!(parse.syntax_node().to_string().len(), text.len());
            let kinds = parse.errors().iter().map(|e| e.kind).collect();
            drop(parse);
            kinds
        })
        .expect("spawn")
        .join()
        .expect("the parser must not crash")
}

const DEEP: usize = 100_000;

#[test]
fn deep_nesting_is_a_diagnostic() {
    let cases = [
        ("[".repeat(DEEP), "]".repeat(DEEP)),
        ("(".repeat(DEEP), format!("1{}", ")".repeat(DEEP))),
        ("{ a = ".repeat(DEEP), format!("1{}", "; }".repeat(DEEP))),
        ("-".repeat(DEEP), "1".into()),
        ("!".repeat(DEEP), "true".into()),
        ("x: ".repeat(DEEP), "x".into()),
        ("let a = 1; in ".repeat(DEEP), "a".into()),
        ("\"${".repeat(DEEP), format!("1{}", "}\"".repeat(DEEP))),
        ("if a then ".repeat(DEEP), format!("1{}", " else 2".repeat(DEEP))),
        ("a ++ ".repeat(DEEP), "b".into()),
        // Left-associative chains cost no recursion, only tree depth: 300,000 links is more
        // than the tree may have.
        ("1 + ".repeat(3 * DEEP), "1".into()),
        ("f ".repeat(3 * DEEP), "x".into()),
        (format!("a{}", " ? b".repeat(3 * DEEP)), "".into()),
        ("a.b or ".repeat(DEEP), "c".into()),
        ("with a; ".repeat(DEEP), "b".into()),
    ];
    for (open, close) in cases {
        let what = open[..open.len().min(12)].to_owned();
        let kinds = parse_kinds(format!("{open}{close}"));
        assert_eq!(kinds, vec![SyntaxErrorKind::TooDeep], "{what}…");
    }
}

#[test]
fn nesting_that_nix_accepts_is_fine() {
    let text = format!("{}1{}", "[ (".repeat(100), ") ]".repeat(100));
    assert_eq!(parse_kinds(text), vec![]);
    // Nix evaluates these; so must we (checked against nix-instantiate by hand).
    let parens = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
    assert_eq!(parse_kinds(parens), vec![]);
    let chain = vec!["1"; 3000].join(" + ");
    assert_eq!(parse_kinds(chain), vec![]);
    // Chains as long as Nix takes (it evaluates 100,000 terms; these trees are 150,000 deep,
    // and are dropped here, on a 2 MiB stack, without recursion).
    let long = vec!["1"; 150_000].join(" + ");
    assert_eq!(parse_kinds(long), vec![]);
    let arguments = format!("f{}", " 1".repeat(150_000));
    assert_eq!(parse_kinds(arguments), vec![]);
    let mixed =
        format!("[ ({}) ] ++ [ (g{}) ]", vec!["x"; 50_000].join(" - "), " x".repeat(50_000));
    assert_eq!(parse_kinds(mixed), vec![]);
    // Chains stacked as each other's first operand: shallow to the parser's recursion, but a
    // tree 120,000 levels deep (found in review: it was dropped recursively and crashed).
    assert_eq!(parse_kinds(stacked_chains(80, 1500)), vec![]);
}

/// `((x 1 1 …) 1 1 …) 1 1 …`: `levels` applications of `arguments` arguments each.
fn stacked_chains(levels: usize, arguments: usize) -> String {
    let mut text = String::from("x");
    for _ in 0..levels {
        text = format!("({text}){}", " 1".repeat(arguments));
    }
    text
}

#[test]
fn a_tree_too_deep_is_one_diagnostic() {
    // 300,000 levels, however built: a chain, chains stacked, chains nested as operands.
    let chain = format!("{}1", "1 + ".repeat(300_000));
    assert_eq!(parse_kinds(chain), vec![SyntaxErrorKind::TooDeep]);
    assert_eq!(parse_kinds(stacked_chains(200, 1500)), vec![SyntaxErrorKind::TooDeep]);
    let half = vec!["1"; 150_000].join(" + ");
    assert_eq!(parse_kinds(format!("({half}) + {half}")), vec![SyntaxErrorKind::TooDeep]);
    // A chain of non-associative operators is one error, not one per link.
    assert_eq!(parse_kinds(vec!["1"; 1000].join(" == ")), vec![SyntaxErrorKind::NonAssociative]);
}

#[test]
fn unterminated_constructs_at_eof() {
    let cases: &[(&str, &[SyntaxErrorKind])] = &[
        ("\"abc", &[SyntaxErrorKind::UnterminatedString]),
        ("''abc", &[SyntaxErrorKind::UnterminatedString]),
        ("/* abc", &[SyntaxErrorKind::UnterminatedComment, SyntaxErrorKind::UnexpectedEof]),
        ("${", &[SyntaxErrorKind::UnexpectedToken]),
        ("\"${", &[SyntaxErrorKind::UnexpectedEof]),
        ("{ a = ", &[SyntaxErrorKind::UnexpectedEof]),
        ("./a/${", &[SyntaxErrorKind::UnexpectedEof]),
    ];
    for (text, expected) in cases {
        let kinds = parse_kinds((*text).to_owned());
        assert!(expected.iter().all(|k| kinds.contains(k)), "{text:?}: {kinds:?}");
    }
}

#[test]
fn one_megabyte_on_one_line() {
    let mut text = String::from("[ ");
    while text.len() < 1 << 20 {
        text.push_str("{ name = \"component\"; cidr = \"10.0.0.0/16\"; n = 42; } ");
    }
    text.push(']');
    assert_eq!(parse_kinds(text), vec![]);
}

#[test]
fn one_megabyte_of_garbage() {
    let text: String = "€$&'".chars().cycle().take(1 << 18).collect();
    let kinds = parse_kinds(text);
    assert!(
        kinds
            .iter()
            .all(|k| *k == SyntaxErrorKind::InvalidCharacter
                || *k == SyntaxErrorKind::UnexpectedToken)
    );
}
