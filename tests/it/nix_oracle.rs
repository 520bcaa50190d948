//! The real Nix (`nix-instantiate --parse`, Debian's nix-bin 2.8) as the oracle for the syntax:
//! on the whole corpus and on thousands of generated programs and their mutations, `infra`
//! must accept exactly what Nix accepts. The pipe operators are ours alone (Nix 2.8 has none),
//! so cases using them are named `*pipe*` and left out.

#![allow(clippy::disallowed_methods)]

use std::fmt::Write;

use crate::support::{Rng, case_count, files, nix_parses, root, scratch_dir};

fn infra_parses(text: &str) -> bool {
    lang::parse(text).errors().is_empty()
}

#[test]
fn corpus_agrees_with_nix() {
    let mut cases = files(&root().join("lang/test_data"), "infra");
    cases.extend(files(&root().join("examples"), "infra"));
    assert!(cases.len() > 100, "the corpus went missing");
    let mut disagreements = String::new();
    for path in cases.iter().filter(|p| !p.to_string_lossy().contains("pipe")) {
        let text = std::fs::read_to_string(path).expect("read case");
        let (nix, nix_error) = nix_parses(path);
        if infra_parses(&text) != nix {
            let _ = writeln!(disagreements, "{}: nix {nix} {nix_error}", path.display());
        }
    }
    assert!(disagreements.is_empty(), "infra and Nix disagree:\n{disagreements}");
}

#[test]
fn generated_programs_agree_with_nix() {
    let n_programs = case_count("INFRA_ORACLE_CASES", 1000);
    let dir = scratch_dir("oracle");
    let mut rng = Rng(0x1f2e_3d4c_5b6a_7988);
    let mut disagreements = Vec::new();
    let mut n_rejected = 0;
    for i in 0..n_programs {
        let mut program = String::new();
        expr(&mut rng, &mut program, 4);
        let body = match i % 3 {
            0 => program,
            // Mutations: most of these are syntax errors; both sides must say so.
            1 => mutate(&mut rng, &program),
            _ => {
                let once = mutate(&mut rng, &program);
                mutate(&mut rng, &once)
            }
        };
        let text = format!("let x = 1; y = {{ a = 2; }}; f = z: z; in\n{body}\n");
        let path = dir.join(format!("case{i}.nix"));
        std::fs::write(&path, &text).expect("write case");
        let (nix, nix_error) = nix_parses(&path);
        n_rejected += usize::from(!nix);
        if infra_parses(&text) != nix {
            disagreements.push(format!("--- nix accepts: {nix}\n{text}{nix_error}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        disagreements.is_empty(),
        "{} of {n_programs} programs disagree, e.g.:\n{}",
        disagreements.len(),
        disagreements.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
    // Both kinds of verdict must be exercised for the comparison to mean anything.
    assert!(n_rejected > n_programs / 10 && n_rejected < n_programs, "{n_rejected} rejected");
}

const VARS: &[&str] = &["x", "y", "f"];
const NAMES: &[&str] = &["a", "b", "c", "or", "\"d e\"", "${\"k\"}", "${x}"];
const BINOPS: &[&str] =
    &["+", "-", "*", "/", "++", "//", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "->"];

/// Writes a random well-formed expression (all variables bound by the wrapper or locally).
fn expr(rng: &mut Rng, out: &mut String, depth: usize) {
    if depth == 0 {
        return atom(rng, out);
    }
    let d = depth - 1;
    match rng.below(16) {
        0 => {
            out.push_str("let ");
            binding(rng, out, d, false);
            out.push_str(" in ");
            expr(rng, out, d);
        }
        1 => {
            out.push_str("if ");
            expr(rng, out, d);
            out.push_str(" then ");
            expr(rng, out, d);
            out.push_str(" else ");
            expr(rng, out, d);
        }
        2 => {
            out.push_str("x: ");
            expr(rng, out, d);
        }
        3 => {
            out.push_str(rng.pick(&["{ x, y ? ", "args@{ x, y ? ", "{ y ? "]));
            expr(rng, out, d);
            out.push_str(rng.pick(&[", ... }: ", " }: "]));
            expr(rng, out, d);
        }
        4 => {
            out.push_str("with y; ");
            expr(rng, out, d);
        }
        5 => {
            out.push_str("assert ");
            expr(rng, out, d);
            out.push_str("; ");
            expr(rng, out, d);
        }
        6 | 7 => {
            select(rng, out, d);
            out.push_str(&format!(" {} ", rng.pick(BINOPS)));
            select(rng, out, d);
        }
        8 => {
            out.push_str(rng.pick(&["-", "!", "- "]));
            select(rng, out, d);
        }
        9 => {
            out.push_str("f ");
            select(rng, out, d);
        }
        10 => {
            select(rng, out, d);
            out.push_str(" ? ");
            out.push_str(rng.pick(&["a", "a.b", "\"c\"", "${x}"]));
        }
        _ => select(rng, out, d),
    }
}

fn select(rng: &mut Rng, out: &mut String, depth: usize) {
    simple(rng, out, depth);
    if rng.below(4) == 0 {
        out.push_str(rng.pick(&[".a", ".a.b", ".${x}", ".\"c\""]));
        if rng.below(2) == 0 {
            out.push_str(" or ");
            simple(rng, out, depth.saturating_sub(1));
        }
    }
}

fn simple(rng: &mut Rng, out: &mut String, depth: usize) {
    if depth == 0 {
        return atom(rng, out);
    }
    let d = depth - 1;
    match rng.below(7) {
        0 => {
            out.push('(');
            expr(rng, out, d);
            out.push(')');
        }
        1 => {
            out.push_str("[ ");
            for _ in 0..rng.below(3) {
                select(rng, out, d);
                out.push(' ');
            }
            out.push(']');
        }
        2 | 3 => {
            out.push_str(rng.pick(&["{ ", "rec { "]));
            for _ in 0..rng.below(3) {
                binding(rng, out, d, true);
                out.push(' ');
            }
            out.push('}');
        }
        4 => {
            let (open, close) = if rng.below(2) == 0 {
                (rng.pick(&["''s", "''$$", "''''$", "'' "]), "t''")
            } else {
                (rng.pick(&["\"s", "\"$$", "\"\\\""]), "t\"")
            };
            out.push_str(open);
            out.push_str("${");
            expr(rng, out, d);
            out.push('}');
            out.push_str(close);
        }
        _ => atom(rng, out),
    }
}

fn binding(rng: &mut Rng, out: &mut String, depth: usize, in_set: bool) {
    if rng.below(5) == 0 {
        out.push_str(rng.pick(&["inherit x;", "inherit (y) a;", "inherit \"x\";"]));
        return;
    }
    let first = if in_set { rng.pick(NAMES) } else { rng.pick(&["a", "b", "c"]) };
    out.push_str(first);
    if rng.below(3) == 0 {
        out.push('.');
        out.push_str(rng.pick(NAMES));
    }
    out.push_str(" = ");
    expr(rng, out, depth);
    out.push(';');
}

fn atom(rng: &mut Rng, out: &mut String) {
    let atom = match rng.below(12) {
        0..=3 => rng.pick(VARS),
        4 => "42",
        5 => "1.5",
        6 => "\"str\"",
        7 => "''ind''",
        8 => "./a/b",
        9 => "<infra>",
        10 => "true",
        _ => "null",
    };
    out.push_str(atom);
}

/// Deletes a character, inserts punctuation or duplicates a piece: small edits that make most
/// programs invalid in some specific way. Letters are never inserted: a new name would only
/// be a scope error.
fn mutate(rng: &mut Rng, program: &str) -> String {
    let chars: Vec<char> = program.chars().collect();
    if chars.is_empty() {
        return program.to_owned();
    }
    let at = rng.below(chars.len());
    let mut out: Vec<char> = chars.clone();
    match rng.below(3) {
        0 => {
            out.remove(at);
        }
        1 => {
            let c = rng.pick(&[
                "(", ")", "{", "}", "[", "]", ";", ":", "=", ".", ",", "?", "@", "\"", "'", "$",
                "/", "-", "!", "<", ">", " ",
            ]);
            out.insert(at, c.chars().next().unwrap_or(' '));
        }
        _ => {
            let end = (at + 1 + rng.below(6)).min(chars.len());
            let piece: Vec<char> = chars[at..end].to_vec();
            for (k, c) in piece.into_iter().enumerate() {
                out.insert(end + k, c);
            }
        }
    }
    out.into_iter().collect()
}

/// Precedence and associativity: Nix's `--parse` prints the tree with every operator made
/// explicit (`(a + (__mul b c))`); printing our tree the same way must give the same text.
#[test]
fn operator_trees_agree_with_nix() {
    const PREFIX: &str = "(let a = 1; b = 2; c = 3; f = (x: x); in ";
    let dir = scratch_dir("prec");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut compared, mut differences) = (0, Vec::new());
    for i in 0..300 {
        let mut body = String::new();
        operators(&mut rng, &mut body, 4);
        let text = format!("let a = 1; b = 2; c = 3; f = x: x; in {body}");
        let path = dir.join(format!("prec{i}.nix"));
        std::fs::write(&path, &text).expect("write case");
        let output = crate::support::nix_instantiate()
            .arg("--parse")
            .arg(&path)
            .output()
            .expect("run nix-instantiate");
        if !output.status.success() {
            continue;
        }
        let nix = String::from_utf8_lossy(&output.stdout);
        let nix = nix.trim().strip_prefix(PREFIX).and_then(|s| s.strip_suffix(')'));
        let parse = lang::parse(&text);
        let ours = parse.tree().expr().and_then(|e| match e {
            lang::ast::Expr::LetIn(let_in) => let_in.body().map(|b| show(&b)),
            _ => None,
        });
        compared += 1;
        if nix != ours.as_deref() {
            differences.push(format!("{body}\n  nix:  {nix:?}\n  ours: {ours:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(differences.is_empty(), "{}", differences[..differences.len().min(5)].join("\n"));
    assert!(compared > 200, "only {compared} programs were valid");
}

fn operators(rng: &mut Rng, out: &mut String, depth: usize) {
    const OPS: &[&str] =
        &["+", "-", "*", "/", "++", "//", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "->"];
    if depth == 0 || rng.below(5) == 0 {
        out.push_str(rng.pick(&["a", "b", "c", "1", "f a", "a.b", "(a)"]));
        return;
    }
    match rng.below(10) {
        0 => {
            out.push_str(rng.pick(&["-", "!", "- "]));
            operators(rng, out, depth - 1);
        }
        1 => {
            out.push('(');
            operators(rng, out, depth - 1);
            out.push(')');
        }
        2 => {
            operators(rng, out, depth - 1);
            out.push_str(rng.pick(&[" ? a", " ? a.b"]));
        }
        _ => {
            operators(rng, out, depth - 1);
            out.push_str(&format!(" {} ", rng.pick(OPS)));
            operators(rng, out, depth - 1);
        }
    }
}

/// Our tree in the form `nix-instantiate --parse` prints (for the operator subset).
fn show(expr: &lang::ast::Expr) -> String {
    use lang::ast::{BinaryOp as B, Expr, UnaryOpKind};
    let sub = |e: Option<Expr>| e.map_or_else(|| "<missing>".to_owned(), |e| show(&e));
    match expr {
        Expr::Ref(r) => r.token().map(|t| t.text().to_owned()).unwrap_or_default(),
        Expr::Literal(l) => l.token().map(|t| t.text().to_owned()).unwrap_or_default(),
        Expr::Paren(p) => sub(p.expr()),
        Expr::UnaryOp(u) => match u.operator() {
            Some(UnaryOpKind::Negate) => format!("(__sub 0 {})", sub(u.expr())),
            _ => format!("(! {})", sub(u.expr())),
        },
        Expr::Apply(_) => {
            // Nix flattens `f a b` into one call.
            let mut args = Vec::new();
            let mut func = expr.clone();
            while let Expr::Apply(apply) = &func {
                args.push(sub(apply.argument()));
                match apply.lambda() {
                    Some(inner) => func = strip_parens(inner),
                    None => break,
                }
            }
            args.reverse();
            format!("({} {})", show(&func), args.join(" "))
        }
        Expr::Select(s) => format!("({}).{}", sub(s.expr()), attrpath(s.attrpath())),
        Expr::HasAttr(h) => format!("(({}) ? {})", sub(h.expr()), attrpath(h.attrpath())),
        Expr::BinOp(op) => {
            let (l, r) = (sub(op.lhs()), sub(op.rhs()));
            match op.operator() {
                Some(B::Sub) => format!("(__sub {l} {r})"),
                Some(B::Mul) => format!("(__mul {l} {r})"),
                Some(B::Div) => format!("(__div {l} {r})"),
                Some(B::Less) => format!("(__lessThan {l} {r})"),
                Some(B::More) => format!("(__lessThan {r} {l})"),
                Some(B::LessOrEq) => format!("(! (__lessThan {r} {l}))"),
                Some(B::MoreOrEq) => format!("(! (__lessThan {l} {r}))"),
                Some(_) => {
                    let token = op.operator_token().map(|t| t.text().to_owned());
                    format!("({l} {} {r})", token.unwrap_or_default())
                }
                None => "<missing operator>".to_owned(),
            }
        }
        _ => format!("<{:?}>", expr),
    }
}

fn strip_parens(expr: lang::ast::Expr) -> lang::ast::Expr {
    match &expr {
        lang::ast::Expr::Paren(p) => p.expr().map_or(expr, strip_parens),
        _ => expr,
    }
}

fn attrpath(path: Option<lang::ast::Attrpath>) -> String {
    let names: Vec<String> =
        path.iter().flat_map(|p| p.attrs()).filter_map(|a| a.static_name()).collect();
    names.join(".")
}
