//! Environments: a chain of frames, each a vector of thunks. A `with` makes a frame whose one
//! slot is its namespace (lowering knows which frames those are).

use std::{cell::RefCell, rc::Rc};

use smallvec::SmallVec;

use crate::value::Thunk;

/// Most frames (a function's argument, a small `let`) fit inline: one allocation per frame.
pub(crate) type Slots = SmallVec<[Thunk; 3]>;

pub(crate) struct Env {
    pub(crate) slots: RefCell<Slots>,
    pub(crate) parent: Option<Rc<Env>>,
}

impl Env {
    pub(crate) fn root() -> Rc<Env> {
        Rc::new(Env { slots: RefCell::new(Slots::new()), parent: None })
    }

    pub(crate) fn child(parent: &Rc<Env>, capacity: usize) -> Rc<Env> {
        Rc::new(Env {
            slots: RefCell::new(Slots::with_capacity(capacity)),
            parent: Some(parent.clone()),
        })
    }

    /// A function's frame, born with its one argument (no borrow, no capacity check).
    pub(crate) fn one(parent: &Rc<Env>, arg: Thunk) -> Rc<Env> {
        let mut slots = Slots::new();
        slots.push(arg);
        Rc::new(Env { slots: RefCell::new(slots), parent: Some(parent.clone()) })
    }

    /// A frame born with its slots.
    pub(crate) fn from_slots(parent: &Rc<Env>, slots: Slots) -> Rc<Env> {
        Rc::new(Env { slots: RefCell::new(slots), parent: Some(parent.clone()) })
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

    pub(crate) fn slot(&self, slot: u32) -> Option<Thunk> {
        self.slots.borrow().get(slot as usize).cloned()
    }

    pub(crate) fn push(&self, thunk: Thunk) {
        self.slots.borrow_mut().push(thunk);
    }
}
