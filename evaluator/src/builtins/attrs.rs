//! Attribute set builtins.

use alloc_shim::thin::RcStr;
use std::rc::Rc;

use crate::{
    builtins::{self, bad},
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    value::{Attrs, Thunk, Value},
};

pub(super) fn attr_names(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let attrs = builtins::attrs(m, &args[0])?;
    Ok(Value::List(attrs.to_list(|k, _| m.name_cell(k))))
}

pub(super) fn attr_values(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let attrs = builtins::attrs(m, &args[0])?;
    Ok(Value::List(attrs.to_list(|_, v| v.clone())))
}

pub(super) fn get_attr(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    let attrs = builtins::attrs(m, &args[1])?;
    match attrs.get(name.as_str()).cloned() {
        Some(thunk) => m.force(&thunk),
        None => Err(EvalError::new(
            ErrorKind::MissingAttribute { name: name.as_str().to_owned() },
            None,
        )),
    }
}

pub(super) fn has_attr(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    let attrs = builtins::attrs(m, &args[1])?;
    Ok(Value::Bool(attrs.get(name.as_str()).is_some()))
}

pub(super) fn remove_attrs(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let attrs = builtins::attrs(m, &args[0])?;
    // A few names (the usual case) on the stack: no allocation.
    let mut names: smallvec::SmallVec<[RcStr; 8]> = smallvec::SmallVec::new();
    for name in builtins::list(m, &args[1])?.iter() {
        names.push(builtins::string(m, name)?.text());
    }
    // Sorted, so that each entry is looked up in O(log m), not compared with every name.
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|n| attrs.get(n).is_some()) {
        return Ok(Value::Attrs(attrs));
    }
    Ok(Value::attrs(attrs.remove(&names)))
}

pub(super) fn intersect_attrs(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let left = builtins::attrs(m, &args[0])?;
    let right = builtins::attrs(m, &args[1])?;
    // Walk the smaller set and look names up in the larger one (few names into many), or walk
    // both in order at once (sets of similar sizes: no search at all); the values are the
    // right's.
    let (small, large) = (left.len().min(right.len()), left.len().max(right.len()));
    let kept: Vec<(RcStr, Thunk)> =
        if small * (usize::BITS - large.leading_zeros()) as usize > small + large {
            let mut out = Vec::with_capacity(small);
            let (mut a, mut b) = (left.iter().peekable(), right.iter().peekable());
            while let (Some((x, _)), Some((y, value))) = (a.peek(), b.peek()) {
                match x.cmp(y) {
                    std::cmp::Ordering::Less => {
                        a.next();
                    }
                    std::cmp::Ordering::Greater => {
                        b.next();
                    }
                    std::cmp::Ordering::Equal => {
                        out.push(((*y).clone(), (*value).clone()));
                        a.next();
                        b.next();
                    }
                }
            }
            out
        } else if left.len() < right.len() {
            left.iter().filter_map(|(k, _)| Some((k.clone(), right.get(k)?.clone()))).collect()
        } else {
            right
                .iter()
                .filter(|(k, _)| left.get(k).is_some())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
    Ok(Value::attrs(Attrs::from_sorted(kept)))
}

pub(super) fn cat_attrs(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    let mut out = Vec::new();
    for item in builtins::list(m, &args[1])?.iter() {
        if let Some(value) = builtins::attrs(m, item)?.get(name.as_str()) {
            out.push(value.clone());
        }
    }
    Ok(Value::list(out))
}

/// `listToAttrs [ { name; value; } … ]`: the first occurrence of a name wins, as in Nix.
pub(super) fn list_to_attrs(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let items = builtins::list(m, &args[0])?;
    let mut entries: Vec<(RcStr, Thunk)> = Vec::with_capacity(items.len());
    let (name_key, value_key) = m.pair_keys.clone();
    for item in items.iter() {
        let pair = builtins::attrs(m, item)?;
        let name = pair
            .get(&name_key)
            .cloned()
            .ok_or_else(|| bad("listToAttrs", "an element has no attribute `name`".into()))?;
        let name = builtins::string(m, &name)?;
        let value = pair
            .get(&value_key)
            .cloned()
            .ok_or_else(|| bad("listToAttrs", "an element has no attribute `value`".into()))?;
        entries.push((name.text(), value));
    }
    // `from_entries` keeps the last of equal names; reverse so the first wins.
    entries.reverse();
    Ok(Value::attrs(Attrs::from_entries(entries)))
}

pub(super) fn map_attrs(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    // The set; the function is forced by the entries, when they are (Nix's order).
    let attrs = builtins::attrs(m, &args[1])?;
    if attrs.is_empty() {
        return Ok(Value::attrs(Attrs::from_sorted(Vec::new())));
    }
    let func = args[0].clone();
    // An entry of a flat set is one cell that finds its name and value when forced.
    if attrs.flat_entry(0).is_some() && u32::try_from(attrs.len()).is_ok() {
        let map = Rc::new(crate::value::EntryMap { func, attrs: attrs.clone() });
        let entries = attrs
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), Thunk::apply_entry(&map, i as u32)));
        return Ok(Value::attrs(Attrs::from_sorted(entries.collect())));
    }
    // The name given to `f` shares the key's text (no copy per entry, and a lookup of it in
    // a set with the same key can match by address).
    let entries = attrs.iter().map(|(k, v)| {
        let name = m.name_cell(k);
        (k.clone(), Thunk::apply2(&func, [name, v.clone()]))
    });
    Ok(Value::attrs(Attrs::from_sorted(entries.collect())))
}

/// `zipAttrsWith f [ s1 s2 … ]`: `f name [ values of name in each set, in order ]`.
pub(super) fn zip_attrs_with(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    // The function is checked first, as Nix checks it (its entries apply it lazily).
    builtins::function(m, &args[0])?;
    let func = &args[0];
    let mut groups: std::collections::BTreeMap<RcStr, Vec<Thunk>> = Default::default();
    for set in builtins::list(m, &args[1])?.iter() {
        for (k, v) in builtins::attrs(m, set)?.iter() {
            groups.entry(k.clone()).or_default().push(v.clone());
        }
    }
    let entries = groups.into_iter().map(|(k, values)| {
        let name = m.name_cell(&k);
        (k, Thunk::apply2(func, [name, Thunk::value(Value::list(values))]))
    });
    Ok(Value::attrs(Attrs::from_sorted(entries.collect())))
}
