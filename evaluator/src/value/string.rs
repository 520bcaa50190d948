//! Strings with context: the text and the set of placeholders or secret references that were
//! interpolated into it (empty for plain strings). Context survives concatenation.
//!
//! Long concatenations are ropes: `a + b` of long strings makes a node pointing at both, and
//! the text is assembled once, when first read. A fold that keeps appending to one string is
//! therefore linear, not quadratic.

use alloc_shim::thin::RcStr;
use std::{
    cell::{OnceCell, RefCell},
    collections::BTreeSet,
    rc::Rc,
};

/// One element of a string's context. (The domain layer adds output placeholders and secret
/// references; the core only carries them along.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Context {
    /// An output of a component: `(address, output name)`.
    Output(RcStr, RcStr),
    /// A value inside an age-encrypted file: `(file path, key path)`. Its text is only a
    /// placeholder; evaluation never decrypts.
    Secret(RcStr, RcStr),
}

/// Concatenations shorter than this are copied at once; longer ones become rope nodes.
const ROPE_THRESHOLD: usize = 256;

/// A tag and a thin pointer, whose tag the `Value` around it shares (two words in all): plain
/// text (no context, not a rope — most strings) is its one shared allocation; a rope or a
/// string with context has a node of its own.
#[derive(Clone)]
pub struct NixString(Inner);

#[derive(Clone)]
enum Inner {
    Plain(RcStr),
    Rich(Rc<Repr>),
}

const _: () = assert!(std::mem::size_of::<NixString>() == 16);

struct Repr {
    /// The text, once known.
    flat: OnceCell<RcStr>,
    /// The two halves of a concatenation not yet flattened.
    parts: RefCell<Option<(NixString, NixString)>>,
    len: usize,
    context: Option<Rc<BTreeSet<Context>>>,
}

impl NixString {
    pub fn new(text: RcStr, context: Option<Rc<BTreeSet<Context>>>) -> NixString {
        let Some(context) = context.filter(|c| !c.is_empty()) else {
            return NixString(Inner::Plain(text));
        };
        let len = text.len();
        let flat = OnceCell::new();
        let _ = flat.set(text);
        NixString(Inner::Rich(Rc::new(Repr {
            flat,
            parts: RefCell::new(None),
            len,
            context: Some(context),
        })))
    }

    /// `a + b`, keeping both contexts.
    pub fn concat(a: &NixString, b: &NixString) -> NixString {
        let context = NixString::merge_contexts([a, b].into_iter());
        let len = a.len() + b.len();
        if len < ROPE_THRESHOLD || a.is_empty() || b.is_empty() {
            let text = format!("{}{}", a.as_str(), b.as_str());
            return NixString::new(text.into(), context);
        }
        let repr = Repr {
            flat: OnceCell::new(),
            parts: RefCell::new(Some((a.clone(), b.clone()))),
            len,
            context: context.filter(|c| !c.is_empty()),
        };
        NixString(Inner::Rich(Rc::new(repr)))
    }

    /// Whether the string carries a secret reference (and so must not be inspected).
    pub fn is_secret(&self) -> bool {
        self.context().is_some_and(|c| c.iter().any(|e| matches!(e, Context::Secret(..))))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Inner::Plain(text) => text.len(),
            Inner::Rich(repr) => repr.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is plain `text` itself (the same allocation), as a name's cell is.
    pub(crate) fn is_text(&self, text: &RcStr) -> bool {
        matches!(&self.0, Inner::Plain(own) if RcStr::ptr_eq(own, text))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Inner::Plain(text) => text,
            Inner::Rich(repr) => repr.flat.get_or_init(|| repr.flatten()),
        }
    }

    /// The text as a shared string (for attribute names).
    pub fn text(&self) -> RcStr {
        match &self.0 {
            Inner::Plain(text) => text.clone(),
            Inner::Rich(repr) => repr.flat.get_or_init(|| repr.flatten()).clone(),
        }
    }

    pub fn context(&self) -> Option<&Rc<BTreeSet<Context>>> {
        match &self.0 {
            Inner::Plain(_) => None,
            Inner::Rich(repr) => repr.context.as_ref(),
        }
    }

    /// The union of the contexts of `parts`.
    pub fn merge_contexts<'a>(
        parts: impl Iterator<Item = &'a NixString>,
    ) -> Option<Rc<BTreeSet<Context>>> {
        let mut merged: Option<BTreeSet<Context>> = None;
        for part in parts {
            if let Some(context) = part.context() {
                merged.get_or_insert_with(BTreeSet::new).extend(context.iter().cloned());
            }
        }
        merged.map(Rc::new)
    }
}

impl Repr {
    /// Assembles a rope's text without recursion (ropes can be very deep), then lets go of
    /// the halves.
    fn flatten(&self) -> RcStr {
        let mut out = String::with_capacity(self.len);
        let mut stack: Vec<NixString> = Vec::new();
        if let Some((a, b)) = &*self.parts.borrow() {
            stack.push(b.clone());
            stack.push(a.clone());
        }
        while let Some(piece) = stack.pop() {
            let repr = match &piece.0 {
                Inner::Plain(text) => {
                    out.push_str(text);
                    continue;
                }
                Inner::Rich(repr) => repr,
            };
            if let Some(text) = repr.flat.get() {
                out.push_str(text);
                continue;
            }
            if let Some((a, b)) = &*repr.parts.borrow() {
                stack.push(b.clone());
                stack.push(a.clone());
            }
        }
        self.parts.borrow_mut().take();
        out.into()
    }
}

impl Drop for Repr {
    /// A rope thousands of levels deep would overflow the stack if dropped recursively: take
    /// apart, iteratively, every node no one else holds.
    fn drop(&mut self) {
        let mut stack: Vec<NixString> = Vec::new();
        if let Some((a, b)) = self.parts.get_mut().take() {
            stack.push(a);
            stack.push(b);
        }
        while let Some(piece) = stack.pop() {
            if let Inner::Rich(repr) = piece.0
                && let Ok(mut repr) = Rc::try_unwrap(repr)
                && let Some((a, b)) = repr.parts.get_mut().take()
            {
                stack.push(a);
                stack.push(b);
            }
        }
    }
}

impl PartialEq for NixString {
    fn eq(&self, other: &NixString) -> bool {
        self.as_str() == other.as_str() && self.context() == other.context()
    }
}

impl Eq for NixString {}

impl From<&str> for NixString {
    fn from(text: &str) -> NixString {
        NixString::new(text.into(), None)
    }
}

impl From<String> for NixString {
    fn from(text: String) -> NixString {
        NixString::new(text.into(), None)
    }
}

/// The text of an output placeholder (a string standing for a node's output, `Value::Outputs`
/// selected).
pub fn placeholder_text(address: &str, output: &str) -> String {
    format!("<infra-output:{address}:{output}>")
}

/// An output placeholder: its text, with the output in its context.
pub(crate) fn placeholder(address: &str, output: &str) -> NixString {
    let context = Context::Output(address.into(), output.into());
    NixString::new(
        placeholder_text(address, output).into(),
        Some(Rc::new(std::iter::once(context).collect())),
    )
}
