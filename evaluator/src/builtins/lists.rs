//! List builtins. Results stay lazy where Nix's are: `map f xs` builds thunks of `f x`.

use alloc_shim::thin::RcStr;
use std::collections::HashMap;

use crate::{
    builtins::{self, bad, call},
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    value::{Attrs, Thunk, Value},
};

/// The longest list `genList` builds: its elements alone take 8 bytes each.
const MAX_LIST: i64 = crate::error::MAX_LIST as i64;

pub(super) fn length(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    Ok(Value::Int(builtins::list(m, &args[0])?.len() as i64))
}

pub(super) fn head(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let items = builtins::list(m, &args[0])?;
    match items.first() {
        Some(first) => m.force(first),
        None => Err(EvalError::new(
            ErrorKind::OutOfBounds { detail: "`head` called on an empty list".into() },
            None,
        )),
    }
}

pub(super) fn tail(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let items = builtins::list(m, &args[0])?;
    if items.is_empty() {
        return Err(EvalError::new(
            ErrorKind::OutOfBounds { detail: "`tail` called on an empty list".into() },
            None,
        ));
    }
    Ok(Value::list(items[1..].iter().cloned()))
}

pub(super) fn elem_at(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    // Nix forces the index first.
    let index = builtins::int(m, &args[1])?;
    let items = builtins::list(m, &args[0])?;
    match usize::try_from(index).ok().and_then(|i| items.get(i)) {
        Some(item) => m.force(item),
        None => Err(EvalError::new(
            ErrorKind::OutOfBounds {
                detail: format!("list index {index} is out of bounds (length {})", items.len()),
            },
            None,
        )),
    }
}

pub(super) fn elem(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    // The list first; the value only when there is something to compare it with (Nix's order).
    let items = builtins::list(m, &args[1])?;
    if items.is_empty() {
        return Ok(Value::Bool(false));
    }
    let wanted = m.force(&args[0])?;
    for item in items.iter() {
        // The very cell asked for (`elem f [ f ]`): equal, even a function (as in Nix).
        if item.ptr() == args[0].ptr() {
            return Ok(Value::Bool(true));
        }
        let item = match item.get() {
            Some(value) => value,
            None => m.force(item)?,
        };
        // Integers and strings, the common cases, compared here.
        let same = match (&wanted, &item) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::String(a), Value::String(b))
                if a.context().is_none() && b.context().is_none() =>
            {
                a.as_str() == b.as_str()
            }
            _ => m.equal(&wanted, &item)?,
        };
        if same {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// `map f list`: the list first; `f` is only called, lazily, per element (as in Nix, `map 1 [ ]`
/// is `[ ]`, and `map 1 [ 1 ]` fails when its element is used).
pub(super) fn map(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let items = builtins::list(m, &args[1])?;
    if items.is_empty() {
        return Ok(Value::list(Vec::new()));
    }
    // The function is forced by the elements, when they are (Nix's order: `map (throw "x")
    // [ 1 ]` has a length).
    let func = &args[0];
    Ok(Value::list(items.iter().map(|x| Thunk::apply(func, x.clone()))))
}

pub(super) fn filter(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    let items = builtins::list(m, &args[1])?;
    let mut kept = Vec::new();
    for item in items.iter() {
        if predicate(m, &func, item)? {
            kept.push(item.clone());
        }
    }
    Ok(Value::list(kept))
}

fn predicate(m: &mut Machine, func: &Value, item: &Thunk) -> EvalResult<bool> {
    match call(m, func, std::slice::from_ref(item))? {
        Value::Bool(b) => Ok(b),
        other => Err(crate::eval::type_error("a Boolean", &other, None)),
    }
}

pub(super) fn all(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    for item in builtins::list(m, &args[1])?.iter() {
        if !predicate(m, &func, item)? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

pub(super) fn any(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    for item in builtins::list(m, &args[1])?.iter() {
        if predicate(m, &func, item)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

pub(super) fn partition(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for item in builtins::list(m, &args[1])?.iter() {
        // Nix forces every element here, whatever the predicate looks at.
        m.force(item)?;
        if predicate(m, &func, item)? { right.push(item.clone()) } else { wrong.push(item.clone()) }
    }
    Ok(Value::attrs(Attrs::from_sorted(vec![
        ("right".into(), Thunk::value(Value::list(right))),
        ("wrong".into(), Thunk::value(Value::list(wrong))),
    ])))
}

pub(super) fn concat_lists(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let mut out = Vec::new();
    for list in builtins::list(m, &args[0])?.iter() {
        let list = builtins::list(m, list)?;
        crate::error::check_list(out.len() + list.len(), None)?;
        out.extend(list.iter().cloned());
    }
    Ok(Value::list(out))
}

pub(super) fn concat_map(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    let mut out = Vec::new();
    for item in builtins::list(m, &args[1])?.iter() {
        match call(m, &func, std::slice::from_ref(item))? {
            Value::List(items) => {
                crate::error::check_list(out.len() + items.len(), None)?;
                out.extend(items.iter().cloned())
            }
            other => return Err(crate::eval::type_error("a list", &other, None)),
        }
    }
    Ok(Value::list(out))
}

/// `foldl' op nul list`, strict in the accumulator at every step.
pub(super) fn foldl(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    let items = builtins::list(m, &args[2])?;
    // The initial value is passed unforced, as in Nix: `foldl' (a: x: x) (throw "no") [ 1 ]`
    // is 1; each later accumulator is forced by the call that makes it.
    let mut acc = args[1].clone();
    for item in items.iter() {
        let pair = [acc, item.clone()];
        let value = call(m, &func, &pair)?;
        // The accumulator's cell is reused when the call kept no hold on it (most folds).
        let [mut cell, _] = pair;
        cell.set_or_new(value);
        acc = cell;
    }
    m.force(&acc)
}

pub(super) fn gen_list(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    // The length; the function is forced by the elements, when they are (Nix's order).
    let n = builtins::int(m, &args[1])?;
    if n < 0 {
        return Err(bad("genList", format!("cannot create a list of size {n}")));
    }
    if n > MAX_LIST {
        return Err(bad(
            "genList",
            format!("{n} elements is more than the {MAX_LIST} a list may have"),
        ));
    }
    let func = &args[0];
    let items = (0..n).map(|i| Thunk::apply_index(func, i));
    Ok(Value::list(items))
}

/// `sort less list`: stable, with the user's comparator.
pub(super) fn sort(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    let items = builtins::list(m, &args[1])?;
    // Every element is forced first, in order, as Nix does (so the first failing element is
    // the one reported, even when the comparator never looks at it).
    for item in items.iter() {
        m.force(item)?;
    }
    // A merge sort that can fail: the comparator is user code.
    let mut items: Vec<Thunk> = items.to_vec();
    let mut buffer = Vec::with_capacity(items.len());
    merge_sort(m, &func, &mut items, &mut buffer)?;
    Ok(Value::list(items))
}

fn merge_sort(
    m: &mut Machine,
    less: &Value,
    items: &mut [Thunk],
    buffer: &mut Vec<Thunk>,
) -> EvalResult<()> {
    if items.len() <= 1 {
        return Ok(());
    }
    let mid = items.len() / 2;
    merge_sort(m, less, &mut items[..mid], buffer)?;
    merge_sort(m, less, &mut items[mid..], buffer)?;
    buffer.clear();
    let (mut i, mut j) = (0, mid);
    while i < mid && j < items.len() {
        // Take from the right only when it is strictly less: that keeps the sort stable.
        let right_first = match less {
            // `sort builtins.lessThan`: compared here, without a call per comparison (as
            // Nix 2.8 does for this comparator).
            Value::PrimOp(op) if op.name == "lessThan" => {
                let (a, b) = (m.force(&items[j])?, m.force(&items[i])?);
                m.less_than(&a, &b, None)?
            }
            _ => match call(m, less, &[items[j].clone(), items[i].clone()])? {
                Value::Bool(b) => b,
                other => return Err(crate::eval::type_error("a Boolean", &other, None)),
            },
        };
        if right_first {
            buffer.push(items[j].clone());
            j += 1;
        } else {
            buffer.push(items[i].clone());
            i += 1;
        }
    }
    buffer.extend(items[i..mid].iter().cloned());
    buffer.extend(items[j..].iter().cloned());
    items.clone_from_slice(buffer);
    Ok(())
}

pub(super) fn group_by(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let func = builtins::function(m, &args[0])?;
    let mut groups: Vec<(RcStr, Vec<Thunk>)> = Vec::new();
    // Each key's group, found by hashing (a search through the groups made groupBy quadratic
    // in the number of distinct keys).
    let mut by_key: HashMap<RcStr, usize> = HashMap::new();
    for item in builtins::list(m, &args[1])?.iter() {
        let key = match call(m, &func, std::slice::from_ref(item))? {
            Value::String(s) => s.text(),
            other => return Err(crate::eval::type_error("a string", &other, None)),
        };
        match by_key.get(&key) {
            Some(&at) => groups[at].1.push(item.clone()),
            None => {
                by_key.insert(key.clone(), groups.len());
                groups.push((key, vec![item.clone()]));
            }
        }
    }
    let entries = groups.into_iter().map(|(k, g)| (k, Thunk::value(Value::list(g)))).collect();
    Ok(Value::attrs(Attrs::from_entries(entries)))
}
