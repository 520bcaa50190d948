//! Values: two words (a tag and a pointer or a number), cheap to clone (reference counted),
//! lazy inside (`Thunk`, one word). Lists and strings are thin pointers (`alloc_shim::thin`):
//! every step that moves a value moves two words, not three.

mod attrs;
mod string;
mod thunk;

use std::{path::PathBuf, rc::Rc};

pub(crate) use alloc_shim::thin::{RcSlice, RcStr};

pub(crate) use self::string::placeholder;
pub use self::thunk::Thunk;
pub(crate) use self::thunk::{EntryMap, ThunkState};
pub use self::{
    attrs::Attrs,
    string::{Context, NixString, placeholder_text},
};
use crate::{env::Env, error::EvalResult, eval::Machine, ir::Lambda};

/// A value of the language.
#[derive(Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(NixString),
    Path(Rc<PathBuf>),
    Attrs(Rc<Attrs>),
    List(RcSlice<Thunk>),
    Lambda(Rc<Closure>),
    PrimOp(Rc<PrimOp>),
    /// A builtin given fewer arguments than it takes.
    PrimOpApp(Rc<PrimOpApp>),
    /// `comp.outputs`: the outputs of the component named here, known only after it is
    /// applied. Selecting `.NAME` gives an output placeholder; nothing else can look inside.
    Outputs(RcStr),
}

/// A function value: its code and the environment it closes over.
pub struct Closure {
    pub(crate) lambda: Rc<Lambda>,
    /// The environment it closes over; for a curried chain given some of its arguments
    /// (`applied` > 0), the frame holding those, whose parent is that environment.
    pub(crate) env: Rc<Env>,
    pub(crate) applied: u32,
}

pub(crate) type PrimOpFn = fn(&mut Machine, &[Thunk]) -> EvalResult<Value>;

/// A builtin function.
pub struct PrimOp {
    pub(crate) name: &'static str,
    pub(crate) arity: usize,
    pub(crate) func: PrimOpFn,
    /// Takes one argument, forces it before anything else and keeps no hold on its cell
    /// (`length`, `isAttrs`, …): a call can evaluate the argument first, with no thunk.
    pub(crate) strict: bool,
}

pub struct PrimOpApp {
    pub(crate) op: Rc<PrimOp>,
    pub(crate) args: Vec<Thunk>,
}

impl Value {
    /// The type name of `builtins.typeOf`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Path(_) => "path",
            Value::Attrs(_) | Value::Outputs(_) => "set",
            Value::List(_) => "list",
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => "lambda",
        }
    }

    /// The type as messages say it: "an integer", "a set".
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a Boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Path(_) => "a path",
            Value::Attrs(_) => "a set",
            Value::List(_) => "a list",
            Value::Lambda(_) => "a function",
            Value::PrimOp(_) | Value::PrimOpApp(_) => "a built-in function",
            Value::Outputs(_) => "the outputs of a component (known only after it is applied)",
        }
    }

    pub(crate) fn string(text: &str) -> Value {
        Value::String(NixString::from(text))
    }

    /// A list of `items`: an iterator of known length (`map`, `genList`, a literal) is
    /// written straight into the list's one allocation, not into a vector copied after.
    pub(crate) fn list(items: impl IntoIterator<Item = Thunk>) -> Value {
        Value::List(items.into_iter().collect())
    }

    pub(crate) fn attrs(attrs: Attrs) -> Value {
        Value::Attrs(Rc::new(attrs))
    }

    pub(crate) fn is_function(&self) -> bool {
        matches!(self, Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_))
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::String(s) => write!(f, "{:?}", s.as_str()),
            Value::Path(p) => write!(f, "{}", p.display()),
            other => write!(f, "<{}>", other.type_name()),
        }
    }
}
