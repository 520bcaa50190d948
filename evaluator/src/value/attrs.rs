//! Attribute sets: entries sorted by name, found by binary search.

use std::rc::Rc;

use crate::value::Thunk;

#[derive(Clone, Default)]
pub struct Attrs {
    entries: Vec<(Rc<str>, Thunk)>,
}

impl Attrs {
    /// Builds a set from entries in any order; a later entry for a name wins.
    pub(crate) fn from_entries(mut entries: Vec<(Rc<str>, Thunk)>) -> Attrs {
        // A stable sort keeps equal names in their order; keep the last of each run.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Rc<str>, Thunk)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match out.last_mut() {
                Some(last) if last.0 == entry.0 => *last = entry,
                _ => out.push(entry),
            }
        }
        Attrs { entries: out }
    }

    /// Builds a set from entries already sorted by name with no repeats.
    pub(crate) fn from_sorted(entries: Vec<(Rc<str>, Thunk)>) -> Attrs {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Attrs { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Thunk> {
        self.entries.binary_search_by(|(key, _)| (**key).cmp(name)).ok().map(|i| &self.entries[i].1)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Rc<str>, &Thunk)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// `self // other`: a merge of two sorted vectors, right side winning.
    pub(crate) fn update(&self, other: &Attrs) -> Attrs {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        let mut out = Vec::with_capacity(self.len() + other.len());
        let (mut a, mut b) = (self.entries.iter().peekable(), other.entries.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.0.cmp(&y.0) {
                    std::cmp::Ordering::Less => out.push(a.next().cloned()),
                    std::cmp::Ordering::Greater => out.push(b.next().cloned()),
                    std::cmp::Ordering::Equal => {
                        a.next();
                        out.push(b.next().cloned());
                    }
                },
                (Some(_), None) => out.push(a.next().cloned()),
                (None, Some(_)) => out.push(b.next().cloned()),
                (None, None) => break,
            }
        }
        Attrs { entries: out.into_iter().flatten().collect() }
    }
}
