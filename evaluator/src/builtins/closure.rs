//! `genericClosure`: the closure of a start set under an operator, each element once by its
//! `key`. Nix keeps the keys in an ordered set; here keys are hashed where their equality is
//! plain (numbers, strings, paths, and lists by their length and first element), so that a
//! closure of n elements costs O(n), and compared one by one only where it is not.

use alloc_shim::thin::RcStr;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    path::PathBuf,
};

use crate::{
    builtins::{self, bad, call},
    error::EvalResult,
    eval::Machine,
    value::{Thunk, Value},
};

/// A value whose equality is equality of this (a float equal to an integer is that integer).
#[derive(PartialEq, Eq, Hash)]
enum Scalar {
    Int(i64),
    Float(u64),
    Str(RcStr),
    Path(PathBuf),
    Bool(bool),
    Null,
}

impl Scalar {
    /// `None` for values compared another way (sets, lists, functions) and for NaN, which
    /// equals nothing.
    fn of(value: &Value) -> Option<Scalar> {
        Some(match value {
            Value::Int(i) => Scalar::Int(*i),
            // An integral float is an integer's key only when it converts exactly (1e19 is no
            // 64-bit integer's).
            Value::Float(x) if x.fract() == 0.0 && (*x as i64) as f64 == *x => {
                Scalar::Int(*x as i64)
            }
            Value::Float(x) if x.is_nan() => return None,
            // Fractional: equal only to the same bits (zeros are integral, above).
            Value::Float(x) => Scalar::Float(x.to_bits()),
            Value::String(s) => Scalar::Str(s.text()),
            Value::Path(p) => Scalar::Path((**p).clone()),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Null => Scalar::Null,
            _ => return None,
        })
    }
}

/// The keys met so far.
#[derive(Default)]
struct Seen {
    scalars: HashSet<Scalar>,
    /// Lists, by length and first element (when that is a scalar already computed).
    lists: HashMap<(usize, Scalar), Vec<Value>>,
    /// Everything else (and lists whose first element was not computed yet): compared with
    /// every key one by one, as a key without a bucket is compared with every list.
    others: Vec<Value>,
}

impl Seen {
    /// Records `key`; `false` when an equal key was recorded before.
    fn insert(&mut self, m: &mut Machine, key: &Value) -> EvalResult<bool> {
        if let Value::Float(x) = key
            && x.is_nan()
        {
            // NaN equals nothing, itself included: always new.
            return Ok(true);
        }
        if let Some(scalar) = Scalar::of(key) {
            return Ok(self.scalars.insert(scalar));
        }
        let bucket = match key {
            Value::List(items) => items
                .first()
                .and_then(Thunk::get)
                .and_then(|first| Scalar::of(&first))
                .map(|first| (items.len(), first)),
            _ => None,
        };
        // With a bucket, the lists of that bucket; without one (a first element not computed
        // yet), every list, in any bucket.
        let lists: Vec<&Value> = match &bucket {
            Some(b) => self.lists.get(b).into_iter().flatten().collect(),
            None if matches!(key, Value::List(_)) => self.lists.values().flatten().collect(),
            None => Vec::new(),
        };
        for old in lists {
            if m.equal(old, key)? {
                return Ok(false);
            }
        }
        for old in &self.others {
            if m.equal(old, key)? {
                return Ok(false);
            }
        }
        match bucket {
            Some(bucket) => self.lists.entry(bucket).or_default().push(key.clone()),
            None => self.others.push(key.clone()),
        }
        Ok(true)
    }
}

/// `genericClosure { startSet; operator; }`: the closure under `operator`, keyed by `key`.
pub(super) fn generic_closure(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let spec = builtins::attrs(m, &args[0])?;
    let get = |name: &str| {
        spec.get(name)
            .cloned()
            .ok_or_else(|| bad("genericClosure", format!("the argument has no attribute `{name}`")))
    };
    let start = builtins::list(m, &get("startSet")?)?;
    let operator = m.force(&get("operator")?)?;
    let mut queue: VecDeque<Thunk> = start.iter().cloned().collect();
    let mut seen = Seen::default();
    let mut out = Vec::new();
    let mut first_key: Option<Value> = None;
    while let Some(item) = queue.pop_front() {
        let attrs = builtins::attrs(m, &item)?;
        let key = attrs
            .get("key")
            .cloned()
            .ok_or_else(|| bad("genericClosure", "an element has no attribute `key`".into()))?;
        let key = m.force(&key)?;
        // Keys are ordered in Nix: every key must compare with the others.
        match &first_key {
            None => first_key = Some(key.clone()),
            Some(first) => {
                m.less_than(first, &key, None)?;
            }
        }
        if !seen.insert(m, &key)? {
            continue;
        }
        out.push(item.clone());
        let next = call(m, &operator, &[item])?;
        for next in builtins::list(m, &Thunk::value(next))?.iter() {
            queue.push_back(next.clone());
        }
        // A closure that never closes stops at the longest list there may be, as any list.
        crate::error::check_list(out.len() + queue.len(), None)?;
    }
    Ok(Value::list(out))
}
