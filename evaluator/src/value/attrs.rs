//! Attribute sets: a sorted vector, or a persistent balanced tree once a large set is updated.
//!
//! Both keep names in byte order (Nix's order) and look up by binary search or descent. Sets
//! built at once (literals, `listToAttrs`, `mapAttrs`) stay flat vectors, which search fastest.
//! A large set changed by a few names (`acc // { x = …; }`, `removeAttrs acc [ n ]`) is copied
//! flat the first time, as Nix copies it, and both sets are marked. A marked set changed
//! again is evidently being folded over (the copy) or used as a base again and again (the
//! original, `big // { x = i; }` in a loop): it gets a balanced tree, kept with it, into which
//! each change inserts its few names, sharing the rest — O(log n) per step, not O(n). A set
//! used once pays no more than Nix's copy.

use alloc_shim::thin::RcStr;
use std::{
    cell::{Cell, OnceCell},
    cmp::Ordering,
    rc::Rc,
};

use crate::value::{RcSlice, Thunk};

/// Updating a flat set larger than this with a few names turns it into a tree.
const SMALL: usize = 32;

/// The entries, the set literal they came from (for `unsafeGetAttrPos`; none for a set a
/// builtin or `//` made, as Nix has no position for those either… mostly), and the mark of a
/// large flat set changed by a few names before or made by such a change (its next change
/// builds a tree, kept in `tree`). Flat fields, so that the literal and the mark share a
/// word: a set is 40 bytes.
#[derive(Clone)]
pub struct Attrs {
    repr: Repr,
    /// The literal's `ExprId`, or `NO_ORIGIN`.
    origin: u32,
    changed: Cell<bool>,
    tree: OnceCell<Rc<Node>>,
}

const NO_ORIGIN: u32 = u32::MAX;

const _: () = assert!(std::mem::size_of::<Attrs>() == 40);

impl Default for Attrs {
    fn default() -> Attrs {
        Attrs::new(Repr::default(), false)
    }
}

#[derive(Clone)]
enum Repr {
    Small(Vec<(RcStr, Thunk)>),
    Tree { root: Rc<Node>, len: usize },
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Small(Vec::new())
    }
}

struct Node {
    key: RcStr,
    value: Thunk,
    left: Option<Rc<Node>>,
    right: Option<Rc<Node>>,
    height: u8,
}

impl Attrs {
    fn new(repr: Repr, changed: bool) -> Attrs {
        Attrs { repr, origin: NO_ORIGIN, changed: Cell::new(changed), tree: OnceCell::new() }
    }

    /// Builds a set from entries in any order; a later entry for a name wins.
    pub(crate) fn from_entries(mut entries: Vec<(RcStr, Thunk)>) -> Attrs {
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
    pub(crate) fn from_sorted(entries: Vec<(RcStr, Thunk)>) -> Attrs {
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        Attrs::new(Repr::Small(entries), false)
    }

    /// This set, as made by the set literal `origin`.
    pub(crate) fn with_origin(mut self, origin: crate::ir::ExprId) -> Attrs {
        self.origin = origin.raw();
        self
    }

    /// The set literal this set was made by, if it was.
    pub(crate) fn origin(&self) -> Option<crate::ir::ExprId> {
        (self.origin != NO_ORIGIN).then(|| crate::ir::ExprId::from_raw(self.origin))
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(entries) => entries.len(),
            Repr::Tree { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Thunk> {
        match &self.repr {
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
    /// The entry at `index` in name order, for a flat set (`None` for a tree: it has no
    /// index to go by).
    pub(crate) fn flat_entry(&self, index: usize) -> Option<(&RcStr, &Thunk)> {
        match &self.repr {
            Repr::Small(entries) => entries.get(index).map(|(k, v)| (k, v)),
            Repr::Tree { .. } => None,
        }
    }

    pub(crate) fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Small(entries) => Iter(IterRepr::Small(entries.iter())),
            Repr::Tree { root, .. } => {
                let mut stack = Vec::new();
                push_left(&mut stack, root);
                Iter(IterRepr::Tree(stack))
            }
        }
    }

    /// `f` of each entry, in order, as a list: a flat set's is written straight into the
    /// list's one allocation (its length is known), not collected and copied.
    pub(crate) fn to_list(&self, mut f: impl FnMut(&RcStr, &Thunk) -> Thunk) -> RcSlice<Thunk> {
        match &self.repr {
            Repr::Small(entries) => entries.iter().map(|(k, v)| f(k, v)).collect(),
            Repr::Tree { .. } => self.iter().map(|(k, v)| f(k, v)).collect(),
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
        // Few new names into a big set: insert them into its tree, sharing the rest.
        if self.len() > SMALL && other.len() * 8 < self.len() {
            if let Some((mut root, mut len)) = self.tree() {
                for (key, value) in other.iter() {
                    let (new_root, added) = insert(&root, key, value);
                    root = new_root;
                    len += usize::from(added);
                }
                return Attrs::new(Repr::Tree { root, len }, false);
            }
            return Attrs::new(merge(self, other).repr, true);
        }
        // A few names under a big set (`{ x = …; } // acc`): those it lacks go into its tree.
        if other.len() > SMALL && self.len() * 8 < other.len() {
            if let Some((mut root, mut len)) = other.tree() {
                for (key, value) in self.iter() {
                    if other.get(key).is_none() {
                        let (new_root, added) = insert(&root, key, value);
                        root = new_root;
                        len += usize::from(added);
                    }
                }
                return Attrs::new(Repr::Tree { root, len }, false);
            }
            return Attrs::new(merge(self, other).repr, true);
        }
        merge(self, other)
    }

    /// This set without `names` (sorted, no repeats, at least one of them in the set).
    pub(crate) fn remove(&self, names: &[RcStr]) -> Attrs {
        if self.len() > SMALL
            && names.len() * 8 < self.len()
            && let Some((mut root, mut len)) = self.tree()
        {
            for name in names {
                if let Some(rest) = remove(&root, name) {
                    len -= 1;
                    match rest {
                        Some(rest) => root = rest,
                        None => return Attrs::default(),
                    }
                }
            }
            return Attrs::new(Repr::Tree { root, len }, false);
        }
        let kept = self
            .iter()
            .filter(|(k, _)| names.binary_search(k).is_err())
            .map(|(k, v)| (k.clone(), v.clone()));
        let changed = self.len() > SMALL && names.len() * 8 < self.len();
        Attrs::new(Repr::Small(kept.collect()), changed)
    }

    /// The tree of a large set that is one already, or that was changed or made by a change
    /// before (built once and kept); `None` for a flat set changed for the first time (it is
    /// copied instead, and marked).
    fn tree(&self) -> Option<(Rc<Node>, usize)> {
        match &self.repr {
            Repr::Tree { root, len } => Some((root.clone(), *len)),
            Repr::Small(entries) => {
                if !self.changed.replace(true) {
                    return None;
                }
                if let Some(root) = self.tree.get() {
                    return Some((root.clone(), entries.len()));
                }
                let root = build(entries)?;
                Some((self.tree.get_or_init(|| root).clone(), entries.len()))
            }
        }
    }
}

/// `left // right` as one flat set, in one ordered walk over both.
fn merge(left: &Attrs, right: &Attrs) -> Attrs {
    if let (Repr::Small(a), Repr::Small(b)) = (&left.repr, &right.repr) {
        return Attrs::from_sorted(merge_flat(a, b));
    }
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut a, mut b) = (left.iter().peekable(), right.iter().peekable());
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

/// `left // right` of two flat sets: the common case (small sets, `{ … } // { … }`), a walk
/// over two slices. Names written in the program share their text, so most equal names are
/// found equal by address, without comparing bytes.
fn merge_flat(left: &[(RcStr, Thunk)], right: &[(RcStr, Thunk)]) -> Vec<(RcStr, Thunk)> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        let (a, b) = (&left[i], &right[j]);
        let order = if RcStr::ptr_eq(&a.0, &b.0) { Ordering::Equal } else { (*a.0).cmp(&*b.0) };
        match order {
            Ordering::Less => {
                out.push(a.clone());
                i += 1;
            }
            Ordering::Greater => {
                out.push(b.clone());
                j += 1;
            }
            Ordering::Equal => {
                out.push(b.clone());
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    out
}

/// Whether `key` is the very text `name` (not only equal to it).
fn same(key: &str, name: &str) -> bool {
    std::ptr::eq(key.as_ptr(), name.as_ptr()) && key.len() == name.len()
}

/// Iterates a set's entries in name order.
pub(crate) struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Small(std::slice::Iter<'a, (RcStr, Thunk)>),
    Tree(Vec<&'a Node>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a RcStr, &'a Thunk);

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

fn make(key: RcStr, value: Thunk, left: Option<Rc<Node>>, right: Option<Rc<Node>>) -> Rc<Node> {
    let height = height(&left).max(height(&right)) + 1;
    Rc::new(Node { key, value, left, right, height })
}

/// A balanced tree from sorted entries.
fn build(entries: &[(RcStr, Thunk)]) -> Option<Rc<Node>> {
    if entries.is_empty() {
        return None;
    }
    let mid = entries.len() / 2;
    let (key, value) = entries[mid].clone();
    Some(make(key, value, build(&entries[..mid]), build(&entries[mid + 1..])))
}

/// Inserts or replaces, copying only the path to the key; `true` when the key is new.
fn insert(node: &Rc<Node>, key: &RcStr, value: &Thunk) -> (Rc<Node>, bool) {
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

/// Removes `key`, copying only the path to it: `None` when the key is not there, else the
/// rest of the tree (`Some(None)`: nothing is left).
fn remove(node: &Rc<Node>, key: &str) -> Option<Option<Rc<Node>>> {
    match key.cmp(&node.key) {
        Ordering::Less => {
            let left = remove(node.left.as_ref()?, key)?;
            Some(Some(balance(node.key.clone(), node.value.clone(), left, node.right.clone())))
        }
        Ordering::Greater => {
            let right = remove(node.right.as_ref()?, key)?;
            Some(Some(balance(node.key.clone(), node.value.clone(), node.left.clone(), right)))
        }
        Ordering::Equal => Some(match (&node.left, &node.right) {
            (None, None) => None,
            (Some(only), None) | (None, Some(only)) => Some(only.clone()),
            (Some(left), Some(right)) => {
                // The next entry in order takes the removed one's place.
                let (key, value, rest) = remove_first(right);
                Some(balance(key, value, Some(left.clone()), rest))
            }
        }),
    }
}

/// The first entry of a tree and the tree without it.
fn remove_first(node: &Rc<Node>) -> (RcStr, Thunk, Option<Rc<Node>>) {
    match &node.left {
        None => (node.key.clone(), node.value.clone(), node.right.clone()),
        Some(left) => {
            let (key, value, rest) = remove_first(left);
            let node = balance(node.key.clone(), node.value.clone(), rest, node.right.clone());
            (key, value, Some(node))
        }
    }
}

/// Rebuilds a node, rotating when its subtrees' heights differ by more than one (AVL).
fn balance(key: RcStr, value: Thunk, left: Option<Rc<Node>>, right: Option<Rc<Node>>) -> Rc<Node> {
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

    fn names_of(set: &Attrs) -> Vec<String> {
        set.names().map(str::to_owned).collect()
    }

    #[test]
    fn changes_in_a_fold_and_on_a_reused_base_agree_with_a_sorted_map() {
        use std::collections::BTreeMap;
        // A deterministic walk of inserts and removals over a few hundred names, applied to a
        // set (flat, then marked, then a tree) and to a map; both must list the same names
        // with the same values after every step, and a base used again must not change.
        let base = set(&(0..200).map(|i| i * 3).collect::<Vec<_>>());
        let mut model: BTreeMap<String, i64> =
            (0..200).map(|i| (format!("k{:05}", i * 3), i64::from(i * 3))).collect();
        let mut acc = base.clone();
        let mut seed: u64 = 20261202;
        for step in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let k = (seed >> 33) % 700;
            let name: RcStr = format!("k{k:05}").into();
            match step % 3 {
                0 => {
                    let one = Attrs::from_entries(vec![(
                        name.clone(),
                        Thunk::value(Value::Int(-(k as i64))),
                    )]);
                    acc = acc.update(&one);
                    model.insert(name.to_string(), -(k as i64));
                }
                1 => {
                    let one = Attrs::from_entries(vec![(
                        name.clone(),
                        Thunk::value(Value::Int(k as i64 + 1)),
                    )]);
                    // The small set on the left: the big one's names win.
                    acc = one.update(&acc);
                    model.entry(name.to_string()).or_insert(k as i64 + 1);
                }
                _ => {
                    if acc.get(&name).is_some() {
                        acc = acc.remove(std::slice::from_ref(&name));
                        model.remove(&*name);
                    }
                }
            }
            assert_eq!(acc.len(), model.len(), "step {step}");
            if step % 97 == 0 || step > 1990 {
                let names = names_of(&acc);
                assert_eq!(names, model.keys().cloned().collect::<Vec<_>>(), "step {step}");
                for (name, value) in &model {
                    let got = acc.get(name).and_then(Thunk::get);
                    assert!(matches!(got, Some(Value::Int(v)) if v == *value), "{name}");
                }
            }
            // The base, changed again and again, stays what it was.
            let changed = base
                .update(&Attrs::from_entries(vec![("k00000".into(), Thunk::value(Value::Null))]));
            assert_eq!(changed.len(), 200);
            assert!(matches!(base.get("k00000").and_then(Thunk::get), Some(Value::Int(0))));
        }
        assert_eq!(base.len(), 200);
    }
}
