//! Printing values exactly as `nix-instantiate --eval` prints them.

use std::collections::HashSet;

use crate::{
    error::EvalResult,
    eval::Machine,
    value::{Thunk, Value},
};

/// How much to force before printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintMode {
    /// Print what is evaluated; unevaluated parts show as `<CODE>` (`--eval`).
    Lazy,
    /// Force everything first (`--eval --strict`).
    Strict,
}

pub(crate) fn print(machine: &mut Machine, value: &Value, mode: PrintMode) -> EvalResult<String> {
    if mode == PrintMode::Strict {
        deep_force(machine, value)?;
    }
    let mut out = String::new();
    let mut seen = HashSet::new();
    write_value(&mut out, value, &mut seen, None);
    Ok(out)
}

/// Printing recurses once per level of nesting; a value can be nested 100,000 levels deep.
fn write_nested(out: &mut String, value: &Value, seen: &mut HashSet<usize>, slot: usize) {
    stacker::maybe_grow(256 * 1024, 8 * 1024 * 1024, || write_value(out, value, seen, Some(slot)));
}

/// How deep `deep_force` goes before it calls the value infinite. It walks with a stack of its
/// own, so only memory bounds it: Nix 2.8 forces data 512,000 levels deep (a fold that nests
/// each step's result) and overflows its stack somewhat beyond; an infinite value stops here
/// after about 250 MB.
const MAX_NESTING: usize = 1_000_000;

/// Forces every attribute value and list element, recursively. A value nested deeper than
/// `MAX_NESTING` is an error (an infinite value such as `let f = x: { a = f x; }; in f 1`
/// would otherwise grow until the machine runs out of memory).
pub(crate) fn deep_force(machine: &mut Machine, value: &Value) -> EvalResult<()> {
    let mut stack = vec![(value.clone(), 0usize)];
    let mut visited: HashSet<usize> = HashSet::new();
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_NESTING {
            let mut error =
                crate::error::EvalError::new(crate::error::ErrorKind::MaxCallDepth, None);
            error.help = Some(format!(
                "the value is nested more than {MAX_NESTING} levels deep: it is probably infinite \
                 (a function that builds a set or list containing its own result)"
            ));
            return Err(error);
        }
        let thunks: Vec<Thunk> = match &value {
            Value::Attrs(attrs) => {
                if !visited.insert(std::rc::Rc::as_ptr(attrs) as usize) {
                    continue;
                }
                attrs.iter().map(|(_, t)| t.clone()).collect()
            }
            Value::List(items) => {
                if !visited.insert(items.as_ptr() as usize) {
                    continue;
                }
                items.to_vec()
            }
            _ => continue,
        };
        // Forced in order, so that the first error met is the one Nix would report.
        let mut children = Vec::with_capacity(thunks.len());
        for thunk in &thunks {
            children.push(machine.force(thunk)?);
        }
        stack.extend(children.into_iter().rev().map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// Writes `value`; `slot` is the identity of the thunk holding it (`None` at the top). A set
/// or a list already being printed is `«repeated»`, by identity as in Nix: a set's bindings
/// and a long list's elements are shared by every copy of the value, but Nix keeps a list of
/// at most two elements inside the value itself, so its identity is the slot holding it.
fn write_value(out: &mut String, value: &Value, seen: &mut HashSet<usize>, slot: Option<usize>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(x) => out.push_str(&float(*x)),
        Value::String(s) => write_string(out, s.as_str()),
        Value::Path(p) => out.push_str(&p.display().to_string()),
        Value::Attrs(attrs) => {
            // Empty sets and lists are never marked as repeated, as in Nix.
            if !attrs.is_empty() && !seen.insert(std::rc::Rc::as_ptr(attrs) as usize) {
                out.push_str("«repeated»");
                return;
            }
            out.push_str("{ ");
            for (name, thunk) in attrs.iter() {
                write_attr_name(out, name);
                out.push_str(" = ");
                write_thunk(out, thunk, seen);
                out.push_str("; ");
            }
            out.push('}');
        }
        Value::List(items) => {
            let identity = if items.len() <= 2 { slot } else { Some(items.as_ptr() as usize) };
            if let Some(identity) = identity.filter(|_| !items.is_empty())
                && !seen.insert(identity)
            {
                out.push_str("«repeated»");
                return;
            }
            out.push_str("[ ");
            for item in items.iter() {
                write_thunk(out, item, seen);
                out.push(' ');
            }
            out.push(']');
        }
        Value::Lambda(_) => out.push_str("<LAMBDA>"),
        Value::PrimOp(_) => out.push_str("<PRIMOP>"),
        Value::PrimOpApp(_) => out.push_str("<PRIMOP-APP>"),
        Value::Outputs(component) => {
            out.push_str("«outputs of ");
            out.push_str(component);
            out.push('»');
        }
    }
}

fn write_thunk(out: &mut String, thunk: &Thunk, seen: &mut HashSet<usize>) {
    match thunk.get() {
        Some(value) => write_nested(out, &value, seen, thunk.ptr()),
        None => out.push_str("<CODE>"),
    }
}

/// An attribute name: bare when it reads as an identifier, quoted otherwise.
fn write_attr_name(out: &mut String, name: &str) {
    let mut chars = name.chars();
    let identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '\'' | '-'))
        // Nix 2.8 quotes only this keyword.
        && name != "if";
    if identifier {
        out.push_str(name);
    } else {
        write_string(out, name);
    }
}

/// A string literal with Nix's escapes.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as C++'s `ostream << double` prints it (`%g`, six significant digits).
pub(crate) fn float(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    const PRECISION: i32 = 6;
    // Most floats in programs are short (0.5, 1.25): when the shortest text that reads back
    // as `x` has at most six significant digits, rounding to six gives the same digits, and
    // in fixed notation that text is what `%g` prints. Only the rest pays for exact rounding.
    let shortest = format!("{x:e}");
    if let Some((mantissa, exponent)) = shortest.split_once('e')
        && let Ok(exponent) = exponent.parse::<i32>()
        && (-4..PRECISION).contains(&exponent)
        && mantissa.bytes().filter(u8::is_ascii_digit).count() <= PRECISION as usize
    {
        return format!("{x}");
    }
    float_rounded(x)
}

/// `%g`: `x` rounded to six significant digits, in fixed or scientific notation.
fn float_rounded(x: f64) -> String {
    const PRECISION: i32 = 6;
    // The exponent after rounding to six significant digits.
    let scientific = format!("{:.*e}", (PRECISION - 1) as usize, x);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exponent) {
        let mantissa = trim_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (PRECISION - 1 - exponent).max(0) as usize;
        trim_zeros(&format!("{x:.decimals$}")).to_owned()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

#[cfg(test)]
mod tests {
    /// The short path prints what rounding to six digits prints, over floats of every
    /// magnitude and length (a fixed pseudo-random walk, so the test is repeatable).
    #[test]
    fn short_floats_print_as_rounded() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let digits = (state >> 33) % 10_000_000;
            let scale = 10f64.powi(((state >> 12) % 16) as i32 - 8);
            let x = digits as f64 * scale * if state & 1 == 0 { 1.0 } else { -1.0 };
            if x != 0.0 {
                assert_eq!(super::float(x), super::float_rounded(x), "{x:e}");
            }
        }
    }
}
