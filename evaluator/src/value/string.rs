//! Strings with context: the text and the set of placeholders or secret references that were
//! interpolated into it (empty for plain strings). Context survives concatenation.

use std::{collections::BTreeSet, rc::Rc};

/// One element of a string's context. (The domain layer adds output placeholders and secret
/// references; the core only carries them along.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Context {
    /// An output of a component: `(address, output name)`.
    Output(Rc<str>, Rc<str>),
}

#[derive(Clone, PartialEq, Eq)]
pub struct NixString {
    text: Rc<str>,
    context: Option<Rc<BTreeSet<Context>>>,
}

impl NixString {
    pub fn new(text: Rc<str>, context: Option<Rc<BTreeSet<Context>>>) -> NixString {
        let context = context.filter(|c| !c.is_empty());
        NixString { text, context }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn text(&self) -> &Rc<str> {
        &self.text
    }

    pub fn context(&self) -> Option<&Rc<BTreeSet<Context>>> {
        self.context.as_ref()
    }

    /// The union of the contexts of `parts`.
    pub fn merge_contexts<'a>(
        parts: impl Iterator<Item = &'a NixString>,
    ) -> Option<Rc<BTreeSet<Context>>> {
        let mut merged: Option<BTreeSet<Context>> = None;
        for part in parts {
            if let Some(context) = &part.context {
                merged.get_or_insert_with(BTreeSet::new).extend(context.iter().cloned());
            }
        }
        merged.map(Rc::new)
    }
}

impl From<&str> for NixString {
    fn from(text: &str) -> NixString {
        NixString { text: text.into(), context: None }
    }
}

impl From<String> for NixString {
    fn from(text: String) -> NixString {
        NixString { text: text.into(), context: None }
    }
}
