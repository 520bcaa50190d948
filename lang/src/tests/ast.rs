//! The typed AST: every accessor, checked through an S-expression printer built only on
//! `ast::*` (so it is also what a consumer such as the evaluator sees).

use expect_test::{Expect, expect};

use crate::ast::{self, AstNode, Expr, HasBindings, StrPart};

#[track_caller]
fn check(src: &str, expected: Expect) {
    let parse = crate::parse(src);
    assert!(parse.errors().is_empty(), "{:?}", parse.errors());
    let expr = parse.tree().expr().expect("an expression");
    expected.assert_eq(&sexpr(&expr));
}

fn opt(expr: Option<Expr>) -> String {
    expr.map_or_else(|| "?".to_owned(), |e| sexpr(&e))
}

fn attr(attr: &ast::Attr) -> String {
    match attr {
        ast::Attr::Dynamic(d) => format!("${{{}}}", opt(d.expr())),
        other => other.static_name().map_or_else(|| sexpr_str_attr(other), |n| format!("{n:?}")),
    }
}

fn sexpr_str_attr(attr: &ast::Attr) -> String {
    match attr {
        ast::Attr::Str(s) => sexpr(&Expr::Str(s.clone())),
        _ => "?".to_owned(),
    }
}

fn attrpath(path: Option<ast::Attrpath>) -> String {
    path.map(|p| p.attrs().map(|a| attr(&a)).collect::<Vec<_>>().join(".")).unwrap_or_default()
}

fn bindings(node: &impl HasBindings) -> String {
    let parts: Vec<String> = node
        .bindings()
        .map(|b| match b {
            ast::Binding::AttrpathValue(apv) => {
                format!("{} = {}", attrpath(apv.attrpath()), opt(apv.value()))
            }
            ast::Binding::Inherit(inherit) => {
                let from = inherit.from().map(|f| format!("({}) ", opt(f.expr())));
                let names: Vec<String> = inherit.attrs().map(|a| attr(&a)).collect();
                format!("inherit {}{}", from.unwrap_or_default(), names.join(" "))
            }
        })
        .collect();
    parts.join("; ")
}

fn parts(parts: impl Iterator<Item = StrPart>) -> String {
    parts
        .map(|part| match part {
            StrPart::Literal(token) => format!("{:?}", token.text()),
            StrPart::Interpolation(i) => format!("${{{}}}", opt(i.expr())),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sexpr(expr: &Expr) -> String {
    match expr {
        Expr::Apply(a) => format!("(apply {} {})", opt(a.lambda()), opt(a.argument())),
        Expr::Assert(a) => format!("(assert {} {})", opt(a.condition()), opt(a.body())),
        Expr::AttrSet(s) => {
            format!("({}set {})", if s.is_rec() { "rec" } else { "" }, bindings(s))
        }
        Expr::BinOp(b) => {
            format!("({:?} {} {})", b.operator().expect("operator"), opt(b.lhs()), opt(b.rhs()))
        }
        Expr::HasAttr(h) => format!("(has {} {})", opt(h.expr()), attrpath(h.attrpath())),
        Expr::IfElse(i) => {
            format!("(if {} {} {})", opt(i.condition()), opt(i.body()), opt(i.else_body()))
        }
        Expr::Lambda(l) => {
            let param = match (l.param(), l.pattern()) {
                (Some(p), _) => p.name().and_then(|n| n.text()).unwrap_or_default(),
                (_, Some(pattern)) => {
                    let mut entries: Vec<String> = pattern
                        .entries()
                        .map(|e| {
                            let name = e.name().and_then(|n| n.text()).unwrap_or_default();
                            match e.default() {
                                Some(d) => format!("{name}?{}", sexpr(&d)),
                                None => name,
                            }
                        })
                        .collect();
                    if pattern.ellipsis_token().is_some() {
                        entries.push("...".into());
                    }
                    let bind = pattern.pat_bind().and_then(|b| b.name()).and_then(|n| n.text());
                    format!("{{{}}}@{}", entries.join(" "), bind.unwrap_or_default())
                }
                _ => "?".into(),
            };
            format!("(lambda {param} {})", opt(l.body()))
        }
        Expr::LegacyLet(l) => format!("(legacy-let {})", bindings(l)),
        Expr::LetIn(l) => format!("(let {} in {})", bindings(l), opt(l.body())),
        Expr::List(l) => {
            format!("[{}]", l.items().map(|e| sexpr(&e)).collect::<Vec<_>>().join(" "))
        }
        Expr::Literal(l) => l.token().map(|t| t.text().to_owned()).unwrap_or_default(),
        Expr::Paren(p) => opt(p.expr()),
        Expr::Path(p) => match p.search_path() {
            Some(t) => format!("(search {})", t.text()),
            None => format!("(path {})", parts(p.parts())),
        },
        Expr::Ref(r) => r.token().map(|t| t.text().to_owned()).unwrap_or_default(),
        Expr::Select(s) => match s.default_expr() {
            Some(d) => {
                format!("(select {} {} or {})", opt(s.expr()), attrpath(s.attrpath()), sexpr(&d))
            }
            None => format!("(select {} {})", opt(s.expr()), attrpath(s.attrpath())),
        },
        Expr::Str(s) => {
            format!("({} {})", if s.is_indented() { "istr" } else { "str" }, parts(s.parts()))
        }
        Expr::UnaryOp(u) => format!("({:?} {})", u.operator().expect("operator"), opt(u.expr())),
        Expr::With(w) => format!("(with {} {})", opt(w.namespace()), opt(w.body())),
    }
}

#[test]
fn functions_and_bindings() {
    check(
        "{ a, b ? 1, ... }@args: with args; let inherit (s) y; z.w = \"s${y}\"; in z",
        expect![[
            r#"(lambda {a b?1 ...}@args (with args (let inherit (s) "y"; "z"."w" = (str "s" ${y}) in z)))"#
        ]],
    );
    check("args@{ a }: x: a", expect![["(lambda {a}@args (lambda x a))"]]);
}

#[test]
fn sets_and_selection() {
    check(
        "rec { \"a b\" = x.y.\"z\" or 2; ${k} = [ 1 2.5 ]; inherit c; }",
        expect![[r#"(recset "a b" = (select x "y"."z" or 2); ${k} = [1 2.5]; inherit "c")"#]],
    );
    check("let { body = a ? b.c; }", expect![[r#"(legacy-let "body" = (has a "b"."c"))"#]]);
}

#[test]
fn strings_and_paths() {
    check(
        "[ ''a ${b} c'' ./p/${q}/r <infra/lib> http://x.org ]",
        expect![[
            r#"[(istr "a " ${b} " c") (path "./p/" ${q} "/r") (search <infra/lib>) http://x.org]"#
        ]],
    );
}

#[test]
fn control_flow_and_operators() {
    check(
        "assert !a; if -x < 2 then f x y else a |> g",
        expect![[
            "(assert (Not a) (if (Less (Negate x) 2) (apply (apply f x) y) (PipeRight a g)))"
        ]],
    );
}

#[test]
fn cast_is_by_kind() {
    let parse = crate::parse("{ a = 1; }");
    let node = parse.syntax_node().first_child().expect("set");
    assert!(ast::AttrSet::cast(node.clone()).is_some());
    assert!(ast::LetIn::cast(node).is_none());
}
