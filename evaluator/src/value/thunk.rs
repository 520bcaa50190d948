//! Thunks: values computed at most once, with blackholing to catch self-reference.

use std::{
    cell::{Cell, RefCell},
    ops::Deref,
    rc::Rc,
};

use crate::{env::Env, ir::ExprId, value::Value};

/// A possibly unevaluated value. Cloning shares it: forcing one clone forces all.
#[derive(Clone)]
pub struct Thunk(Rc<ThunkCell>);

/// The shared cell of a thunk. Its `Drop` recurses only a few levels, then queues: a list
/// nested 100,000 levels deep is a chain of thunks, and dropping it recursively all the way
/// would overflow the stack.
pub(crate) struct ThunkCell(RefCell<ThunkState>);

impl Deref for ThunkCell {
    type Target = RefCell<ThunkState>;
    fn deref(&self) -> &RefCell<ThunkState> {
        &self.0
    }
}

thread_local! {
    /// How many thunks' contents are being dropped, one inside another, on this stack:
    /// within `DROP_DEPTH` levels they are dropped in place; below that, nested thunks queue
    /// their contents here, and the outermost drop empties the queue.
    static DROPPING: Cell<u32> = const { Cell::new(0) };
    static DROP_QUEUE: RefCell<Vec<ThunkState>> = const { RefCell::new(Vec::new()) };
}

/// Levels of nested thunks dropped in place, by recursion, before the queue takes over: most
/// structures are shallower (no queue at all), and a few hundred bytes of stack a level keep
/// the deepest recursion far inside the evaluator's red zone.
const DROP_DEPTH: u32 = 32;

/// Sets the drop depth back to what it was when dropped.
struct DropDepth(u32);

impl Drop for DropDepth {
    fn drop(&mut self) {
        DROPPING.with(|d| d.set(self.0));
    }
}

impl Drop for ThunkCell {
    fn drop(&mut self) {
        // Scalars, strings and paths hold no thunk (a rope frees itself iteratively): the
        // common case needs no bookkeeping.
        // Nor does contents someone else also holds: dropping it only lowers a count (most
        // cells dropped share their function, frame or set with others), so the fields are
        // dropped as usual, without the queue's thread-local bookkeeping.
        let shallow = match self.0.get_mut() {
            ThunkState::Done(
                Value::Int(_)
                | Value::Float(_)
                | Value::Bool(_)
                | Value::Null
                | Value::String(_)
                | Value::Path(_)
                | Value::PrimOp(_)
                | Value::Outputs(_),
            )
            | ThunkState::Blackhole { .. } => true,
            ThunkState::Done(Value::Attrs(shared)) => Rc::strong_count(shared) > 1,
            ThunkState::Done(Value::List(shared)) => {
                crate::value::RcSlice::strong_count(shared) > 1
            }
            ThunkState::Done(Value::Lambda(shared)) => Rc::strong_count(shared) > 1,
            ThunkState::Done(Value::PrimOpApp(shared)) => Rc::strong_count(shared) > 1,
            ThunkState::Suspended { env, .. } => Rc::strong_count(env) > 1,
            ThunkState::ApplyIndex { func, .. } => Rc::strong_count(&func.0) > 1,
            ThunkState::Apply1 { func, arg } => {
                Rc::strong_count(&func.0) > 1 && Rc::strong_count(&arg.0) > 1
            }
            ThunkState::Apply2 { .. } => false,
            ThunkState::Indirect(target) => Rc::strong_count(&target.0) > 1,
            ThunkState::ApplyEntry { map, .. } => Rc::strong_count(map) > 1,
        };
        if shallow {
            return;
        }
        let state = std::mem::replace(self.0.get_mut(), ThunkState::Blackhole { expr: None });
        let depth = DROPPING.with(Cell::get);
        if depth >= DROP_DEPTH {
            DROP_QUEUE.with(|queue| queue.borrow_mut().push(state));
            return;
        }
        // The depth is set back however this ends (a panic unwinding through a drop would
        // otherwise leave it raised, and the queue never emptied again).
        let _restore = DropDepth(depth);
        DROPPING.with(|d| d.set(depth + 1));
        drop(state);
        if depth == 0 {
            // Queued contents are dropped at the outermost level, each from depth one again.
            while let Some(next) = DROP_QUEUE.with(|queue| queue.borrow_mut().pop()) {
                drop(next);
            }
        }
    }
}

/// What the entries of one `mapAttrs` share: the function (not forced until an entry is: as
/// in Nix, `mapAttrs (throw "x") s` has names) and the set mapped.
pub(crate) struct EntryMap {
    pub(crate) func: Thunk,
    pub(crate) attrs: Rc<crate::value::Attrs>,
}

pub(crate) enum ThunkState {
    /// An expression and the environment to evaluate it in.
    Suspended {
        expr: ExprId,
        env: Rc<Env>,
    },
    /// A function applied to an argument, for builtins that build lazy results (`map`). The
    /// function is shared by every element: an element is its cell and nothing else.
    Apply1 {
        func: Thunk,
        arg: Thunk,
    },
    /// A function applied to an integer (`genList`'s index), whose thunk is made when forced.
    ApplyIndex {
        func: Thunk,
        index: i64,
    },
    /// A function applied to two arguments (`mapAttrs`'s name and value). Boxed: inline, the
    /// two arguments would make every cell a word larger.
    Apply2 {
        func: Thunk,
        args: Box<[Thunk; 2]>,
    },
    /// `func name value` for the entry at `index` of a flat set (`mapAttrs`): the cells of
    /// the name and the value are reached when forced, so an entry costs one cell.
    ApplyEntry {
        map: Rc<EntryMap>,
        index: u32,
    },
    /// Whatever another thunk is (a slot of `rec { __overrides = …; }` redirected to its
    /// override).
    Indirect(Thunk),
    /// Being evaluated: forcing it again is infinite recursion.
    Blackhole {
        expr: Option<ExprId>,
    },
    Done(Value),
}

impl Thunk {
    fn cell(state: ThunkState) -> Thunk {
        Thunk(Rc::new(ThunkCell(RefCell::new(state))))
    }

    /// This thunk, or the one it forwards to (a slot of `rec { __overrides }`). A forwarding
    /// cell is only ever made to point at a thunk that does not forward (see
    /// `eval::attrs`), so one step is the whole way.
    #[inline(always)]
    pub(crate) fn forwarded(&self) -> Thunk {
        if let ThunkState::Indirect(target) = &*self.0.borrow() {
            return target.clone();
        }
        self.clone()
    }

    /// Whether both are the one cell (sharing, as tests see it).
    #[cfg(test)]
    pub(crate) fn same_cell(&self, other: &Thunk) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// A cell holding `state`.
    pub(crate) fn from_state(state: ThunkState) -> Thunk {
        Thunk::cell(state)
    }

    pub(crate) fn suspended(expr: ExprId, env: Rc<Env>) -> Thunk {
        Thunk::cell(ThunkState::Suspended { expr, env })
    }

    /// `func` applied to `arg`, when forced.
    pub(crate) fn apply(func: &Thunk, arg: Thunk) -> Thunk {
        Thunk::cell(ThunkState::Apply1 { func: func.clone(), arg })
    }

    /// `func` applied to the integer `index`, when forced.
    pub(crate) fn apply_index(func: &Thunk, index: i64) -> Thunk {
        Thunk::cell(ThunkState::ApplyIndex { func: func.clone(), index })
    }

    /// `map.func` applied to the name and the value of entry `index` of `map.attrs`.
    pub(crate) fn apply_entry(map: &Rc<EntryMap>, index: u32) -> Thunk {
        Thunk::cell(ThunkState::ApplyEntry { map: map.clone(), index })
    }

    /// `func` applied to `args`, when forced.
    pub(crate) fn apply2(func: &Thunk, args: [Thunk; 2]) -> Thunk {
        Thunk::cell(ThunkState::Apply2 { func: func.clone(), args: Box::new(args) })
    }

    pub(crate) fn value(value: Value) -> Thunk {
        Thunk::cell(ThunkState::Done(value))
    }

    /// Makes this thunk hold `value`: in its own cell when nothing else holds that cell (the
    /// change is then invisible: a fold's accumulator, a spare argument cell), else in a new
    /// one.
    pub(crate) fn set_or_new(&mut self, value: Value) {
        match Rc::get_mut(&mut self.0) {
            Some(cell) => discard(std::mem::replace(cell.0.get_mut(), ThunkState::Done(value))),
            None => *self = Thunk::value(value),
        }
    }

    /// The value, if it has been computed.
    #[inline]
    pub(crate) fn get(&self) -> Option<Value> {
        match &*self.0.borrow() {
            ThunkState::Done(value) => Some(value.clone()),
            _ => None,
        }
    }

    /// Whether the value has been computed.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        matches!(&*self.0.borrow(), ThunkState::Done(_))
    }

    /// `f` of the value, if it has been computed, read in place (no handle on it cloned).
    #[inline]
    pub(crate) fn inspect<R>(&self, f: impl FnOnce(&Value) -> R) -> Option<R> {
        match &*self.0.borrow() {
            ThunkState::Done(value) => Some(f(value)),
            _ => None,
        }
    }

    /// The expression a suspended (or blackholed) thunk evaluates, for placing errors.
    pub(crate) fn expr(&self) -> Option<ExprId> {
        match &*self.0.borrow() {
            ThunkState::Suspended { expr, .. } | ThunkState::Blackhole { expr: Some(expr) } => {
                Some(*expr)
            }
            _ => None,
        }
    }

    /// Takes the work out, leaving a blackhole.
    pub(crate) fn begin(&self) -> ThunkState {
        let mut state = self.0.borrow_mut();
        let expr = match &*state {
            ThunkState::Suspended { expr, .. } => Some(*expr),
            ThunkState::Blackhole { expr } => *expr,
            _ => None,
        };
        std::mem::replace(&mut *state, ThunkState::Blackhole { expr })
    }

    /// Puts work back (after a failure, so that a later force retries, as Nix does).
    pub(crate) fn restore(&self, state: ThunkState) {
        *self.0.borrow_mut() = state;
    }

    pub(crate) fn finish(&self, value: Value) {
        let old = std::mem::replace(&mut *self.0.borrow_mut(), ThunkState::Done(value));
        discard(old);
    }

    /// Whether two thunks are the same cell (for printing repeated values).
    pub(crate) fn ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as usize
    }
}

/// Drops a cell's old state, without a call to the drop glue for the states that hold nothing
/// (a blackhole replaced by its value, a spare cell's integer or `null`): the common cases.
#[inline(always)]
fn discard(state: ThunkState) {
    match state {
        ThunkState::Blackhole { .. }
        | ThunkState::Done(Value::Int(_) | Value::Null | Value::Bool(_) | Value::Float(_)) => {
            std::mem::forget(state)
        }
        other => drop(other),
    }
}
