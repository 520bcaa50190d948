//! Attribute sets: a sorted vector, or a persistent balanced tree once a large set is updated.
//!
//! Both keep names in byte order (Nix's order) and look up by binary search or descent. Sets
//! built at once (literals, `listToAttrs`, `mapAttrs`) stay flat vectors, which search fastest;
//! a large set updated with a few names (`acc // { x = …; }`) turns into a tree that shares
//! structure between versions, so a fold of updates costs O(log n) per step, not O(n).

use std::{cmp::Ordering, rc::Rc};

use crate::value::Thunk;

/// Updating a flat set larger than this with a few names turns it into a tree.
const SMALL: usize = 32;

/// The entries, and the set literal they came from (for `unsafeGetAttrPos`; `None` for a set
/// a builtin or `//` made, as Nix has no position for those either… mostly).
#[derive(Clone, Default)]
pub struct Attrs(Repr, Option<crate::ir::ExprId>);

#[derive(Clone)]
enum Repr {
    Small(Vec<(Rc<str>, Thunk)>),
    Tree { root: Rc<Node>, len: usize },
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Small(Vec::new())
    }
}

struct Node {
    key: Rc<str>,
    value: Thunk,
    left: Option<Rc<Node>>,
    right: Option<Rc<Node>>,
    height: u8,
}

impl Attrs {
    /// Builds a set from entries in any order; a later entry for a name wins.
    pub(crate) fn from_entries(mut entries: Vec<(Rc<str>, Thunk)>) -> Attrs {
        // A stable sort keeps equal names in their order; keep the last of each run, in
        // place (most sets have no repeats, and many are written in order already).
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    std::mem::swap(later, earlier);
                }
                same
            });
        }
        Attrs::from_sorted(entries)
    }

    /// Builds a set from entries already sorted by name with no repeats.
    pub(crate) fn from_sorted(entries: Vec<(Rc<str>, Thunk)>) -> Attrs {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Attrs(Repr::Small(entries), None)
    }

    /// This set, as made by the set literal `origin`.
    pub(crate) fn with_origin(mut self, origin: crate::ir::ExprId) -> Attrs {
        self.1 = Some(origin);
        self
    }

    /// The set literal this set was made by, if it was.
    pub(crate) fn origin(&self) -> Option<crate::ir::ExprId> {
        self.1
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(entries) => entries.len(),
            Repr::Tree { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Thunk> {
        match &self.0 {
            Repr::Small(entries) => {
                // Names written in the program share their text (`Arena::name`): most
                // lookups of a small set find their entry by address alone.
                if entries.len() <= 8 {
                    if let Some((_, value)) = entries.iter().find(|(key, _)| same(key, name)) {
                        return Some(value);
                    }
                    // Not by address: by length first, bytes only for names of the same
                    // length (a miss, the common case of `?` and of `outPath`-like probes,
                    // mostly compares no bytes at all).
                    return entries
                        .iter()
                        .find(|(key, _)| key.len() == name.len() && **key == *name)
                        .map(|(_, value)| value);
                }
                entries.binary_search_by(|(key, _)| (**key).cmp(name)).ok().map(|i| &entries[i].1)
            }
            Repr::Tree { root, .. } => {
                let mut node = root;
                loop {
                    node = match name.cmp(&node.key) {
                        Ordering::Equal => return Some(&node.value),
                        Ordering::Less => node.left.as_ref()?,
                        Ordering::Greater => node.right.as_ref()?,
                    };
                }
            }
        }
    }

    /// Entries in name order.
    pub(crate) fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Small(entries) => Iter(IterRepr::Small(entries.iter())),
            Repr::Tree { root, .. } => {
                let mut stack = Vec::new();
                push_left(&mut stack, root);
                Iter(IterRepr::Tree(stack))
            }
        }
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(k, _)| &**k)
    }

    /// `self // other`: the right side wins.
    pub(crate) fn update(&self, other: &Attrs) -> Attrs {
        if other.is_empty() {
            return self.clone();
        }
        if self.is_empty() {
            return other.clone();
        }
        // Few new names into a big set: insert them into a tree, sharing the rest of it.
        if self.len() > SMALL && other.len() * 8 < self.len() {
            let (mut root, mut len) = match &self.0 {
                Repr::Tree { root, len } => (root.clone(), *len),
                Repr::Small(entries) => match build(entries) {
                    Some(root) => (root, entries.len()),
                    None => return other.clone(),
                },
            };
            for (key, value) in other.iter() {
                let (new_root, added) = insert(&root, key, value);
                root = new_root;
                len += usize::from(added);
            }
            return Attrs(Repr::Tree { root, len }, None);
        }
        let mut out = Vec::with_capacity(self.len() + other.len());
        let (mut a, mut b) = (self.iter().peekable(), other.iter().peekable());
        loop {
            let take_left = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.0.cmp(y.0) {
                    Ordering::Less => true,
                    Ordering::Greater => false,
                    Ordering::Equal => {
                        a.next();
                        false
                    }
                },
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_left { a.next() } else { b.next() };
            if let Some((k, v)) = next {
                out.push((k.clone(), v.clone()));
            }
        }
        Attrs::from_sorted(out)
    }
}

/// Whether `key` is the very text `name` (not only equal to it).
fn same(key: &str, name: &str) -> bool {
    std::ptr::eq(key.as_ptr(), name.as_ptr()) && key.len() == name.len()
}

/// Iterates a set's entries in name order.
pub(crate) struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Small(std::slice::Iter<'a, (Rc<str>, Thunk)>),
    Tree(Vec<&'a Node>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Rc<str>, &'a Thunk);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(entries) => entries.next().map(|(k, v)| (k, v)),
            IterRepr::Tree(stack) => {
                let node = stack.pop()?;
                if let Some(right) = &node.right {
                    push_left(stack, right);
                }
                Some((&node.key, &node.value))
            }
        }
    }
}

fn push_left<'a>(stack: &mut Vec<&'a Node>, mut node: &'a Node) {
    loop {
        stack.push(node);
        match &node.left {
            Some(left) => node = left,
            None => return,
        }
    }
}

fn height(node: &Option<Rc<Node>>) -> u8 {
    node.as_ref().map_or(0, |n| n.height)
}

fn make(key: Rc<str>, value: Thunk, left: Option<Rc<Node>>, right: Option<Rc<Node>>) -> Rc<Node> {
    let height = height(&left).max(height(&right)) + 1;
    Rc::new(Node { key, value, left, right, height })
}

/// A balanced tree from sorted entries.
fn build(entries: &[(Rc<str>, Thunk)]) -> Option<Rc<Node>> {
    if entries.is_empty() {
        return None;
    }
    let mid = entries.len() / 2;
    let (key, value) = entries[mid].clone();
    Some(make(key, value, build(&entries[..mid]), build(&entries[mid + 1..])))
}

/// Inserts or replaces, copying only the path to the key; `true` when the key is new.
fn insert(node: &Rc<Node>, key: &Rc<str>, value: &Thunk) -> (Rc<Node>, bool) {
    match key.cmp(&node.key) {
        Ordering::Equal => {
            let replaced = make(key.clone(), value.clone(), node.left.clone(), node.right.clone());
            (replaced, false)
        }
        Ordering::Less => {
            let (left, added) = match &node.left {
                Some(left) => insert(left, key, value),
                None => (make(key.clone(), value.clone(), None, None), true),
            };
            (balance(node.key.clone(), node.value.clone(), Some(left), node.right.clone()), added)
        }
        Ordering::Greater => {
            let (right, added) = match &node.right {
                Some(right) => insert(right, key, value),
                None => (make(key.clone(), value.clone(), None, None), true),
            };
            (balance(node.key.clone(), node.value.clone(), node.left.clone(), Some(right)), added)
        }
    }
}

/// Rebuilds a node, rotating when its subtrees' heights differ by more than one (AVL).
fn balance(
    key: Rc<str>,
    value: Thunk,
    left: Option<Rc<Node>>,
    right: Option<Rc<Node>>,
) -> Rc<Node> {
    let (hl, hr) = (height(&left), height(&right));
    if hl > hr + 1 {
        // Invariant: a left subtree two levels taller than the right one exists.
        let Some(l) = left else { return make(key, value, None, right) };
        if height(&l.left) >= height(&l.right) {
            let new_right = make(key, value, l.right.clone(), right);
            return make(l.key.clone(), l.value.clone(), l.left.clone(), Some(new_right));
        }
        let Some(lr) = l.right.clone() else { return make(key, value, Some(l), right) };
        let new_left = make(l.key.clone(), l.value.clone(), l.left.clone(), lr.left.clone());
        let new_right = make(key, value, lr.right.clone(), right);
        return make(lr.key.clone(), lr.value.clone(), Some(new_left), Some(new_right));
    }
    if hr > hl + 1 {
        let Some(r) = right else { return make(key, value, left, None) };
        if height(&r.right) >= height(&r.left) {
            let new_left = make(key, value, left, r.left.clone());
            return make(r.key.clone(), r.value.clone(), Some(new_left), r.right.clone());
        }
        let Some(rl) = r.left.clone() else { return make(key, value, left, Some(r)) };
        let new_left = make(key, value, left, rl.left.clone());
        let new_right = make(r.key.clone(), r.value.clone(), rl.right.clone(), r.right.clone());
        return make(rl.key.clone(), rl.value.clone(), Some(new_left), Some(new_right));
    }
    make(key, value, left, right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn set(keys: &[u32]) -> Attrs {
        Attrs::from_entries(
            keys.iter()
                .map(|k| (format!("k{k:05}").into(), Thunk::value(Value::Int(*k as i64))))
                .collect(),
        )
    }

    #[test]
    fn update_keeps_order_and_right_wins_in_both_representations() {
        let mut acc = set(&[]);
        for i in (0..500).rev() {
            acc = acc.update(&set(&[i, i + 1000]));
        }
        assert_eq!(acc.len(), 1000);
        let names: Vec<&str> = acc.names().collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        assert!(acc.get("k00042").is_some() && acc.get("k01042").is_some());
        assert!(acc.get("k00500").is_none());
        let big = set(&(0..100).collect::<Vec<_>>());
        let both =
            big.update(&Attrs::from_entries(vec![("k00007".into(), Thunk::value(Value::Null))]));
        assert_eq!(both.len(), 100);
        assert!(matches!(both.get("k00007").and_then(Thunk::get), Some(Value::Null)));
        assert!(matches!(big.get("k00007").and_then(Thunk::get), Some(Value::Int(7))));
    }
}
