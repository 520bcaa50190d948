//! YAML to values, from the parser's events (yaml-rust2), so that every node keeps where it
//! is written: one document; anchors and aliases; merge keys (`<<: *a`, `<<: [ *a *b ]`: the
//! map's own keys win, then the earlier merged map, as PyYAML and yaml-cpp read them); the
//! core schema's tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`).
//! Anything else — several documents, another tag (`!custom`, `!!binary`), an integer beyond
//! 64 bits, a key that is not a scalar — is an error with its line and column.

use alloc_shim::thin::RcStr;
use std::{collections::HashMap, rc::Rc};

use yaml_rust2::{
    Event, Yaml,
    parser::{MarkedEventReceiver, Parser, Tag},
    scanner::{Marker, TScalarStyle},
};

use crate::value::{Attrs, Thunk, Value};

/// An error and where it is: line and column, both from 1. (The marker's line is exact; its
/// character index is not, after a block scalar with non-ASCII text.)
pub(crate) type YamlError = (String, Option<(usize, usize)>);

fn place(mark: &Marker) -> Option<(usize, usize)> {
    Some((mark.line(), mark.col() + 1))
}

/// The one document of `text` (`null` when there is none).
pub(crate) fn load(text: &str) -> Result<Value, YamlError> {
    let mut loader = Loader::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut loader, true)
        .map_err(|e| (format!("invalid YAML: {}", e.info()), place(e.marker())))?;
    if let Some(error) = loader.error {
        return Err(error);
    }
    if loader.documents.len() > 1 {
        let at = loader.second_document.as_ref().and_then(place);
        let message = format!(
            "the text holds {} YAML documents (separated by `---`); infra reads one",
            loader.documents.len()
        );
        return Err((message, at));
    }
    Ok(loader.documents.pop().unwrap_or(Value::Null))
}

enum Frame {
    Seq { items: Vec<Thunk>, anchor: usize },
    Map { entries: Vec<(RcStr, Thunk)>, merged: Vec<Rc<Attrs>>, key: Key, anchor: usize },
}

/// What a mapping expects next.
enum Key {
    /// A key.
    Wanted,
    /// The value of this key.
    Of(RcStr),
    /// The value of a merge key (`<<`).
    Merge,
}

#[derive(Default)]
struct Loader {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    documents: Vec<Value>,
    second_document: Option<Marker>,
    error: Option<YamlError>,
}

impl MarkedEventReceiver for Loader {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        if let Err(message) = self.event(event, mark) {
            self.error = Some((message, place(&mark)));
        }
    }
}

impl Loader {
    fn event(&mut self, event: Event, mark: Marker) -> Result<(), String> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain;
                let value = scalar(&text, plain, tag.as_ref())?;
                // Only a plain, untagged `<<` is a merge key (`!!str <<` is a key named `<<`).
                self.insert(value, Some(text), plain && tag.is_none(), anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                collection_tag(tag.as_ref(), "seq")?;
                self.stack.push(Frame::Seq { items: Vec::new(), anchor });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                collection_tag(tag.as_ref(), "map")?;
                let frame = Frame::Map {
                    entries: Vec::new(),
                    merged: Vec::new(),
                    key: Key::Wanted,
                    anchor,
                };
                self.stack.push(frame);
                Ok(())
            }
            Event::SequenceEnd => match self.stack.pop() {
                Some(Frame::Seq { items, anchor }) => {
                    self.insert(Value::list(items), None, false, anchor)
                }
                _ => Err("a sequence ends that did not start".into()),
            },
            Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Map { entries, merged, anchor, .. }) => {
                    // Merged maps first, the last one first, so that the earlier wins; the
                    // map's own keys last, so that they win.
                    let mut all: Vec<(RcStr, Thunk)> = Vec::new();
                    for attrs in merged.iter().rev() {
                        all.extend(attrs.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    all.extend(entries);
                    self.insert(Value::attrs(Attrs::from_entries(all)), None, false, anchor)
                }
                _ => Err("a mapping ends that did not start".into()),
            },
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(value) => self.insert(value, None, false, 0),
                None => Err("an alias to an anchor that is not defined before it".into()),
            },
            Event::DocumentStart if self.documents.len() == 1 && self.second_document.is_none() => {
                self.second_document = Some(mark);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Places a finished node: in the collection being read, or as a document.
    fn insert(
        &mut self,
        value: Value,
        text: Option<String>,
        plain: bool,
        anchor: usize,
    ) -> Result<(), String> {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(value),
            Some(Frame::Seq { items, .. }) => items.push(Thunk::value(value)),
            Some(Frame::Map { entries, merged, key, .. }) => {
                match std::mem::replace(key, Key::Wanted) {
                    Key::Wanted => {
                        let name = match (&value, text) {
                            (Value::String(s), _) if plain && s.as_str() == "<<" => {
                                *key = Key::Merge;
                                return Ok(());
                            }
                            (Value::String(s), _) => s.as_str().to_owned(),
                            (
                                Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null,
                                Some(t),
                            ) => t,
                            _ => return Err("a mapping key must be a scalar".into()),
                        };
                        *key = Key::Of(name.into());
                    }
                    Key::Of(name) => entries.push((name, Thunk::value(value))),
                    Key::Merge => match value {
                        Value::Attrs(attrs) => merged.push(attrs),
                        Value::List(items) => {
                            for item in items.iter() {
                                match item.get() {
                                    Some(Value::Attrs(attrs)) => merged.push(attrs),
                                    _ => return Err(MERGE_ERROR.into()),
                                }
                            }
                        }
                        _ => return Err(MERGE_ERROR.into()),
                    },
                }
            }
        }
        Ok(())
    }
}

const MERGE_ERROR: &str = "a merge key (`<<`) must name a mapping or a list of mappings";

/// A scalar's value: quoted → a string; tagged → as the tag says; plain → the core schema.
fn scalar(text: &str, plain: bool, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
        return match (core, tag.suffix.as_str()) {
            (true, "str") => Ok(Value::string(text)),
            (true, "int") => text
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| format!("`{text}` is not an integer that fits in 64 bits (!!int)")),
            (true, "float") => text
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| format!("`{text}` is not a number (!!float)")),
            (true, "bool") => match text {
                "true" | "True" | "TRUE" => Ok(Value::Bool(true)),
                "false" | "False" | "FALSE" => Ok(Value::Bool(false)),
                _ => Err(format!("`{text}` is not a Boolean (!!bool)")),
            },
            (true, "null") => Ok(Value::Null),
            _ => Err(unsupported(tag)),
        };
    }
    if !plain {
        return Ok(Value::string(text));
    }
    Ok(match Yaml::from_str(text) {
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(real)
            if real.trim_start_matches(['-', '+']).bytes().all(|b| b.is_ascii_digit()) =>
        {
            return Err(format!("{real} does not fit in a 64-bit integer (largest: {})", i64::MAX));
        }
        Yaml::Real(real) => match real.parse::<f64>() {
            Ok(x) => Value::Float(x),
            Err(_) => match real.to_ascii_lowercase().trim_start_matches('+') {
                ".inf" => Value::Float(f64::INFINITY),
                "-.inf" => Value::Float(f64::NEG_INFINITY),
                _ => Value::Float(f64::NAN),
            },
        },
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Null => Value::Null,
        _ if is_radix_integer(text) => {
            return Err(format!("{text} does not fit in a 64-bit integer (largest: {})", i64::MAX));
        }
        _ => Value::string(text),
    })
}

/// `0x…` or `0o…` with only digits of its base: an integer of the core schema (one the parser
/// left a string is too large for 64 bits).
fn is_radix_integer(text: &str) -> bool {
    let digits = |rest: Option<&str>, ok: fn(char) -> bool| {
        rest.is_some_and(|r| !r.is_empty() && r.chars().all(ok))
    };
    digits(text.strip_prefix("0x"), |c| c.is_ascii_hexdigit())
        || digits(text.strip_prefix("0o"), |c| ('0'..='7').contains(&c))
}

fn collection_tag(tag: Option<&Tag>, expected: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(tag)
            if (tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!")
                && tag.suffix == expected =>
        {
            Ok(())
        }
        Some(tag) => Err(unsupported(tag)),
    }
}

fn unsupported(tag: &Tag) -> String {
    let shown = if tag.handle == "tag:yaml.org,2002:" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    };
    format!(
        "the tag `{shown}` is not supported: infra reads plain YAML data (strings, numbers, \
         Booleans, null, lists, maps; !!str, !!int, !!float, !!bool, !!null)"
    )
}
