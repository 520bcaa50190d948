//! Thunks: values computed at most once, with blackholing to catch self-reference.

use std::{cell::RefCell, rc::Rc};

use crate::{env::Env, ir::ExprId, value::Value};

/// A possibly unevaluated value. Cloning shares it: forcing one clone forces all.
#[derive(Clone)]
pub struct Thunk(Rc<RefCell<ThunkState>>);

pub(crate) enum ThunkState {
    /// An expression and the environment to evaluate it in.
    Suspended {
        expr: ExprId,
        env: Rc<Env>,
    },
    /// A function applied to arguments, for builtins that build lazy results (`map`).
    Apply {
        func: Value,
        args: Vec<Thunk>,
    },
    /// Being evaluated: forcing it again is infinite recursion.
    Blackhole {
        expr: Option<ExprId>,
    },
    Done(Value),
}

impl Thunk {
    pub(crate) fn suspended(expr: ExprId, env: Rc<Env>) -> Thunk {
        Thunk(Rc::new(RefCell::new(ThunkState::Suspended { expr, env })))
    }

    pub(crate) fn apply(func: Value, args: Vec<Thunk>) -> Thunk {
        Thunk(Rc::new(RefCell::new(ThunkState::Apply { func, args })))
    }

    pub(crate) fn value(value: Value) -> Thunk {
        Thunk(Rc::new(RefCell::new(ThunkState::Done(value))))
    }

    /// The value, if it has been computed.
    pub(crate) fn get(&self) -> Option<Value> {
        match &*self.0.borrow() {
            ThunkState::Done(value) => Some(value.clone()),
            _ => None,
        }
    }

    /// Takes the work out, leaving a blackhole.
    pub(crate) fn begin(&self) -> ThunkState {
        let expr = match &*self.0.borrow() {
            ThunkState::Suspended { expr, .. } => Some(*expr),
            ThunkState::Blackhole { expr } => *expr,
            _ => None,
        };
        std::mem::replace(&mut *self.0.borrow_mut(), ThunkState::Blackhole { expr })
    }

    /// Puts work back (after a failure, so that a later force retries, as Nix does).
    pub(crate) fn restore(&self, state: ThunkState) {
        *self.0.borrow_mut() = state;
    }

    pub(crate) fn finish(&self, value: Value) {
        *self.0.borrow_mut() = ThunkState::Done(value);
    }

    /// Whether two thunks are the same cell (for printing repeated values).
    pub(crate) fn ptr(&self) -> usize {
        Rc::as_ptr(&self.0) as usize
    }
}
