//! Lowering: the typed AST of one file → IR nodes in the arena.
//!
//! Variables are resolved here: to a `(depth, slot)` in the frame chain, to a global, or, when a
//! `with` encloses them and nothing else binds them, to a run-time `with` lookup. Undefined
//! variables are reported before evaluation starts, all of them, with a "did you mean".
//! `inherit`, nested attribute paths (`a.b = 1; a.c = 2;`), set literals merged with paths,
//! interpolation and indented-string indentation are all desugared here.

use alloc_shim::thin::RcStr;
mod attrs;
mod strict;
mod strings;

pub(crate) use self::strings::canonical as canonical_path;

use std::{collections::HashMap, path::PathBuf, rc::Rc};

use lang::{
    FileId, Span, TextRange,
    ast::{self, AstNode, BinaryOp, UnaryOpKind},
};

use crate::{
    error::{ErrorKind, EvalError},
    ir::{Arena, AttrKey, Expr, ExprId, Formal, Lambda, Param, Var},
    suggest::did_you_mean,
};

/// One frame of the run-time environment, as lowering sees it.
enum Scope {
    /// A frame's names, by slot, and (for a frame large enough for a search to cost: a `let`
    /// or `rec` set of thousands of names) each name's last slot.
    Frame(Vec<RcStr>, HashMap<RcStr, u32>),
    With,
}

/// The most parameters of a chain `a: b: …` given one frame (`Param::Curried`).
const CURRIED: usize = 8;

/// Frames (and set literals being lowered) with more names than this are searched through a
/// map, not one by one.
const INDEXED: usize = 16;

pub(crate) struct Lowerer<'a> {
    pub(crate) arena: &'a mut Arena,
    file: FileId,
    base_dir: PathBuf,
    home: Option<String>,
    scopes: Vec<Scope>,
    global: &'a dyn Fn(&str) -> Option<u32>,
    /// Whether the global at a slot is a builtin that forces its one argument first.
    strict_global: &'a dyn Fn(u32) -> bool,
    pub(crate) errors: Vec<EvalError>,
}

impl<'a> Lowerer<'a> {
    pub(crate) fn new(
        arena: &'a mut Arena,
        file: FileId,
        base_dir: PathBuf,
        home: Option<String>,
        global: &'a dyn Fn(&str) -> Option<u32>,
        strict_global: &'a dyn Fn(u32) -> bool,
    ) -> Lowerer<'a> {
        let scopes = Vec::new();
        Lowerer { arena, file, base_dir, home, scopes, global, strict_global, errors: Vec::new() }
    }

    pub(crate) fn span(&self, node: &impl AstNode) -> Span {
        Span { file: self.file, range: node.syntax().text_range() }
    }

    pub(crate) fn push(&mut self, expr: Expr, span: Span) -> ExprId {
        self.arena.push(expr, span)
    }

    /// Lowers an expression; a missing piece (impossible after a clean parse) becomes `null`.
    pub(crate) fn expr(&mut self, expr: Option<ast::Expr>, around: Span) -> ExprId {
        match expr {
            Some(expr) => self.lower(&expr),
            None => self.push(Expr::Var(self.global_var("null")), around),
        }
    }

    fn lower(&mut self, expr: &ast::Expr) -> ExprId {
        // Trees can be thousands of levels deep; make sure the stack can take it.
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.lower_inner(expr))
    }

    fn lower_inner(&mut self, expr: &ast::Expr) -> ExprId {
        let span = self.span(expr);
        let lowered = match expr {
            ast::Expr::Literal(literal) => self.literal(literal),
            ast::Expr::Ref(reference) => {
                let token = reference.token();
                Expr::Var(self.resolve(token.as_ref().map_or("", |t| t.text()), span))
            }
            ast::Expr::Str(s) => return self.string(s),
            ast::Expr::Path(p) => return self.path(p),
            ast::Expr::Paren(p) => return self.expr(p.expr(), span),
            ast::Expr::List(list) => Expr::List(list.items().map(|e| self.lower(&e)).collect()),
            ast::Expr::AttrSet(set) => return self.attr_set(set),
            ast::Expr::LetIn(let_in) => return self.let_in(let_in),
            ast::Expr::LegacyLet(legacy) => return self.legacy_let(legacy),
            ast::Expr::Lambda(lambda) => Expr::Lambda(self.lambda(lambda, None)),
            ast::Expr::Apply(apply) => {
                let func = self.expr(apply.lambda(), span);
                let arg = self.expr(apply.argument(), span);
                Expr::Apply { func, arg }
            }
            ast::Expr::Select(select) => {
                let expr = self.expr(select.expr(), span);
                let mut path = self.attrpath(select.attrpath());
                let default = select.default_expr().map(|d| self.lower(&d));
                // `builtins.NAME` (the global `builtins`) is the global `__NAME` itself: no
                // lookup in a set of a hundred names each time it is evaluated.
                if let Expr::Var(Var::Global { name, .. }) = self.arena.get(expr)
                    && &**name == "builtins"
                    && let Some(AttrKey::Static(first)) = path.first()
                    && let Some(slot) = (self.global)(&format!("builtins.{first}"))
                {
                    let direct = Var::Global { name: format!("builtins.{first}").into(), slot };
                    if path.len() == 1 {
                        Expr::Var(direct)
                    } else {
                        path.remove(0);
                        let expr = self.push(Expr::Var(direct), span);
                        Expr::Select { expr, path, default }
                    }
                } else {
                    Expr::Select { expr, path, default }
                }
            }
            ast::Expr::HasAttr(has) => {
                let expr = self.expr(has.expr(), span);
                Expr::HasAttr { expr, path: self.attrpath(has.attrpath()) }
            }
            ast::Expr::IfElse(if_else) => Expr::If {
                cond: self.expr(if_else.condition(), span),
                then: self.expr(if_else.body(), span),
                otherwise: self.expr(if_else.else_body(), span),
            },
            ast::Expr::Assert(assert) => Expr::Assert {
                cond: self.expr(assert.condition(), span),
                body: self.expr(assert.body(), span),
            },
            ast::Expr::With(with) => {
                let namespace = self.expr(with.namespace(), span);
                self.scopes.push(Scope::With);
                let body = self.expr(with.body(), span);
                self.scopes.pop();
                Expr::With { namespace, body }
            }
            ast::Expr::BinOp(binop) => {
                let lhs = self.expr(binop.lhs(), span);
                let rhs = self.expr(binop.rhs(), span);
                match binop.operator() {
                    Some(BinaryOp::PipeRight) => Expr::Apply { func: rhs, arg: lhs },
                    Some(BinaryOp::PipeLeft) => Expr::Apply { func: lhs, arg: rhs },
                    Some(op) => Expr::BinOp { op, lhs, rhs },
                    None => Expr::Var(self.global_var("null")),
                }
            }
            ast::Expr::UnaryOp(unary) => {
                let operand = self.expr(unary.expr(), span);
                match unary.operator() {
                    Some(UnaryOpKind::Not) => Expr::Not(operand),
                    _ => Expr::Negate(operand),
                }
            }
        };
        self.push(lowered, span)
    }

    fn literal(&mut self, literal: &ast::Literal) -> Expr {
        let Some(token) = literal.token() else { return Expr::Int(0) };
        let text = token.text();
        match token.kind() {
            // Invariant: the lexer reported integers that do not fit, so the parse was not clean.
            lang::SyntaxKind::INT => Expr::Int(text.parse().unwrap_or(i64::MAX)),
            lang::SyntaxKind::FLOAT => Expr::Float(parse_float(text)),
            _ => Expr::Str(text.into()),
        }
    }

    /// The global `name` (which exists: `null`, `builtins`, …).
    fn global_var(&self, name: &str) -> Var {
        Var::Global { name: name.into(), slot: (self.global)(name).unwrap_or(u32::MAX) }
    }

    /// Resolves a name: lexical frames first, then globals, then enclosing `with`s.
    pub(crate) fn resolve(&mut self, name: &str, span: Span) -> Var {
        let mut withs = Vec::new();
        for (depth, scope) in self.scopes.iter().rev().enumerate() {
            let depth = depth as u32;
            match scope {
                Scope::Frame(names, index) => {
                    // The last binding of a name wins (formals cannot repeat; this is for safety).
                    let slot = if names.len() > INDEXED {
                        index.get(name).copied()
                    } else {
                        names.iter().rposition(|n| &**n == name).map(|slot| slot as u32)
                    };
                    if let Some(slot) = slot {
                        return Var::Local { depth, slot };
                    }
                }
                Scope::With => withs.push(depth),
            }
        }
        let under_with = !withs.is_empty();
        if let Some(slot) = (self.global)(name) {
            return Var::Global { name: name.into(), slot };
        }
        // `__curPos` is the position where it is written (the machine makes it).
        if name == "__curPos" {
            return Var::Global { name: name.into(), slot: u32::MAX };
        }
        if under_with {
            return Var::With { name: self.arena.name(name), withs: withs.into() };
        }
        let mut error =
            EvalError::new(ErrorKind::UndefinedVariable { name: name.to_owned() }, Some(span));
        let visible = self.scopes.iter().flat_map(|s| match s {
            Scope::Frame(names, _) => names.iter().map(|n| &**n).collect::<Vec<_>>(),
            Scope::With => Vec::new(),
        });
        if let Some(suggestion) = did_you_mean(name, visible) {
            error.help = Some(format!("did you mean `{suggestion}`?"));
        }
        self.errors.push(*error);
        Var::Global { name: name.into(), slot: u32::MAX }
    }

    pub(crate) fn with_frame<T>(&mut self, names: Vec<RcStr>, f: impl FnOnce(&mut Self) -> T) -> T {
        let mut index = HashMap::new();
        if names.len() > INDEXED {
            // Later names overwrite earlier ones: the last binding wins, as above.
            index.extend(names.iter().enumerate().map(|(slot, n)| (n.clone(), slot as u32)));
        }
        self.scopes.push(Scope::Frame(names, index));
        let out = f(self);
        self.scopes.pop();
        out
    }

    /// Runs `f` as if the innermost frame were not there (for `inherit` in `rec` sets and `let`).
    pub(crate) fn outside_frame<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let frame = self.scopes.pop();
        let out = f(self);
        self.scopes.extend(frame);
        out
    }

    fn lambda(&mut self, lambda: &ast::Lambda, name: Option<RcStr>) -> Rc<Lambda> {
        let span = self.span(lambda);
        if let Some(param) = lambda.param() {
            let mut heads = vec![self.span(&param)];
            let text = |p: ast::Param| p.name().and_then(|n| n.text()).unwrap_or_default();
            let mut names = vec![self.arena.name(text(param).as_str())];
            // `a: b: c: body`: one frame for the whole chain — up to `CURRIED` parameters, so
            // that applying a long chain one argument at a time (each partial application
            // copies the arguments so far) stays linear; the rest is a chain of its own.
            let mut body = lambda.body();
            while let Some(ast::Expr::Lambda(inner)) = &body
                && let Some(param) = inner.param()
                && names.len() < CURRIED
            {
                heads.push(self.span(&param));
                names.push(self.arena.name(text(param).as_str()));
                body = inner.body();
            }
            let body = self.with_frame(names.clone(), |l| l.expr(body, span));
            let param = match <[RcStr; 1]>::try_from(names) {
                Ok([ident]) => Param::Ident(ident),
                Err(names) => Param::Curried(names.into()),
            };
            // A chain's frame is made only when all its arguments are there: none is taken
            // early.
            let strict = matches!(param, Param::Ident(_))
                && strict::forces_first(self.arena, body, self.strict_global);
            return Rc::new(Lambda { param, body, heads: heads.into(), name, strict });
        }
        let Some(pattern) = lambda.pattern() else {
            let body = self.expr(None, span);
            let param = Param::Ident("".into());
            return Rc::new(Lambda { param, body, heads: [span].into(), name, strict: false });
        };
        let names: Vec<RcStr> = pattern
            .entries()
            .map(|e| self.arena.name(e.name().and_then(|n| n.text()).unwrap_or_default().as_str()))
            .collect();
        let bind: Option<RcStr> =
            pattern.pat_bind().and_then(|b| b.name()).and_then(|n| n.text()).map(Into::into);
        let mut frame = names.clone();
        frame.extend(bind.clone());
        let (formals, body) = self.with_frame(frame, |l| {
            let formals: Vec<Formal> = pattern
                .entries()
                .zip(names)
                .map(|(entry, name)| Formal { name, default: entry.default().map(|d| l.lower(&d)) })
                .collect();
            (formals, l.expr(lambda.body(), span))
        });
        let ellipsis = pattern.ellipsis_token().is_some();
        // Applying a set pattern forces the argument before anything else.
        let param = Param::Pattern { formals, ellipsis, bind };
        let heads = [self.span(&pattern)].into();
        Rc::new(Lambda { param, body, heads, name, strict: true })
    }

    /// Lowers a value, naming a lambda after the binding that holds it.
    pub(crate) fn value(&mut self, expr: &ast::Expr, name: &RcStr) -> ExprId {
        if let ast::Expr::Lambda(lambda) = expr {
            let span = self.span(lambda);
            let lowered = self.lambda(lambda, Some(name.clone()));
            return self.push(Expr::Lambda(lowered), span);
        }
        self.lower(expr)
    }

    fn attrpath(&mut self, path: Option<ast::Attrpath>) -> Vec<AttrKey> {
        let Some(path) = path else { return Vec::new() };
        path.attrs().map(|attr| self.attr_key(&attr)).collect()
    }

    pub(crate) fn attr_key(&mut self, attr: &ast::Attr) -> AttrKey {
        if let Some(name) = attr.static_name() {
            return AttrKey::Static(self.arena.name(&name));
        }
        let span = self.span(attr);
        match attr {
            ast::Attr::Dynamic(d) => AttrKey::Dynamic(self.expr(d.expr(), span)),
            ast::Attr::Str(s) => AttrKey::Dynamic(self.string(s)),
            ast::Attr::Name(_) => AttrKey::Static("".into()),
        }
    }

    fn path(&mut self, path: &ast::Path) -> ExprId {
        let span = self.span(path);
        if let Some(search) = path.search_path() {
            let name = search.text().trim_start_matches('<').trim_end_matches('>');
            return self.push(Expr::SearchPath(name.into()), span);
        }
        strings::path(self, path, span)
    }

    fn string(&mut self, s: &ast::Str) -> ExprId {
        let span = self.span(s);
        strings::string(self, s, span)
    }

    pub(crate) fn base_dir(&self) -> &PathBuf {
        &self.base_dir
    }

    pub(crate) fn home(&self) -> Option<&str> {
        self.home.as_deref()
    }
}

/// Parses a float literal as Nix does (`1.` and `.5` included).
fn parse_float(text: &str) -> f64 {
    let text = if text.starts_with('.') { format!("0{text}") } else { text.to_owned() };
    let text = text.replace(".e", ".0e").replace(".E", ".0E");
    let text = if text.ends_with('.') { format!("{text}0") } else { text };
    text.parse().unwrap_or(f64::NAN)
}

/// The span of a whole file, for expressions that have no node of their own.
pub(crate) fn file_span(file: FileId, len: usize) -> Span {
    Span { file, range: TextRange::up_to((len as u32).into()) }
}
