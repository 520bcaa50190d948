//! What an editor asks of one file, answered from its syntax tree alone (the language server
//! in the binary adds what needs evaluation): where a variable is bound, the stacks and
//! components a file declares, and the variables in scope at a place.

use rowan::{TextRange, TextSize};

use crate::{
    AstNode, SyntaxNode,
    ast::{self, HasBindings},
};

/// A named thing a file declares: a stack or a component (`infra.stack "dev"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    /// `stack`, `component`, `step` or `wait`.
    pub kind: &'static str,
    pub range: TextRange,
}

/// Where the variable used at `offset` is bound (`let`, `rec { }`, a function's argument or
/// pattern), as the range of the binding's name; `None` for a global, a `with` name, or not
/// a variable.
pub fn definition(text: &str, offset: usize) -> Option<TextRange> {
    // The parse outlives the root: a deep tree is taken apart by its drop, not rowan's.
    let parse = crate::parse(text);
    let root = parse.syntax_node();
    let token = root.token_at_offset(TextSize::from(offset as u32)).right_biased()?;
    let reference = token.parent_ancestors().find_map(ast::Ref::cast)?;
    let name = reference.token()?.text().to_owned();
    let mut inner: Option<SyntaxNode> = None;
    for scope in reference.syntax().ancestors() {
        if let Some(found) = bound_in(&scope, inner.as_ref(), &name) {
            return Some(found);
        }
        inner = Some(scope);
    }
    None
}

/// Every variable bound around `offset` (innermost first, each once).
pub fn names_in_scope(text: &str, offset: usize) -> Vec<String> {
    // The parse outlives the root: a deep tree is taken apart by its drop, not rowan's.
    let parse = crate::parse(text);
    let root = parse.syntax_node();
    let Some(token) = root.token_at_offset(TextSize::from(offset as u32)).left_biased() else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut inner: Option<SyntaxNode> = None;
    for scope in token.parent_ancestors() {
        for (name, _) in bindings(&scope, inner.as_ref()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        inner = Some(scope);
    }
    names
}

/// The stacks and components declared with a literal name (`infra.component "vpc" …`).
pub fn symbols(text: &str) -> Vec<Symbol> {
    // The parse outlives the root: a deep tree is taken apart by its drop, not rowan's.
    let parse = crate::parse(text);
    let root = parse.syntax_node();
    let mut out = Vec::new();
    for node in root.descendants() {
        let Some(apply) = ast::Apply::cast(node.clone()) else { continue };
        let (Some(func), Some(arg)) = (apply.lambda(), apply.argument()) else { continue };
        // Only a short selection (`infra.component`) can name one: the text of every
        // function in `f a b c …` would be quadratic in the chain's length.
        let called = func.syntax();
        if called.kind() != crate::SyntaxKind::SELECT
            || called.text_range().len() > TextSize::from(64)
        {
            continue;
        }
        let called = called.text().to_string();
        let kind = match called.rsplit('.').next().unwrap_or_default() {
            "stack" => "stack",
            "component" => "component",
            "step" => "step",
            "wait" => "wait",
            _ => continue,
        };
        if !called.starts_with("infra.") {
            continue;
        }
        let literal = arg.syntax().text().to_string();
        let Some(name) = literal.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
            continue;
        };
        if name.contains("${") {
            continue;
        }
        out.push(Symbol { name: name.to_owned(), kind, range: node.text_range() });
    }
    out
}

/// Where `name` is bound in `scope`, seen from its child `inner` (a `let`'s and a `rec`
/// set's bindings are in scope in all of it; a function's argument only in its body).
fn bound_in(scope: &SyntaxNode, inner: Option<&SyntaxNode>, name: &str) -> Option<TextRange> {
    bindings(scope, inner).into_iter().find(|(n, _)| n == name).map(|(_, range)| range)
}

/// The names `scope` binds for its child `inner`, with the range of each name.
fn bindings(scope: &SyntaxNode, inner: Option<&SyntaxNode>) -> Vec<(String, TextRange)> {
    let mut out = Vec::new();
    let mut add_bindings = |holder: &dyn Fn() -> Vec<ast::Binding>| {
        for binding in holder() {
            match binding {
                ast::Binding::AttrpathValue(apv) => {
                    let first = apv.attrpath().and_then(|p| p.attrs().next());
                    if let Some(attr) = first
                        && let Some(name) = attr.static_name()
                    {
                        out.push((name, attr.syntax().text_range()));
                    }
                }
                ast::Binding::Inherit(inherit) => {
                    for attr in inherit.attrs() {
                        if let Some(name) = attr.static_name() {
                            out.push((name, attr.syntax().text_range()));
                        }
                    }
                }
            }
        }
    };
    if let Some(let_in) = ast::LetIn::cast(scope.clone()) {
        add_bindings(&|| let_in.bindings().collect());
    } else if let Some(set) = ast::AttrSet::cast(scope.clone()).filter(ast::AttrSet::is_rec) {
        add_bindings(&|| set.bindings().collect());
    } else if let Some(legacy) = ast::LegacyLet::cast(scope.clone()) {
        add_bindings(&|| legacy.bindings().collect());
    } else if let Some(lambda) = ast::Lambda::cast(scope.clone()) {
        // Only the body (and the pattern's defaults) see the arguments.
        let in_body = inner.is_some_and(|i| {
            lambda.body().is_some_and(|b| b.syntax() == i)
                || lambda.pattern().is_some_and(|p| p.syntax() == i)
        });
        if !in_body {
            return out;
        }
        if let Some(name) = lambda.param().and_then(|p| p.name()) {
            out.extend(name.text().map(|t| (t, name.syntax().text_range())));
        }
        if let Some(pattern) = lambda.pattern() {
            for entry in pattern.entries() {
                if let Some(name) = entry.name() {
                    out.extend(name.text().map(|t| (t, name.syntax().text_range())));
                }
            }
            if let Some(name) = pattern.pat_bind().and_then(|b| b.name()) {
                out.extend(name.text().map(|t| (t, name.syntax().text_range())));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, needle: &str, nth: usize) -> usize {
        text.match_indices(needle).nth(nth).map(|(i, _)| i).expect("needle")
    }

    #[test]
    fn definitions_of_let_rec_and_arguments() {
        let text =
            "let x = 1; f = { a, b ? x }@all: a + b + all.c; in rec { y = x; z = y; g = n: n; }";
        let def =
            |needle: &str, nth: usize| definition(text, at(text, needle, nth)).map(|r| &text[r]);
        assert_eq!(def("x", 2), Some("x"));
        assert_eq!(definition(text, at(text, "x", 2)).map(|r| usize::from(r.start())), Some(4));
        assert_eq!(def("a +", 0).map(|s| s.len()), Some(1));
        assert_eq!(def("all.c", 0), Some("all"));
        assert_eq!(def("y;", 0), Some("y"));
        assert_eq!(def("n;", 0), Some("n"));
        assert_eq!(definition(text, at(text, "1", 0)), None);
    }

    #[test]
    fn symbols_and_scope() {
        let text = "let c = infra.component \"vpc\" { }; in { dev = infra.stack \"dev\" { components = [ c ]; }; }";
        let symbols = symbols(text);
        let names: Vec<(&str, &str)> = symbols.iter().map(|s| (s.kind, s.name.as_str())).collect();
        assert_eq!(names, [("component", "vpc"), ("stack", "dev")]);
        assert_eq!(names_in_scope(text, at(text, "[ c", 0) + 2), ["c"]);
    }
}
