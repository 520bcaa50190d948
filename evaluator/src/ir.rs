//! The evaluator's IR: expressions with variables already resolved to `(depth, slot)` pairs,
//! `inherit`, nested attribute paths and interpolation desugared, a span on every node.
//! Nodes live in one `Arena` for the whole evaluation and refer to each other by `ExprId`.

use alloc_shim::thin::RcStr;
use std::{path::PathBuf, rc::Rc};

use lang::{Span, ast::BinaryOp};

/// An index into the `Arena`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ExprId(u32);

impl ExprId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }

    /// The id as a number, for keeping it in a packed field.
    pub(crate) fn raw(self) -> u32 {
        self.0
    }

    pub(crate) fn from_raw(raw: u32) -> ExprId {
        ExprId(raw)
    }
}

#[derive(Default)]
pub(crate) struct Arena {
    nodes: Vec<Node>,
    /// Every attribute name and formal written in the program, once: a name in a set
    /// literal and the same name selected elsewhere share their text, so a lookup usually
    /// finds its entry by address without comparing bytes (`Attrs::get`).
    names: std::collections::HashSet<RcStr>,
    /// The names of the `Hot::Select` and `Hot::With` nodes.
    selected: Vec<RcStr>,
}

/// The forms evaluation meets most, with their fields, kept beside each node so that the
/// evaluator's hot path reads them without decoding the `Expr` behind its `Rc`.
#[derive(Clone, Copy)]
pub(crate) enum Hot {
    Int(i64),
    Local(u32, u32),
    /// A global that exists (`__curPos` and undefined names take the general path).
    Global(u32),
    /// `builtins.NAME`, read as the global `__NAME`: evaluated as `Global`, but an argument
    /// or an element written so is suspended, as Nix suspends a selection (lazy printing shows
    /// `<CODE>` there, and the value of a plain `map` or `__add`).
    Member(u32),
    Apply(ExprId, ExprId),
    If(ExprId, ExprId, ExprId),
    BinOp(BinaryOp, ExprId, ExprId),
    /// `e.name`: one static name, no `or` (the name at this index of `Arena::selected`).
    Select(ExprId, u32),
    /// A variable no lexical scope binds, under exactly one `with`, whose frame is `depth`
    /// levels up (the name at this index of `Arena::selected`).
    With(u32, u32),
    Other,
}

impl Hot {
    fn of(expr: &Expr) -> Hot {
        match expr {
            Expr::Int(i) => Hot::Int(*i),
            Expr::Var(Var::Local { depth, slot }) => Hot::Local(*depth, *slot),
            Expr::Var(Var::Global { slot, name }) if *slot != u32::MAX => {
                if name.starts_with("builtins.") { Hot::Member(*slot) } else { Hot::Global(*slot) }
            }
            Expr::Apply { func, arg } => Hot::Apply(*func, *arg),
            Expr::If { cond, then, otherwise } => Hot::If(*cond, *then, *otherwise),
            Expr::BinOp { op, lhs, rhs } => Hot::BinOp(*op, *lhs, *rhs),
            _ => Hot::Other,
        }
    }
}

impl Arena {
    /// The shared text of a name written in the program.
    pub(crate) fn name(&mut self, text: &str) -> RcStr {
        if let Some(name) = self.names.get(text) {
            return name.clone();
        }
        let name: RcStr = text.into();
        self.names.insert(name.clone());
        name
    }

    /// The shared text of `text` if the program writes that name.
    pub(crate) fn known_name(&self, text: &str) -> Option<RcStr> {
        self.names.get(text).cloned()
    }

    pub(crate) fn push(&mut self, kind: Expr, span: Span) -> ExprId {
        let hot = match &kind {
            Expr::Select { expr, path, default: None } => match &path[..] {
                [AttrKey::Static(name)] => match u32::try_from(self.selected.len()) {
                    Ok(index) => {
                        self.selected.push(name.clone());
                        Hot::Select(*expr, index)
                    }
                    Err(_) => Hot::Other,
                },
                _ => Hot::Other,
            },
            Expr::Var(Var::With { name, withs }) => {
                match (&withs[..], u32::try_from(self.selected.len())) {
                    ([depth], Ok(index)) => {
                        self.selected.push(name.clone());
                        Hot::With(*depth, index)
                    }
                    _ => Hot::Other,
                }
            }
            _ => Hot::of(&kind),
        };
        self.nodes.push(Node { hot, kind: Rc::new(kind), span });
        // More than four billion nodes would not fit in memory first.
        ExprId(u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX))
    }

    /// The name of a `Hot::Select` or `Hot::With` node.
    pub(crate) fn selected(&self, index: u32) -> &RcStr {
        &self.selected[index as usize]
    }

    pub(crate) fn hot(&self, id: ExprId) -> Hot {
        self.nodes[id.0 as usize].hot
    }

    pub(crate) fn get(&self, id: ExprId) -> &Expr {
        &self.nodes[id.0 as usize].kind
    }

    /// A shared handle on a node, so evaluation can hold it while the arena grows.
    pub(crate) fn shared(&self, id: ExprId) -> Rc<Expr> {
        self.nodes[id.0 as usize].kind.clone()
    }

    pub(crate) fn span(&self, id: ExprId) -> Span {
        self.nodes[id.0 as usize].span
    }
}

pub(crate) struct Node {
    hot: Hot,
    kind: Rc<Expr>,
    span: Span,
}

/// Where a variable's value lives.
#[derive(Debug, Clone)]
pub(crate) enum Var {
    /// In the environment frame `depth` levels up, at `slot`.
    Local { depth: u32, slot: u32 },
    /// Not bound lexically: looked up in the enclosing `with` sets at run time, innermost
    /// first. `withs`: how many frames up each `with`'s frame is (its namespace in slot 0).
    With { name: RcStr, withs: Box<[u32]> },
    /// A global: `true`, `map`, `builtins`, … at `slot` of the machine's globals (`u32::MAX`:
    /// none, an error when evaluated, or `__curPos`).
    Global { name: RcStr, slot: u32 },
}

/// A piece of an interpolated string or path.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    Literal(RcStr),
    Expr(ExprId),
}

/// An attribute name: known when lowering, or computed.
#[derive(Debug, Clone)]
pub(crate) enum AttrKey {
    Static(RcStr),
    Dynamic(ExprId),
}

/// The value of one static attribute of a set literal or a `let` binding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttrValue {
    /// Evaluated in the set's scope (the new frame for `rec` and `let`, the enclosing one
    /// otherwise).
    Inner(ExprId),
    /// `inherit x;` and `inherit (e) x;`: evaluated in the scope around the set.
    Outer(ExprId),
}

#[derive(Debug, Clone)]
pub(crate) struct Formal {
    pub(crate) name: RcStr,
    pub(crate) default: Option<ExprId>,
}

#[derive(Debug, Clone)]
pub(crate) enum Param {
    /// `x: …` — one slot (the name, for `toXML`).
    Ident(RcStr),
    /// `{ a, b ? d, ... }@args: …` — a slot per formal, in order, then one for `args`.
    Pattern { formals: Vec<Formal>, ellipsis: bool, bind: Option<RcStr> },
    /// `a: b: …: body` — a chain of plain parameters, one frame with a slot each: applied to
    /// all of them at once (a fold's `acc: x: …`, a comparator's `a: b: …`) it costs one frame
    /// and no closure in between; applied to fewer, the closure carries those applied so far.
    Curried(Box<[RcStr]>),
}

#[derive(Debug)]
pub(crate) struct Lambda {
    pub(crate) param: Param,
    pub(crate) body: ExprId,
    /// Where its parameter is written (`x`, `{ a, b ? 1 }`), for messages about a call or
    /// about the function itself (Nix names a function by where it starts); a curried chain
    /// has one per parameter (`head`).
    pub(crate) heads: Box<[Span]>,
    /// `x: …` as written, for messages (`<LAMBDA>` has no name in Nix; we keep one when a
    /// binding gives it one).
    pub(crate) name: Option<RcStr>,
    /// The body's first act is forcing the parameter (a set pattern always does; `n: if n < 2
    /// …` does): an argument can then be evaluated at the call, with no thunk made for it, and
    /// nothing observable changes (see `lower::strict`).
    pub(crate) strict: bool,
}

impl Lambda {
    /// Where the function is written that takes the next argument, once `applied` of a
    /// curried chain's are given (`y` in `x: y: …` applied to one).
    pub(crate) fn head(&self, applied: u32) -> Span {
        let last = self.heads.len().saturating_sub(1);
        self.heads[(applied as usize).min(last)]
    }
}

/// A set literal's contents.
#[derive(Debug, Clone)]
pub(crate) struct SetLiteral {
    /// `rec { … }`: the values see a new frame whose slots are `statics` in order.
    pub(crate) rec: bool,
    pub(crate) statics: Vec<(RcStr, AttrValue)>,
    pub(crate) dynamics: Vec<(ExprId, ExprId)>,
    /// Where each static name is written, in the order of `statics`.
    pub(crate) keys: Rc<[lang::Span]>,
    /// The statics are in name order with no repeats, and there are no dynamic names and no
    /// `__overrides`: the entries are the set as they are made.
    pub(crate) sorted: bool,
}

// Every node of every loaded file has one: a million-element list literal is a million.
const _: () = assert!(std::mem::size_of::<Expr>() == 40);

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Int(i64),
    Float(f64),
    Str(RcStr),
    Path(Rc<PathBuf>),
    /// `<infra>`, `<infra/lib>`.
    SearchPath(RcStr),
    Var(Var),
    /// `"a${b}c"`; the value is a string.
    Interpolate(Vec<Part>),
    /// `./a/${b}`; the first part is the absolute directory prefix.
    PathInterpolate(Vec<Part>),
    List(Vec<ExprId>),
    /// A set literal, boxed: the largest form, it would make every node larger.
    Attrs(Box<SetLiteral>),
    /// `let` — a new frame with one slot per binding.
    Let {
        bindings: Vec<AttrValue>,
        body: ExprId,
    },
    Lambda(Rc<Lambda>),
    Apply {
        func: ExprId,
        arg: ExprId,
    },
    Select {
        expr: ExprId,
        path: Vec<AttrKey>,
        default: Option<ExprId>,
    },
    HasAttr {
        expr: ExprId,
        path: Vec<AttrKey>,
    },
    If {
        cond: ExprId,
        then: ExprId,
        otherwise: ExprId,
    },
    Assert {
        cond: ExprId,
        body: ExprId,
    },
    /// `with ns; body` — a new frame with no slots that carries `ns`.
    With {
        namespace: ExprId,
        body: ExprId,
    },
    BinOp {
        op: BinaryOp,
        lhs: ExprId,
        rhs: ExprId,
    },
    Not(ExprId),
    Negate(ExprId),
}
