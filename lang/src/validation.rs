//! Post-parse checks that need more than the grammar, with Nix's rules:
//! attributes defined twice in one set or `let` (nested paths merge, `a.b = 1; a.c = 2;`, and so
//! do two set literals for one name), dynamic names in `let` and `inherit`, repeated formals.

use std::collections::BTreeMap;

use crate::{
    SyntaxError, SyntaxErrorKind, SyntaxKind, SyntaxNode, TextRange, TextSize,
    ast::{self, AstNode, HasBindings},
};

/// Checks the nodes the parser marked: those where a name repeats or is not a plain identifier.
/// Everything else cannot break these rules, so the common file costs nothing here.
pub(crate) fn validate(
    root: &SyntaxNode,
    marked: &[(SyntaxKind, TextSize)],
    errors: &mut Vec<SyntaxError>,
) {
    for &(kind, start) in marked {
        let Some(node) = find_node(root, kind, start) else { continue };
        match node.kind() {
            SyntaxKind::ATTR_SET | SyntaxKind::LEGACY_LET => {
                check_bindings(&node, errors);
            }
            SyntaxKind::LET_IN => {
                check_bindings(&node, errors);
                if let Some(let_in) = ast::LetIn::cast(node) {
                    check_let_dynamic(&let_in, errors);
                }
            }
            SyntaxKind::PATTERN => {
                if let Some(pattern) = ast::Pattern::cast(node) {
                    check_pattern(&pattern, errors);
                }
            }
            _ => {}
        }
    }
}

fn find_node(root: &SyntaxNode, kind: SyntaxKind, start: TextSize) -> Option<SyntaxNode> {
    let token = root.token_at_offset(start).right_biased()?;
    token.parent_ancestors().find(|n| n.kind() == kind && n.text_range().start() == start)
}

/// What one attribute name is bound to, as far as the parser can tell.
struct Def {
    /// Where it was first defined (its attribute path).
    range: TextRange,
    /// Set when the value is an attribute set the parser can merge into: one made by a nested
    /// path, or a set literal.
    attrs: Option<AttrMap>,
    inherited: bool,
}

type AttrMap = BTreeMap<String, Def>;

fn check_bindings(node: &SyntaxNode, errors: &mut Vec<SyntaxError>) {
    collect_bindings(node, errors);
}

/// Builds the map of a binding container, reporting duplicates into `errors`.
fn collect_bindings(node: &SyntaxNode, errors: &mut Vec<SyntaxError>) -> AttrMap {
    let mut map = AttrMap::new();
    for binding in node.children().filter_map(ast::Binding::cast) {
        match binding {
            ast::Binding::AttrpathValue(apv) => {
                // A binding the parser could not complete has been reported already.
                let complete =
                    apv.syntax().children_with_tokens().any(|e| e.kind() == SyntaxKind::EQ);
                let Some(path) = apv.attrpath().filter(|_| complete) else { continue };
                let value_attrs = apv.value().and_then(|v| literal_attrs(&v));
                insert(&mut map, &path, value_attrs, errors);
            }
            ast::Binding::Inherit(inherit) => {
                for attr in inherit.attrs() {
                    let range = attr.syntax().text_range();
                    let Some(name) = attr.static_name() else {
                        errors.push(
                            SyntaxError::new(
                                SyntaxErrorKind::DynamicAttrNotAllowed,
                                "dynamic attributes are not allowed in `inherit`".into(),
                                range,
                            )
                            .with_help(
                                "write the name literally, or use `name = set.${…};`".into(),
                            ),
                        );
                        continue;
                    };
                    if let Some(first) = map.get(&name) {
                        errors.push(duplicate(&name, range, first.range));
                        continue;
                    }
                    map.insert(name, Def { range, attrs: None, inherited: true });
                }
            }
        }
    }
    map
}

/// The bindings of a value that is a set literal (through parentheses), for merging.
fn literal_attrs(value: &ast::Expr) -> Option<AttrMap> {
    match value {
        // The literal's own duplicates are reported when it is visited itself.
        ast::Expr::AttrSet(set) => Some(collect_bindings(set.syntax(), &mut Vec::new())),
        ast::Expr::Paren(paren) => literal_attrs(&paren.expr()?),
        _ => None,
    }
}

fn insert(
    mut map: &mut AttrMap,
    path: &ast::Attrpath,
    value_attrs: Option<AttrMap>,
    errors: &mut Vec<SyntaxError>,
) {
    let attrs: Vec<ast::Attr> = path.attrs().collect();
    let Some((last, init)) = attrs.split_last() else { return };
    let mut shown = String::new();
    for attr in init {
        // Anything under a dynamic name lands in a fresh set: no clash is possible.
        let Some(name) = attr.static_name() else { return };
        push_segment(&mut shown, &name);
        let range = path_range(path, attr);
        let def = map.entry(name).or_insert_with(|| Def {
            range,
            attrs: Some(AttrMap::new()),
            inherited: false,
        });
        match &mut def.attrs {
            Some(nested) if !def.inherited => map = nested,
            _ => {
                errors.push(duplicate(&shown, range, def.range));
                return;
            }
        }
    }
    let Some(name) = last.static_name() else { return };
    push_segment(&mut shown, &name);
    let range = path.syntax().text_range();
    match map.get_mut(&name) {
        None => {
            map.insert(name, Def { range, attrs: value_attrs, inherited: false });
        }
        Some(existing) => match (&mut existing.attrs, value_attrs) {
            // Two set literals for one name merge, one level deep, as in Nix.
            (Some(into), Some(from)) if !existing.inherited => {
                for (key, def) in from {
                    if let Some(first) = into.get(&key) {
                        errors.push(duplicate(&format!("{shown}.{key}"), def.range, first.range));
                    } else {
                        into.insert(key, def);
                    }
                }
            }
            _ => errors.push(duplicate(&shown, range, existing.range)),
        },
    }
}

/// The range of `path` from its start up to and including `attr`.
fn path_range(path: &ast::Attrpath, attr: &ast::Attr) -> TextRange {
    TextRange::new(path.syntax().text_range().start(), attr.syntax().text_range().end())
}

fn push_segment(shown: &mut String, name: &str) {
    if !shown.is_empty() {
        shown.push('.');
    }
    shown.push_str(name);
}

fn duplicate(name: &str, range: TextRange, first: TextRange) -> SyntaxError {
    SyntaxError::new(
        SyntaxErrorKind::DuplicateAttr,
        format!("attribute `{name}` is defined twice"),
        range,
    )
    .with_label(first, "first defined here".into())
}

fn check_let_dynamic(let_in: &ast::LetIn, errors: &mut Vec<SyntaxError>) {
    for binding in let_in.bindings() {
        let ast::Binding::AttrpathValue(apv) = binding else { continue };
        let Some(first) = apv.attrpath().and_then(|p| p.attrs().next()) else { continue };
        if first.static_name().is_none() {
            errors.push(
                SyntaxError::new(
                    SyntaxErrorKind::DynamicAttrNotAllowed,
                    "dynamic attributes are not allowed in `let`".into(),
                    first.syntax().text_range(),
                )
                .with_help("bind a set instead: `let s = { ${…} = …; }; in …`".into()),
            );
        }
    }
}

fn check_pattern(pattern: &ast::Pattern, errors: &mut Vec<SyntaxError>) {
    let mut seen: BTreeMap<String, TextRange> = BTreeMap::new();
    let bind = pattern.pat_bind().and_then(|b| b.name());
    for entry in pattern.entries() {
        let Some(name) = entry.name() else { continue };
        let Some(text) = name.text() else { continue };
        let range = name.syntax().text_range();
        if let Some(first) = seen.get(&text) {
            errors.push(
                SyntaxError::new(
                    SyntaxErrorKind::DuplicateFormal,
                    format!("function argument `{text}` is named twice"),
                    range,
                )
                .with_label(*first, "first named here".into()),
            );
        } else {
            seen.insert(text, range);
        }
    }
    if let Some(bind) = bind
        && let Some(text) = bind.text()
        && let Some(first) = seen.get(&text)
    {
        errors.push(
            SyntaxError::new(
                SyntaxErrorKind::DuplicateFormal,
                format!("`{text}` names both the whole argument and one of its attributes"),
                bind.syntax().text_range(),
            )
            .with_label(*first, "also named here".into()),
        );
    }
}
