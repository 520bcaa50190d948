//! Lowering sets and `let`: bindings are first gathered into a tree (`Pending`) that merges
//! nested paths and set literals the way Nix does, then emitted with the right scopes.

use alloc_shim::thin::RcStr;
use std::{collections::HashMap, rc::Rc};

use lang::{
    Span,
    ast::{self, HasBindings},
};

use crate::{
    ir::{AttrKey, AttrValue, Expr, ExprId},
    lower::Lowerer,
};

/// A set being assembled from bindings.
struct Pending {
    rec: bool,
    span: Span,
    /// Each name, its entry and where the name is written (for `unsafeGetAttrPos`).
    statics: Vec<(RcStr, Entry, Span)>,
    dynamics: Vec<(ast::Attr, Entry)>,
    /// Where each of the first `indexed` static names is, once a set is large enough for a
    /// search to cost (a 20,000-name literal is common in package sets: a linear search per
    /// name made lowering it quadratic).
    index: HashMap<RcStr, usize>,
    indexed: usize,
}

enum Entry {
    Value(ast::Expr),
    Nested(Pending),
    /// `inherit x;`
    Inherit(RcStr, Span),
    /// `inherit (from) x;`
    InheritFrom(ast::Expr, RcStr, Span),
}

impl Lowerer<'_> {
    pub(crate) fn attr_set(&mut self, set: &ast::AttrSet) -> ExprId {
        let pending = self.gather(set.bindings(), set.is_rec(), self.span(set));
        self.emit(pending)
    }

    pub(crate) fn let_in(&mut self, let_in: &ast::LetIn) -> ExprId {
        let span = self.span(let_in);
        let pending = self.gather(let_in.bindings(), true, span);
        let names: Vec<RcStr> = pending.statics.iter().map(|(n, ..)| n.clone()).collect();
        let (bindings, body) = self.with_frame(names, |l| {
            let bindings: Vec<AttrValue> = pending
                .statics
                .into_iter()
                .map(|(name, entry, _)| l.entry(&name, entry, true))
                .collect();
            (bindings, l.expr(let_in.body(), span))
        });
        self.push(Expr::Let { bindings, body }, span)
    }

    /// `let { a = …; body = …; }` is `(rec { a = …; body = …; }).body`.
    pub(crate) fn legacy_let(&mut self, legacy: &ast::LegacyLet) -> ExprId {
        let span = self.span(legacy);
        let pending = self.gather(legacy.bindings(), true, span);
        let set = self.emit(pending);
        let path = vec![AttrKey::Static("body".into())];
        self.push(Expr::Select { expr: set, path, default: None }, span)
    }

    fn gather(
        &mut self,
        bindings: impl Iterator<Item = ast::Binding>,
        rec: bool,
        span: Span,
    ) -> Pending {
        let mut pending = Pending::new(rec, span);
        for binding in bindings {
            match binding {
                ast::Binding::AttrpathValue(apv) => {
                    let attrs: Vec<ast::Attr> =
                        apv.attrpath().map(|p| p.attrs().collect()).unwrap_or_default();
                    if let Some(value) = apv.value() {
                        self.insert(&mut pending, &attrs, value);
                    }
                }
                ast::Binding::Inherit(inherit) => {
                    let from = inherit.from().and_then(|f| f.expr());
                    // Nix 2.8 places every inherited name where its list of names starts: just
                    // after `inherit` (seven bytes) or after the `(…)` naming the source.
                    let whole = self.span(&inherit);
                    let after = match inherit.from() {
                        Some(source) => self.span(&source).range.end(),
                        None => whole.range.start() + lang::TextSize::from(7),
                    };
                    let at = Span { file: whole.file, range: lang::TextRange::empty(after) };
                    for attr in inherit.attrs() {
                        let Some(name) = attr.static_name() else { continue };
                        let name = self.arena.name(&name);
                        let span = self.span(&attr);
                        let entry = match &from {
                            Some(from) => Entry::InheritFrom(from.clone(), name.clone(), span),
                            None => Entry::Inherit(name.clone(), span),
                        };
                        pending.statics.push((name, entry, at));
                    }
                }
            }
        }
        pending
    }

    /// Adds `a.b.c = value` to `pending`, merging with what is there as Nix does.
    fn insert(&mut self, mut pending: &mut Pending, attrs: &[ast::Attr], value: ast::Expr) {
        let Some((last, init)) = attrs.split_last() else { return };
        // Every name of a path is placed where the path starts, as Nix places them.
        let at = self.span(&attrs[0]);
        for attr in init {
            let span = self.span(attr);
            match attr.static_name() {
                Some(name) => {
                    let index = match pending.position(&name) {
                        Some(index) => index,
                        None => {
                            let nested = Pending::nested(span);
                            let name = self.arena.name(&name);
                            pending.statics.push((name, Entry::Nested(nested), at));
                            pending.statics.len() - 1
                        }
                    };
                    let entry = &mut pending.statics[index].1;
                    self.open(entry);
                    let Entry::Nested(nested) = entry else { return };
                    pending = nested;
                }
                None => {
                    pending.dynamics.push((attr.clone(), Entry::Nested(Pending::nested(span))));
                    let Some((_, Entry::Nested(nested))) = pending.dynamics.last_mut() else {
                        return;
                    };
                    pending = nested;
                }
            }
        }
        match last.static_name() {
            Some(name) => match pending.position(&name) {
                // Validation allowed a repeat only when both sides are sets: merge them.
                Some(index) => {
                    let entry = &mut pending.statics[index].1;
                    self.open(entry);
                    if let (Entry::Nested(into), Some(set)) = (entry, literal_set(&value)) {
                        let more = self.gather(set.bindings(), set.is_rec(), into.span);
                        into.statics.extend(more.statics);
                        into.dynamics.extend(more.dynamics);
                    }
                }
                None => {
                    let name = self.arena.name(&name);
                    pending.statics.push((name, Entry::Value(value), at));
                }
            },
            None => pending.dynamics.push((last.clone(), Entry::Value(value))),
        }
    }

    /// Turns a set literal entry into a `Nested` one so that paths can merge into it.
    fn open(&mut self, entry: &mut Entry) {
        if let Entry::Value(value) = entry
            && let Some(set) = literal_set(value)
        {
            let span = self.span(&set);
            *entry = Entry::Nested(self.gather(set.bindings(), set.is_rec(), span));
        }
    }

    fn emit(&mut self, pending: Pending) -> ExprId {
        let Pending { rec, span, statics, dynamics, .. } = pending;
        // A plain set's static attributes in name order, so that evaluation builds it already
        // sorted; their values are still lowered in source order, so that problems are
        // reported in the order they are written. A `rec` set keeps source order: its frame
        // is filled in that order, and an attribute naming one written before it shares that
        // one's cell, as in Nix (`rec { b = [ 1 ]; a = b; }` prints `b` as `«repeated»`).
        let mut order: Vec<usize> = (0..statics.len()).collect();
        if !rec {
            order.sort_by(|&a, &b| statics[a].0.cmp(&statics[b].0));
        }
        let names: Vec<RcStr> =
            if rec { order.iter().map(|&i| statics[i].0.clone()).collect() } else { Vec::new() };
        let keys: Rc<[Span]> = order.iter().map(|&i| statics[i].2).collect();
        let body = |l: &mut Self| {
            let mut lowered: Vec<Option<(RcStr, AttrValue)>> = statics
                .into_iter()
                .map(|(name, entry, _)| {
                    let value = l.entry(&name, entry, rec);
                    Some((name, value))
                })
                .collect();
            let statics: Vec<(RcStr, AttrValue)> =
                order.iter().filter_map(|&i| lowered[i].take()).collect();
            let dynamics: Vec<(ExprId, ExprId)> = dynamics
                .into_iter()
                .map(|(attr, entry)| {
                    let key = match l.attr_key(&attr) {
                        AttrKey::Dynamic(key) => key,
                        AttrKey::Static(name) => l.push(Expr::Str(name), span),
                    };
                    let value = match l.entry(&"".into(), entry, rec) {
                        AttrValue::Inner(id) | AttrValue::Outer(id) => id,
                    };
                    (key, value)
                })
                .collect();
            // Written in order, each name once, no `__overrides`: the set is made as it
            // stands, with no sorting pass.
            let sorted = dynamics.is_empty()
                && statics.windows(2).all(|w| w[0].0 < w[1].0)
                && !statics.iter().any(|(name, _)| &**name == "__overrides");
            Expr::Attrs(Box::new(crate::ir::SetLiteral { rec, statics, dynamics, keys, sorted }))
        };
        let expr = if rec { self.with_frame(names, body) } else { body(self) };
        self.push(expr, span)
    }

    /// Lowers one binding's value in the current scope; `inherit`s see the scope around the
    /// set (`in_frame`: the set or `let` pushed a frame of its own that they must skip).
    fn entry(&mut self, name: &RcStr, entry: Entry, in_frame: bool) -> AttrValue {
        let outer = |l: &mut Self, f: &mut dyn FnMut(&mut Self) -> ExprId| {
            if in_frame { l.outside_frame(|l| f(l)) } else { f(l) }
        };
        match entry {
            Entry::Value(value) => AttrValue::Inner(self.value(&value, name)),
            // A path `a.b.….z = v;` nests as deep as it is long (the parser bounds nesting,
            // not a path's length): grow the stack as lowering an expression does.
            Entry::Nested(nested) => {
                AttrValue::Inner(stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.emit(nested)))
            }
            Entry::Inherit(name, span) => AttrValue::Outer(outer(self, &mut |l| {
                let var = l.resolve(&name, span);
                l.push(Expr::Var(var), span)
            })),
            // `inherit (e) x;` is `x = e.x;` as Nix desugars it: `e` sees the set's own scope
            // (in `rec` and `let`), unlike a plain `inherit`.
            Entry::InheritFrom(from, name, span) => {
                let expr = self.expr(Some(from), span);
                let path = vec![AttrKey::Static(name)];
                AttrValue::Inner(self.push(Expr::Select { expr, path, default: None }, span))
            }
        }
    }
}

impl Pending {
    fn new(rec: bool, span: Span) -> Pending {
        let (statics, dynamics, index) = (Vec::new(), Vec::new(), HashMap::new());
        Pending { rec, span, statics, dynamics, index, indexed: 0 }
    }

    fn nested(span: Span) -> Pending {
        Pending::new(false, span)
    }

    /// Where the static name `name` is (the first entry of that name).
    fn position(&mut self, name: &str) -> Option<usize> {
        if self.statics.len() <= super::INDEXED {
            return self.statics.iter().position(|(n, ..)| **n == *name);
        }
        // Names are only ever added at the end: index the ones added since the last search.
        for (at, (n, ..)) in self.statics.iter().enumerate().skip(self.indexed) {
            self.index.entry(n.clone()).or_insert(at);
        }
        self.indexed = self.statics.len();
        self.index.get(name).copied()
    }
}

/// The set literal a value is, through parentheses (which Nix does not see).
fn literal_set(value: &ast::Expr) -> Option<ast::AttrSet> {
    match value {
        ast::Expr::AttrSet(set) => Some(set.clone()),
        ast::Expr::Paren(paren) => literal_set(&paren.expr()?),
        _ => None,
    }
}
