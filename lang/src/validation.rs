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

/// The node of `kind` that starts at `start`, found by binary search down the tree.
fn find_node(root: &SyntaxNode, kind: SyntaxKind, start: TextSize) -> Option<SyntaxNode> {
    let first_byte = TextRange::at(start, 1.into());
    let mut node = root.clone();
    loop {
        if node.kind() == kind && node.text_range().start() == start {
            return Some(node);
        }
        node = node.child_or_token_at_range(first_byte)?.into_node()?;
    }
}

/// What one attribute name is bound to, as far as the parser can tell.
struct Def {
    /// Where it was first defined (its attribute path).
    range: TextRange,
    value: Value,
    inherited: bool,
}

/// The part of a value that matters for merging.
enum Value {
    /// Anything that is not an attribute set literal: nothing merges into it.
    Opaque,
    /// A set literal, not looked into yet (most never need to be).
    Literal(SyntaxNode),
    /// A set made by nested paths (`a.b = …;`), or a literal after it was looked into.
    Attrs(AttrMap),
}

impl Def {
    /// The set this name is bound to, if it is one that can be merged into.
    fn attrs_mut(&mut self) -> Option<&mut AttrMap> {
        if self.inherited {
            return None;
        }
        if let Value::Literal(node) = &self.value {
            // The literal's own duplicates are reported when it is visited itself.
            self.value = Value::Attrs(collect_bindings(node, &mut Vec::new()));
        }
        match &mut self.value {
            Value::Attrs(attrs) => Some(attrs),
            _ => None,
        }
    }
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
                let value =
                    apv.value().and_then(|v| literal(&v)).map_or(Value::Opaque, Value::Literal);
                insert(&mut map, &path, value, errors);
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
                    map.insert(name, Def { range, value: Value::Opaque, inherited: true });
                }
            }
        }
    }
    map
}

/// The set literal a value is (through parentheses, which Nix does not see), if it is one.
fn literal(value: &ast::Expr) -> Option<SyntaxNode> {
    match value {
        ast::Expr::AttrSet(set) => Some(set.syntax().clone()),
        ast::Expr::Paren(paren) => literal(&paren.expr()?),
        _ => None,
    }
}

fn insert(
    mut map: &mut AttrMap,
    path: &ast::Attrpath,
    value: Value,
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
            value: Value::Attrs(AttrMap::new()),
            inherited: false,
        });
        let first = def.range;
        match def.attrs_mut() {
            Some(nested) => map = nested,
            None => {
                errors.push(duplicate(&shown, range, first));
                return;
            }
        }
    }
    let Some(name) = last.static_name() else { return };
    push_segment(&mut shown, &name);
    let range = path.syntax().text_range();
    match map.get_mut(&name) {
        None => {
            map.insert(name, Def { range, value, inherited: false });
        }
        Some(existing) => {
            let first = existing.range;
            match (existing.attrs_mut(), value) {
                // Two set literals for one name merge, one level deep, as in Nix.
                (Some(into), Value::Literal(node)) => {
                    for (key, def) in collect_bindings(&node, &mut Vec::new()) {
                        if let Some(first) = into.get(&key) {
                            let shown = format!("{shown}.{key}");
                            errors.push(duplicate(&shown, def.range, first.range));
                        } else {
                            into.insert(key, def);
                        }
                    }
                }
                _ => errors.push(duplicate(&shown, range, first)),
            }
        }
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
