//! `match` and `split` with POSIX extended regular expressions (through the regex crate,
//! whose syntax covers ERE; compiled patterns are cached per evaluation).

use std::rc::Rc;

use crate::{
    builtins::{self, bad},
    error::EvalResult,
    eval::Machine,
    value::{Thunk, Value},
};

fn compile(
    m: &mut Machine,
    builtin: &'static str,
    pattern: &str,
    whole: bool,
) -> EvalResult<Rc<regex::Regex>> {
    if let Some(regex) = m.regex_cache[usize::from(whole)].get(pattern) {
        return Ok(regex.clone());
    }
    let translated = posix_to_regex(pattern);
    let source =
        if whole { format!("(?s)^(?:{translated})$") } else { format!("(?s){translated}") };
    let regex = regex::Regex::new(&source).map_err(|e| {
        // The crate's message quotes the rewritten pattern; keep only what went wrong.
        let text = e.to_string();
        let reason = text.lines().rev().find_map(|l| l.trim().strip_prefix("error: "));
        let reason = reason.unwrap_or("not a valid pattern");
        bad(builtin, format!("invalid regular expression `{pattern}`: {reason}"))
    })?;
    let regex = Rc::new(regex);
    // Bounded: a program that builds its patterns (one per element of a list) would otherwise
    // keep every compiled one, each with its matching cache (128,000 patterns held 1.2 GB).
    // Emptied when full: the few patterns a loop reuses are compiled again once.
    let cache = &mut m.regex_cache[usize::from(whole)];
    if cache.len() >= REGEX_CACHE {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), regex.clone());
    Ok(regex)
}

/// How many compiled patterns each cache keeps.
const REGEX_CACHE: usize = 512;

/// Rewrites what POSIX ERE and the regex crate read differently: inside brackets a backslash
/// is an ordinary character in POSIX, and `[` starts nothing but `[:class:]`. (`.` matching a
/// newline is the `s` flag, set by the caller.)
fn posix_to_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(c);
            if let Some(next) = chars.next() {
                out.push(next);
            }
            continue;
        }
        if c != '[' {
            out.push(c);
            continue;
        }
        // A bracket expression: `]` right after `[` or `[^` is a member, not the end.
        out.push('[');
        if chars.peek() == Some(&'^') {
            out.push('^');
            chars.next();
        }
        if chars.peek() == Some(&']') {
            out.push_str("\\]");
            chars.next();
        }
        while let Some(c) = chars.next() {
            match c {
                ']' => {
                    out.push(']');
                    break;
                }
                '[' if chars.peek() == Some(&':') => {
                    out.push('[');
                    for c in chars.by_ref() {
                        out.push(c);
                        if c == ']' {
                            break;
                        }
                    }
                }
                '\\' | '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    out
}

fn groups(captures: &regex::Captures<'_>) -> Value {
    let groups = (1..captures.len())
        .map(|i| Thunk::value(captures.get(i).map_or(Value::Null, |g| Value::string(g.as_str()))));
    Value::list(groups)
}

/// `match regex s`: `null` unless the whole string matches, else the list of groups.
pub(super) fn match_(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let pattern = builtins::string(m, &args[0])?;
    let s = builtins::string(m, &args[1])?;
    let regex = compile(m, "match", pattern.as_str(), true)?;
    Ok(match regex.captures(s.as_str()) {
        Some(captures) => groups(&captures),
        None => Value::Null,
    })
}

/// `split regex s`: the pieces between matches, with each match's groups (a list) between.
pub(super) fn split(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let pattern = builtins::string(m, &args[0])?;
    let s = builtins::string(m, &args[1])?;
    let regex = compile(m, "split", pattern.as_str(), false)?;
    let text = s.as_str();
    let mut out = Vec::new();
    let (mut last, mut position) = (0, 0);
    // As C++'s regex iterator (which Nix uses): an empty match may directly follow a
    // non-empty one, and after an empty match the search moves on by one character.
    while position <= text.len() {
        let Some(captures) = regex.captures_at(text, position) else { break };
        let Some(whole) = captures.get(0) else { break };
        out.push(Thunk::value(Value::string(&text[last..whole.start()])));
        out.push(Thunk::value(groups(&captures)));
        last = whole.end();
        position = if whole.is_empty() {
            match text[whole.end()..].chars().next() {
                Some(c) => whole.end() + c.len_utf8(),
                None => break,
            }
        } else {
            whole.end()
        };
    }
    out.push(Thunk::value(Value::string(&text[last..])));
    Ok(Value::list(out))
}
