//! Environments: a chain of frames, each a vector of thunks. A `with` makes a frame whose one
//! slot is its namespace (lowering knows which frames those are).
//!
//! A slot is set once and never changed, so it needs no borrow flag: a frame made with its
//! values (a call's arguments) has them from the start; a frame whose values refer to the frame
//! itself (`let`, `rec`, a set pattern's defaults) is made with empty slots, each set once right
//! after, before anything can read it. (`rec { __overrides = …; }` makes each slot a forwarding
//! cell and redirects it, see `eval::attrs`, rather than replacing the slot.)

use std::{cell::OnceCell, rc::Rc};

use smallvec::SmallVec;

use crate::value::Thunk;

/// Most frames (a function's argument, a small `let`) fit inline: one allocation per frame.
pub(crate) type Slots = SmallVec<[OnceCell<Thunk>; 3]>;

pub(crate) struct Env {
    slots: Slots,
    pub(crate) parent: Option<Rc<Env>>,
}

impl Env {
    pub(crate) fn root() -> Rc<Env> {
        Rc::new(Env { slots: Slots::new(), parent: None })
    }

    /// A frame of `len` empty slots, each to be set once (`set`) before any is read.
    pub(crate) fn pending(parent: &Rc<Env>, len: usize) -> Rc<Env> {
        let slots = if len <= 3 {
            Slots::from_buf_and_len([OnceCell::new(), OnceCell::new(), OnceCell::new()], len)
        } else {
            (0..len).map(|_| OnceCell::new()).collect()
        };
        Rc::new(Env { slots, parent: Some(parent.clone()) })
    }

    /// A function's frame, born with its one argument.
    pub(crate) fn one(parent: &Rc<Env>, arg: Thunk) -> Rc<Env> {
        // Made whole, not pushed into: no capacity check.
        let slots =
            Slots::from_buf_and_len([OnceCell::from(arg), OnceCell::new(), OnceCell::new()], 1);
        Rc::new(Env { slots, parent: Some(parent.clone()) })
    }

    /// A function's frame, born with its two arguments.
    pub(crate) fn two(parent: &Rc<Env>, a: Thunk, b: Thunk) -> Rc<Env> {
        let slots =
            Slots::from_buf_and_len([OnceCell::from(a), OnceCell::from(b), OnceCell::new()], 2);
        Rc::new(Env { slots, parent: Some(parent.clone()) })
    }

    /// A frame born with its slots.
    pub(crate) fn from_slots(parent: &Rc<Env>, slots: Slots) -> Rc<Env> {
        Rc::new(Env { slots, parent: Some(parent.clone()) })
    }

    /// The frame of `with namespace; …`: the namespace in its one slot.
    pub(crate) fn with(parent: &Rc<Env>, namespace: Thunk) -> Rc<Env> {
        Env::one(parent, namespace)
    }

    /// The frame `depth` levels up.
    pub(crate) fn up(self: &Rc<Env>, depth: u32) -> Option<&Rc<Env>> {
        let mut env = self;
        for _ in 0..depth {
            env = env.parent.as_ref()?;
        }
        Some(env)
    }

    /// The thunk at `slot`, if the frame has that slot and it is set.
    #[inline(always)]
    pub(crate) fn get(&self, slot: u32) -> Option<&Thunk> {
        self.slots.get(slot as usize)?.get()
    }

    pub(crate) fn slot(&self, slot: u32) -> Option<Thunk> {
        self.get(slot).cloned()
    }

    /// Sets a slot of a `pending` frame (once: a slot already set keeps its thunk).
    pub(crate) fn set(&self, slot: usize, thunk: Thunk) {
        if let Some(cell) = self.slots.get(slot) {
            let _ = cell.set(thunk);
        }
    }

    /// The frame's slots, for a curried chain's next frame to start from.
    pub(crate) fn slots(&self) -> &[OnceCell<Thunk>] {
        &self.slots
    }
}
