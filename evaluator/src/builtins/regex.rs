//! `match` and `split` with POSIX extended regular expressions (through the regex crate,
//! whose syntax covers ERE; compiled patterns are cached per evaluation).
//!
//! Where POSIX and the crate's preference order disagree, Nix (C++'s `std::regex` in its
//! extended mode) is followed: a quantifier followed by `?` is a second, greedy one, not a
//! lazy one; and between alternatives `split` takes the longest match (`a|ab` in `abc`
//! matches `ab`). C++'s engine stops at the first match its greedy repetitions find, so a
//! pattern without `|` keeps the crate's match (`a*(ab)?` in `aab` matches `aa`, as in Nix).
//! Not followed yet: with both (`x|a*(ab)?` in `aab`), C++ still stops at `aa` where this takes
//! `aab`; a bounded repetition followed by `?` (`a{2}?`) stays lazy; and `.` matches a
//! character where C++ matches a byte. Emulating C++ exactly means its backtracking order.

use std::rc::Rc;

use crate::{
    builtins::{self, bad},
    error::EvalResult,
    eval::Machine,
    value::{Thunk, Value},
};

/// A compiled pattern: the crate's regex, and for a `split` pattern with alternatives, the
/// same searched for every match at a position (the longest is reported).
pub(crate) struct Compiled {
    regex: regex::Regex,
    longest: Option<regex_automata::meta::Regex>,
}

fn compile(
    m: &mut Machine,
    builtin: &'static str,
    pattern: &str,
    whole: bool,
) -> EvalResult<Rc<Compiled>> {
    if let Some(regex) = m.regex_cache[usize::from(whole)].get(pattern) {
        return Ok(regex.clone());
    }
    let invalid_posix =
        |reason: String| bad(builtin, format!("invalid regular expression `{pattern}`: {reason}"));
    let (translated, alternative) = posix_to_regex(pattern).map_err(invalid_posix)?;
    let source =
        if whole { format!("(?s)^(?:{translated})$") } else { format!("(?s){translated}") };
    let invalid = |e: regex::Error| {
        // The crate's message quotes the rewritten pattern; keep only what went wrong.
        let text = e.to_string();
        let reason = text.lines().rev().find_map(|l| l.trim().strip_prefix("error: "));
        let reason = reason.unwrap_or("not a valid pattern");
        bad(builtin, format!("invalid regular expression `{pattern}`: {reason}"))
    };
    let regex = regex::Regex::new(&source).map_err(invalid)?;
    // Only alternatives make C++'s choice differ from the crate's (see the module's note).
    let longest = match whole || !alternative {
        true => None,
        false => regex_automata::meta::Regex::builder()
            .configure(
                regex_automata::meta::Regex::config().match_kind(regex_automata::MatchKind::All),
            )
            .build(&source)
            .ok(),
    };
    let regex = Rc::new(Compiled { regex, longest });
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
/// newline is the `s` flag, set by the caller.) Refuses what C++'s extended syntax (Nix's)
/// refuses and the crate would take: escapes other than of the special characters (`\d`,
/// `\w`, `\n`), groups with flags (`(?i)`, `(?:`), a repetition of an anchor or of nothing
/// (`^*`, `(*`) and class names C++ does not know (`[[:word:]]`).
fn posix_to_regex(pattern: &str) -> Result<(String, bool), String> {
    let mut alternative = false;
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    // Whether the last thing read can be repeated (an atom, a group, a repetition).
    let mut repeatable = false;
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next) if ".[\\*+?{()|^$".contains(next) => {
                    out.push(c);
                    out.push(next);
                }
                Some(next) => {
                    return Err(format!(
                        "`\\{next}` is not an escape of extended POSIX syntax (only a special character can be escaped: `\\.`, `\\*`, `\\[`, …; for a digit write `[0-9]` or `[[:digit:]]`)"
                    ));
                }
                None => return Err("it ends with a lone `\\`".into()),
            }
            repeatable = true;
            continue;
        }
        if c != '[' {
            if c == '?' && !repeatable && out.ends_with('(') {
                return Err("`(?` starts nothing in extended POSIX syntax (there are no flags \
                            and no `(?:` groups: a plain `(…)` groups)"
                    .into());
            }
            if matches!(c, '*' | '+' | '?' | '{') && !repeatable {
                return Err(format!(
                    "`{c}` repeats nothing (it follows the start, `(`, `|`, `^` or `$`)"
                ));
            }
            alternative |= c == '|';
            repeatable = !matches!(c, '(' | '|' | '^' | '$');
            out.push(c);
            // `*?`, `+?`, `??`: POSIX reads a second quantifier, `(a*)?`, which matches what
            // a greedy `a*` matches (`(a+)?` what `a*` does); the crate would make it lazy.
            if matches!(c, '*' | '+' | '?') && chars.peek() == Some(&'?') {
                chars.next();
                if c == '+' {
                    out.pop();
                    out.push('*');
                }
                while chars.peek() == Some(&'?') {
                    chars.next();
                }
            }
            continue;
        }
        // A bracket expression: `]` right after `[` or `[^` is a member, not the end.
        repeatable = true;
        out.push('[');
        if chars.peek() == Some(&'^') {
            out.push('^');
            chars.next();
        }
        let leading = chars.peek() == Some(&']');
        if leading {
            out.push_str("\\]");
            chars.next();
        }
        bracket(&mut chars, &mut out, leading)?;
    }
    Ok((out, alternative))
}

/// The members of a bracket expression, after its `[` (and `^`, and a `]` that is a member),
/// up to its `]`: single characters, ranges (`a-z`, `%--` whose end is `-`), classes
/// (`[:alpha:]`) and collating elements (`[.a.]`, `[=a=]`, `[.space.]`). A range that starts
/// where another ends (`a-c-e`) is refused, as C++ refuses it.
fn bracket(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
    leading: bool,
) -> Result<(), String> {
    // The last member, when it is one character (a range may start there: a leading `]` too,
    // `[]-a]`); whether a `-` was just read as a range's operator; whether a range just ended.
    let mut start = leading;
    let mut operator = false;
    let mut ended = false;
    while let Some(c) = chars.next() {
        let member = match c {
            ']' => {
                out.push(']');
                return Ok(());
            }
            '-' if operator => '-',
            '-' if chars.peek() == Some(&']') || !start && !ended => '-',
            '-' if ended => return Err("a range cannot start where another ends (`a-c-e`)".into()),
            '-' => {
                out.push('-');
                (start, operator) = (false, true);
                continue;
            }
            '[' if chars.peek() == Some(&':') => {
                chars.next();
                let name = delimited(chars, ':')?;
                out.push_str("[:");
                out.push_str(class_name(&name)?);
                out.push_str(":]");
                (start, operator, ended) = (false, false, false);
                continue;
            }
            '[' if matches!(chars.peek(), Some('.' | '=')) => {
                let kind = chars.next().unwrap_or('.');
                collating(&delimited(chars, kind)?)?
            }
            c => c,
        };
        if matches!(member, '\\' | '[' | ']' | '&' | '~' | '-' | '^') {
            out.push('\\');
        }
        out.push(member);
        (start, ended, operator) = (!operator, operator, false);
    }
    Ok(())
}

/// The text of `[:…:]`, `[.….]` or `[=…=]` after its opening, up to `KIND]`.
fn delimited(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    kind: char,
) -> Result<String, String> {
    let mut text = String::new();
    while let Some(c) = chars.next() {
        if c == kind && chars.peek() == Some(&']') {
            chars.next();
            return Ok(text);
        }
        text.push(c);
    }
    Err(format!("a `[{kind}` is not closed by `{kind}]`"))
}

/// The character a collating element names: itself, or its POSIX name (`space`, `hyphen`).
fn collating(name: &str) -> Result<char, String> {
    let mut single = name.chars();
    if let (Some(c), None) = (single.next(), single.next()) {
        return Ok(c);
    }
    const NAMES: [(&str, char); 12] = [
        ("space", ' '),
        ("tab", '\t'),
        ("newline", '\n'),
        ("carriage-return", '\r'),
        ("hyphen", '-'),
        ("hyphen-minus", '-'),
        ("period", '.'),
        ("full-stop", '.'),
        ("slash", '/'),
        ("backslash", '\\'),
        ("underscore", '_'),
        ("low-line", '_'),
    ];
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c).ok_or_else(|| {
        format!("`[.{name}.]` names no character (a collating element is one character or a name such as `space`)")
    })
}

/// The crate's name for a POSIX class as C++ reads it: any case, with `d`, `s` and `w` for
/// `digit`, `space` and word characters.
fn class_name(name: &str) -> Result<&'static str, String> {
    const NAMES: [&str; 12] = [
        "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
        "upper", "xdigit",
    ];
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "d" => Ok("digit"),
        "s" => Ok("space"),
        "w" => Ok("word"),
        other => NAMES.iter().find(|n| **n == other).copied().ok_or_else(|| {
            format!("`[:{name}:]` is not a class (the classes are {}, d, s, w)", NAMES.join(", "))
        }),
    }
}

/// The longest match starting at `start`: its end, and the groups of the match the pattern
/// prefers among those ending there.
fn longest(all: &regex_automata::meta::Regex, text: &str, start: usize) -> Option<(usize, Value)> {
    let input =
        regex_automata::Input::new(text).range(start..).anchored(regex_automata::Anchored::Yes);
    let mut captures = all.create_captures();
    all.search_captures(&input, &mut captures);
    let end = captures.get_match()?.end();
    let groups = (1..captures.group_len()).map(|i| {
        Thunk::value(captures.get_group(i).map_or(Value::Null, |g| Value::string(&text[g.range()])))
    });
    Some((end, Value::list(groups)))
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
    let compiled = compile(m, "match", pattern.as_str(), true)?;
    Ok(match compiled.regex.captures(s.as_str()) {
        Some(captures) => groups(&captures),
        None => Value::Null,
    })
}

/// `split regex s`: the pieces between matches, with each match's groups (a list) between.
pub(super) fn split(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let pattern = builtins::string(m, &args[0])?;
    let s = builtins::string(m, &args[1])?;
    let compiled = compile(m, "split", pattern.as_str(), false)?;
    let text = s.as_str();
    let mut out = Vec::new();
    let (mut last, mut position) = (0, 0);
    // As C++'s regex iterator (which Nix uses): an empty match may directly follow a
    // non-empty one, and after an empty match the search moves on by one character.
    while position <= text.len() {
        let Some(captures) = compiled.regex.captures_at(text, position) else { break };
        let Some(whole) = captures.get(0) else { break };
        let (start, mut end, mut found) = (whole.start(), whole.end(), None);
        if let Some(all) = &compiled.longest
            && let Some((longer, groups)) = longest(all, text, start)
            && longer > end
        {
            (end, found) = (longer, Some(groups));
        }
        out.push(Thunk::value(Value::string(&text[last..start])));
        out.push(Thunk::value(found.unwrap_or_else(|| groups(&captures))));
        last = end;
        position = if start == end {
            match text[end..].chars().next() {
                Some(c) => end + c.len_utf8(),
                None => break,
            }
        } else {
            end
        };
    }
    out.push(Thunk::value(Value::string(&text[last..])));
    Ok(Value::list(out))
}
