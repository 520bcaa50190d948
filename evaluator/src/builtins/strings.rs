//! String builtins.

use crate::{
    builtins::{self, bad},
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    value::{NixString, Thunk, Value},
};

pub(super) fn string_length(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let s = m.coerce_to_string(&value, false, None)?;
    crate::error::reject_secret(&s, "`stringLength`")?;
    Ok(Value::Int(s.as_str().len() as i64))
}

/// `substring start len s`, in bytes, as Nix; a negative `len` means "to the end". Strings are
/// UTF-8 text: a cut through a character gives U+FFFD where Nix keeps the raw bytes (so
/// `stringToCharacters` of non-ASCII text does not round-trip as in Nix).
pub(super) fn substring(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let start = builtins::int(m, &args[0])?;
    let len = builtins::int(m, &args[1])?;
    let value = m.force(&args[2])?;
    let s = m.coerce_to_string(&value, false, None)?;
    crate::error::reject_secret(&s, "`substring`")?;
    if start < 0 {
        return Err(EvalError::new(
            ErrorKind::OutOfBounds {
                detail: format!("negative start position {start} in `substring`"),
            },
            None,
        ));
    }
    let bytes = s.as_str().as_bytes();
    let start = (start as usize).min(bytes.len());
    let end =
        if len < 0 { bytes.len() } else { start.saturating_add(len as usize).min(bytes.len()) };
    let text = String::from_utf8_lossy(&bytes[start..end]).into_owned();
    Ok(Value::String(NixString::new(text.into(), s.context().cloned())))
}

pub(super) fn concat_strings_sep(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let separator = builtins::string(m, &args[0])?;
    let mut parts = Vec::new();
    let mut len = 0;
    for item in builtins::list(m, &args[1])?.iter() {
        let value = m.force(item)?;
        let part = m.coerce_to_string(&value, false, None)?;
        len += part.len() + separator.len();
        crate::error::check_string(len, None)?;
        parts.push(part);
    }
    let text = parts.iter().map(NixString::as_str).collect::<Vec<_>>().join(separator.as_str());
    let context = NixString::merge_contexts(parts.iter().chain(std::iter::once(&separator)));
    Ok(Value::String(NixString::new(text.into(), context)))
}

/// `replaceStrings from to s`: at each position the first matching `from` wins; an empty
/// `from` matches between every two characters.
pub(super) fn replace_strings(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let from_list = builtins::list(m, &args[0])?;
    let to_list = builtins::list(m, &args[1])?;
    if from_list.len() != to_list.len() {
        return Err(bad("replaceStrings", "the two lists must have the same length".into()));
    }
    let mut from = Vec::with_capacity(from_list.len());
    for item in from_list.iter() {
        from.push(builtins::string(m, item)?);
    }
    // Every replacement is a string, checked before the subject as Nix checks them (only the
    // context of those used is kept).
    let mut to: Vec<NixString> = Vec::with_capacity(to_list.len());
    for item in to_list.iter() {
        to.push(builtins::string(m, item)?);
    }
    let s = builtins::string(m, &args[2])?;
    let text = s.as_str();
    let mut out = String::with_capacity(text.len());
    let mut used = Vec::new();
    // The bytes a pattern can start with: text up to the next of them is copied at once (an
    // empty pattern matches everywhere, so then every position is tried).
    let mut starts = [false; 256];
    for f in &from {
        match f.as_str().as_bytes().first() {
            Some(&b) => starts[usize::from(b)] = true,
            None => starts = [true; 256],
        }
    }
    let mut i = 0;
    loop {
        let skip = text.as_bytes()[i..].iter().position(|&b| starts[usize::from(b)]);
        let next = skip.map_or(text.len(), |n| i + n);
        // A byte that starts a pattern is ASCII or the first byte of a character, so `next`
        // is on a character boundary.
        out.push_str(&text[i..next]);
        i = next;
        if i == text.len() && !starts.iter().all(|&s| s) {
            break;
        }
        let hit = from.iter().position(|f| text[i..].starts_with(f.as_str()));
        match hit {
            Some(k) => {
                let replacement = to[k].clone();
                out.push_str(replacement.as_str());
                if replacement.context().is_some() {
                    used.push(replacement);
                }
                let step = from[k].as_str().len();
                if step == 0 {
                    match text[i..].chars().next() {
                        Some(c) => {
                            out.push(c);
                            i += c.len_utf8();
                        }
                        None => break,
                    }
                } else {
                    i += step;
                }
            }
            None => match text[i..].chars().next() {
                Some(c) => {
                    out.push(c);
                    i += c.len_utf8();
                }
                None => break,
            },
        }
        if i > text.len() {
            break;
        }
    }
    let context = NixString::merge_contexts(used.iter().chain(std::iter::once(&s)));
    Ok(Value::String(NixString::new(out.into(), context)))
}

/// Nix's version components: runs of digits, runs of other characters; `.` and `-` separate.
fn version_components(version: &str) -> Vec<&str> {
    let bytes = version.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'.' || c == b'-' {
            i += 1;
            continue;
        }
        let start = i;
        let digits = c.is_ascii_digit();
        while i < bytes.len()
            && bytes[i] != b'.'
            && bytes[i] != b'-'
            && bytes[i].is_ascii_digit() == digits
        {
            i += 1;
        }
        out.push(&version[start..i]);
    }
    out
}

fn component_less(a: &str, b: &str) -> bool {
    // Nix reads components as C `int`s: longer numbers compare as text.
    let (na, nb) = (a.parse::<i32>().ok(), b.parse::<i32>().ok());
    match (na, nb) {
        (Some(x), Some(y)) => x < y,
        _ if a.is_empty() && nb.is_some() => true,
        _ if a == "pre" && b != "pre" => true,
        _ if b == "pre" => false,
        (_, Some(_)) => true,
        (Some(_), None) => false,
        _ => a < b,
    }
}

pub(super) fn compare_versions(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let a = builtins::string(m, &args[0])?;
    let b = builtins::string(m, &args[1])?;
    let (ca, cb) = (version_components(a.as_str()), version_components(b.as_str()));
    for i in 0..ca.len().max(cb.len()) {
        let x = ca.get(i).copied().unwrap_or("");
        let y = cb.get(i).copied().unwrap_or("");
        if component_less(x, y) {
            return Ok(Value::Int(-1));
        }
        if component_less(y, x) {
            return Ok(Value::Int(1));
        }
    }
    Ok(Value::Int(0))
}

pub(super) fn split_version(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let version = builtins::string(m, &args[0])?;
    let parts = version_components(version.as_str());
    Ok(Value::list(parts.into_iter().map(|p| Thunk::value(Value::string(p)))))
}
