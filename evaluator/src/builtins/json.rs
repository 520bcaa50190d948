//! `toJSON` and `fromJSON`, with Nix's number formatting; and the exact JSON infra writes and
//! prints itself (`infra eval --json`, templates): floats as the shortest text that reads back
//! as the same number (`1048576.1`, where Nix's `toJSON` gives `1.04858e+06`).

use alloc_shim::thin::RcStr;
use std::{cell::RefCell, collections::HashSet};

use std::fmt::Write as _;

use crate::{
    builtins::{self, bad},
    error::EvalResult,
    eval::Machine,
    ir::Arena,
    print,
    value::{Attrs, NixString, Thunk, Value},
};

/// `toJSON value`: as Nix 2.8, floats included (`1.04858e+06`: Nix's `%g`); what infra
/// writes itself (tfvars, templates, `eval --json`) has exact floats instead.
pub(crate) fn to_json(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let mut out = String::new();
    let mut strings = Vec::new();
    write_json(m, &value, &mut out, &mut strings, false)?;
    let context = NixString::merge_contexts(strings.iter());
    Ok(Value::String(NixString::new(out.into(), context)))
}

/// A value as exact JSON (floats read back as the same number), with its strings' context.
pub(crate) fn to_exact_json(m: &mut Machine, value: &Value) -> EvalResult<NixString> {
    let mut out = String::new();
    let mut strings = Vec::new();
    write_json(m, value, &mut out, &mut strings, true)?;
    let context = NixString::merge_contexts(strings.iter());
    Ok(NixString::new(out.into(), context))
}

/// The shortest text that reads back as `x` (`1048576.1`, `1.0`, `1e300`); Nix's `%g` text
/// for what JSON cannot hold (infinities, NaN).
pub(crate) fn exact_float(x: f64) -> String {
    match serde_json::Number::from_f64(x) {
        Some(n) => n.to_string(),
        None => print::float(x),
    }
}

/// The whole value as JSON text (for `infra eval --json`).
pub(crate) fn to_json_string(m: &mut Machine, value: &Value) -> EvalResult<String> {
    let mut out = String::new();
    write_json(m, value, &mut out, &mut Vec::new(), true)?;
    Ok(out)
}

fn write_json(
    m: &mut Machine,
    value: &Value,
    out: &mut String,
    strings: &mut Vec<NixString>,
    exact: bool,
) -> EvalResult<()> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(x) if exact => out.push_str(&exact_float(*x)),
        Value::Float(x) => out.push_str(&print::float(*x)),
        Value::String(s) => {
            json_string(out, s.as_str());
            // Only strings with a context matter to the result's context.
            if s.context().is_some() {
                strings.push(s.clone());
            }
        }
        Value::Path(p) => json_string(out, &p.display().to_string()),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let item = m.force(item)?;
                m.nested(None, |m| write_json(m, &item, out, strings, exact))?;
            }
            out.push(']');
        }
        Value::Attrs(attrs) => {
            if let Some(to_string) = attrs.get("__toString").cloned() {
                let _ = to_string;
                let s = m.coerce_to_string(value, false, None)?;
                json_string(out, s.as_str());
                strings.push(s);
                return Ok(());
            }
            if let Some(out_path) = attrs.get("outPath").cloned() {
                let out_path = m.force(&out_path)?;
                return m.nested(None, |m| write_json(m, &out_path, out, strings, exact));
            }
            out.push('{');
            for (i, (name, thunk)) in attrs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, name);
                out.push(':');
                let item = m.force(thunk)?;
                m.nested(None, |m| write_json(m, &item, out, strings, exact))?;
            }
            out.push('}');
        }
        other => {
            let mut error = bad("toJSON", format!("cannot convert {} to JSON", other.describe()));
            // As Nix: a function is placed where it is written.
            if let Value::Lambda(closure) = other {
                error.span = Some(closure.lambda.head(closure.applied));
            }
            return Err(error);
        }
    }
    Ok(())
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    // Runs of characters that need no escape are copied at once.
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `fromJSON text`: as Nix 2.8, except that an integer beyond 64 bits is an error (Nix 2.8
/// wraps `18446744073709551615` around to `-1`).
pub(super) fn from_json(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let text = builtins::string(m, &args[0])?;
    if let Some((_, message)) = big_integer(text.as_str()) {
        return Err(bad("fromJSON", message));
    }
    parse_with(text.as_str(), Some(&m.arena))
        .map_err(|e| bad("fromJSON", format!("invalid JSON: {e}")))
}

/// A JSON text as a value (`fromJSON`, `importJSON`), built as the text is read (a
/// `serde_json::Value` tree first, then values, was a fifth of a round trip through JSON).
/// Integers beyond 64 bits are `big_integer`'s to report first.
pub(crate) fn parse(text: &str) -> Result<Value, serde_json::Error> {
    parse_with(text, None)
}

/// `parse`, sharing the text of keys that the program also writes (`program`): a later
/// `.name` of such a key finds its entry by address.
fn parse_with(text: &str, program: Option<&Arena>) -> Result<Value, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    // Nesting as deep as Nix reads (100,000 levels and more): the reader's own limit of 128
    // is off, and each level of arrays and objects below makes sure there is stack for it.
    reader.disable_recursion_limit();
    let zeros = negative_zeros(text);
    let seen = std::cell::Cell::new(0);
    let keys = Keys::new(program);
    let leaves = Leaves::new();
    let json = Json { zeros: &zeros, seen: &seen, keys: &keys, leaves: &leaves };
    let cell = serde::de::DeserializeSeed::deserialize(json, &mut reader)?;
    reader.end()?;
    // Paired by order: the reader meets the negative zeros the scan found, in the same order.
    debug_assert_eq!(seen.get(), zeros.len());
    // Every cell the reader makes holds its value already.
    Ok(cell.get().unwrap_or(Value::Null))
}

/// Reads a JSON value into a cell holding its value: `-0` is the integer 0 but `-0.0` the
/// float -0, as in Nix (`zeros`: which negative zeros of the text are integers; `seen`: how
/// many the reader has met).
#[derive(Clone, Copy)]
struct Json<'a> {
    zeros: &'a [bool],
    seen: &'a std::cell::Cell<usize>,
    keys: &'a Keys<'a>,
    leaves: &'a Leaves,
}

/// The keys read so far, each text once: an array of 20,000 objects with the same keys holds
/// six names, not 120,000 copies of them (as Nix, whose names are symbols).
struct Keys<'a> {
    program: Option<&'a Arena>,
    /// The last key seen in each of 64 places picked from its length and ends (objects of one
    /// array mostly repeat their keys: a hit is one comparison, no hashing).
    recent: RefCell<[Option<RcStr>; 64]>,
    seen: RefCell<HashSet<RcStr>>,
}

impl Keys<'_> {
    fn new(program: Option<&Arena>) -> Keys<'_> {
        Keys {
            program,
            recent: RefCell::new(std::array::from_fn(|_| None)),
            seen: RefCell::default(),
        }
    }

    fn get(&self, text: &str) -> RcStr {
        let place = text_place(text);
        let mut recent = self.recent.borrow_mut();
        if let Some(name) = &recent[place]
            && **name == *text
        {
            return name.clone();
        }
        let name = self.program.and_then(|arena| arena.known_name(text)).unwrap_or_else(|| {
            let mut seen = self.seen.borrow_mut();
            if let Some(name) = seen.get(text) {
                return name.clone();
            }
            let name: RcStr = text.into();
            seen.insert(name.clone());
            name
        });
        recent[place] = Some(name.clone());
        name
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Json<'_> {
    type Value = Thunk;
    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<Thunk, D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Json<'_> {
    type Value = Thunk;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Thunk, E> {
        Ok(self.leaves.null())
    }

    fn visit_bool<E>(self, b: bool) -> Result<Thunk, E> {
        Ok(self.leaves.bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Thunk, E> {
        Ok(self.leaves.int(i))
    }

    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Thunk, E> {
        i64::try_from(u)
            .map(|i| self.leaves.int(i))
            .map_err(|_| E::custom(format!("{u} is larger than the largest integer, {}", i64::MAX)))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Thunk, E> {
        if x == 0.0 && x.is_sign_negative() {
            let at = self.seen.get();
            self.seen.set(at + 1);
            if self.zeros.get(at).copied().unwrap_or(true) {
                return Ok(self.leaves.int(0));
            }
        }
        Ok(self.leaves.float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Thunk, E> {
        Ok(self.leaves.string(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Thunk, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = with_stack(|| seq.next_element_seed(self))? {
            items.push(item);
        }
        Ok(Thunk::value(Value::list(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Thunk, A::Error> {
        let mut entries: Vec<(RcStr, Thunk)> = Vec::new();
        while let Some(key) = map.next_key_seed(Key(self.keys))? {
            let value = with_stack(|| map.next_value_seed(self))?;
            entries.push((key, value));
        }
        // A later entry for a name wins, as in the parsed object.
        Ok(Thunk::value(Value::attrs(Attrs::from_entries(entries))))
    }
}

/// The cells of scalars read so far: the objects of an array mostly repeat their flags,
/// their enumerations and their small numbers, and each repeat shares the one cell rather
/// than making its own (a computed value never changes; only the identity of a list or a set
/// can show, in printing, and those are never shared).
struct Leaves {
    /// `null`, `false` and `true`, each made at its first use.
    constants: [std::cell::OnceCell<Thunk>; 3],
    /// The last scalar seen in each of 64 places picked from its value (as `Keys::recent`).
    recent: RefCell<[Option<Thunk>; 64]>,
}

/// Strings longer than this are not looked for among the recent ones: they seldom repeat.
const SHORT: usize = 32;

/// The place of a text among 64 recent ones (`Keys::recent`, `Leaves::recent`), from its
/// length and ends: no hashing of the whole text.
fn text_place(text: &str) -> usize {
    match text.as_bytes() {
        [] => 0,
        [first, .., last] | [first @ last] => {
            (text.len() * 31 + usize::from(*first) + usize::from(*last) * 7) % 64
        }
    }
}

/// The place of a number among `Leaves::recent`, from its bits.
fn place(bits: u64) -> usize {
    (bits ^ (bits >> 6) ^ (bits >> 17)) as usize % 64
}

impl Leaves {
    fn new() -> Leaves {
        Leaves {
            constants: Default::default(),
            recent: RefCell::new(std::array::from_fn(|_| None)),
        }
    }

    fn null(&self) -> Thunk {
        self.constants[0].get_or_init(|| Thunk::value(Value::Null)).clone()
    }

    fn bool(&self, b: bool) -> Thunk {
        self.constants[1 + usize::from(b)].get_or_init(|| Thunk::value(Value::Bool(b))).clone()
    }

    fn int(&self, i: i64) -> Thunk {
        let same = |held: &Value| matches!(held, Value::Int(j) if *j == i);
        self.find_or_make(place(i as u64), same, || Value::Int(i))
    }

    /// A float's cell, matched by its bits (`0.0` and `-0.0` are different values).
    fn float(&self, x: f64) -> Thunk {
        let same = |held: &Value| matches!(held, Value::Float(y) if y.to_bits() == x.to_bits());
        self.find_or_make(place(x.to_bits().rotate_left(29)), same, || Value::Float(x))
    }

    /// A string's cell.
    fn string(&self, text: &str) -> Thunk {
        if text.len() > SHORT {
            return Thunk::value(Value::string(text));
        }
        let place = text_place(text);
        let same = |held: &Value| matches!(held, Value::String(s) if s.as_str() == text);
        self.find_or_make(place, same, || Value::string(text))
    }

    /// The recent cell at `place` if it holds the value wanted (`same`), else a new cell of
    /// `make`'s value, kept there.
    fn find_or_make(
        &self,
        place: usize,
        same: impl Fn(&Value) -> bool,
        make: impl FnOnce() -> Value,
    ) -> Thunk {
        let mut recent = self.recent.borrow_mut();
        if let Some(cell) = &recent[place]
            && cell.inspect(same) == Some(true)
        {
            return cell.clone();
        }
        let cell = Thunk::value(make());
        recent[place] = Some(cell.clone());
        cell
    }
}

/// Runs one level of reading deeper, on a grown stack when little is left.
fn with_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(crate::eval::RED_ZONE, crate::eval::STACK_SEGMENT, f)
}

/// An object's key, read straight into a name (no `String` in between).
struct Key<'a>(&'a Keys<'a>);

impl<'de> serde::de::DeserializeSeed<'de> for Key<'_> {
    type Value = RcStr;
    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<RcStr, D::Error> {
        reader.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for Key<'_> {
    type Value = RcStr;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E>(self, s: &str) -> Result<RcStr, E> {
        Ok(self.0.get(s))
    }
}

/// The first integer literal of a JSON text (outside strings) that does not fit in 64 bits,
/// with where it is: parsed without arbitrary precision it would silently become a float.
pub(crate) fn big_integer(text: &str) -> Option<(std::ops::Range<usize>, String)> {
    // Such a literal has 19 digits at least: most texts have no run that long.
    let mut run = 0;
    if !text.bytes().any(|b| {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        run >= 19
    }) {
        return None;
    }
    number_literals(text).find_map(|(at, literal)| {
        let digits = literal.strip_prefix('-').unwrap_or(literal);
        let integral = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        (integral && literal.parse::<i64>().is_err() && literal.len() > 1).then(|| {
            let message =
                format!("{literal} does not fit in a 64-bit integer (largest: {})", i64::MAX);
            (at, message)
        })
    })
}

/// For each number literal of a JSON text that reads as negative zero, in order: whether it
/// is an integer (`-0`, the integer 0 in Nix) rather than a float (`-0.0`, the float -0).
/// The JSON reader gives the float -0.0 for both.
fn negative_zeros(text: &str) -> Vec<bool> {
    if !text.contains("-0") {
        return Vec::new();
    }
    number_literals(text)
        .filter(|(_, literal)| {
            literal.starts_with('-')
                && literal.parse::<f64>().is_ok_and(|x| x == 0.0 && x.is_sign_negative())
        })
        .map(|(_, literal)| literal[1..].bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// The number literals of a JSON text (outside strings), with where each is.
fn number_literals(text: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    let bytes = text.as_bytes();
    let (mut i, mut in_string) = (0, false);
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let b = bytes[i];
            if in_string {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
                i += 1;
                continue;
            }
            if b == b'"' {
                in_string = true;
                i += 1;
                continue;
            }
            if b == b'-' || b.is_ascii_digit() {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                return Some((start..i, &text[start..i]));
            }
            i += 1;
        }
        None
    })
}

/// A parsed JSON value as a value (policy input); an integer beyond 64 bits is an error (never a
/// different number). A negative zero is the integer 0 here: a parsed `serde_json::Value` no
/// longer says whether it was written `-0` or `-0.0` (`parse` does, for the language).
pub(crate) fn from_serde(json: &serde_json::Value) -> Result<Value, String> {
    Ok(match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        // `-0` is the integer 0, as in Nix.
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            // Nix 2.8 wraps this around to a negative number; infra never changes a value.
            (None, Some(u)) => {
                return Err(format!("{u} is larger than the largest integer, {}", i64::MAX));
            }
            _ => match n.as_f64() {
                Some(x) if x == 0.0 && x.is_sign_negative() => Value::Int(0),
                Some(x) => Value::Float(x),
                None => Value::Float(f64::NAN),
            },
        },
        serde_json::Value::String(s) => Value::string(s),
        serde_json::Value::Array(items) => Value::list(
            items.iter().map(|i| from_serde(i).map(Thunk::value)).collect::<Result<Vec<_>, _>>()?,
        ),
        serde_json::Value::Object(map) => {
            let entries: Vec<(RcStr, Thunk)> = map
                .iter()
                .map(|(k, v)| Ok((k.as_str().into(), Thunk::value(from_serde(v)?))))
                .collect::<Result<_, String>>()?;
            Value::attrs(Attrs::from_entries(entries))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Repeated scalars share one cell; equal values of different types, lists and sets do
    /// not.
    #[test]
    fn repeated_scalars_share_cells() {
        let text = r#"[true, true, "ab", "ab", 7, 7, 7.0, null, null, [1], [1], 2.5, 2.5]"#;
        let Ok(Value::List(items)) = parse(text) else { panic!("not a list") };
        let shared = |a: usize, b: usize| items[a].same_cell(&items[b]);
        assert!(shared(0, 1) && shared(2, 3) && shared(4, 5) && shared(7, 8) && shared(11, 12));
        assert!(!shared(5, 6), "the integer 7 and the float 7.0 are different values");
        assert!(!shared(9, 10), "a list is never shared: its identity shows in printing");
    }
}
