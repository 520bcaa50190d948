//! `fromTOML` and `fromYAML`: configuration formats to values.

use std::rc::Rc;

use yaml_rust2::{Yaml, YamlLoader};

use crate::{
    builtins::{self, bad},
    error::EvalResult,
    eval::Machine,
    value::{Attrs, Thunk, Value},
};

/// `fromTOML text`: as Nix 2.8 (dates and times are an error).
pub(super) fn from_toml(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let text = builtins::string(m, &args[0])?;
    let table: toml::Table =
        toml::from_str(text.as_str()).map_err(|e| bad("fromTOML", format!("invalid TOML: {e}")))?;
    toml_table(table).map_err(|e| bad("fromTOML", e))
}

/// A parsed TOML document as a value.
pub(super) fn toml_table(table: toml::Table) -> Result<Value, String> {
    from_toml_value(&toml::Value::Table(table))
}

/// A TOML value; dates and times are an error, as in Nix (it has no value for them).
fn from_toml_value(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::string(s),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(x) => Value::Float(*x),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => {
            return Err(format!(
                "dates and times are not supported (`{d}`): quote it to read it as a string"
            ));
        }
        toml::Value::Array(items) => Value::list(
            items.iter().map(|i| from_toml_value(i).map(Thunk::value)).collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => {
            let entries: Vec<(Rc<str>, Thunk)> = table
                .iter()
                .map(|(k, v)| Ok((k.as_str().into(), Thunk::value(from_toml_value(v)?))))
                .collect::<Result<_, String>>()?;
            Value::attrs(Attrs::from_entries(entries))
        }
    })
}

/// `fromYAML text`: one YAML document (an empty text is `null`; several documents are an
/// error), with anchors, aliases and merge keys (`<<: *a`, `<<: [ *a *b ]`; the map's own
/// keys win, then the earlier merged map); an integer beyond 64 bits is an error.
pub(super) fn from_yaml(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let text = builtins::string(m, &args[0])?;
    yaml_text(text.as_str()).map_err(|e| bad("fromYAML", e))
}

/// A YAML text as a value (`null` when empty); the error's message otherwise.
pub(super) fn yaml_text(text: &str) -> Result<Value, String> {
    let documents = YamlLoader::load_from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    if documents.len() > 1 {
        return Err(format!(
            "the text holds {} YAML documents (separated by `---`); infra reads one",
            documents.len()
        ));
    }
    match documents.first() {
        Some(document) => from_yaml_value(document).map_err(|e| match e.kind {
            crate::error::ErrorKind::BadArgument { message, .. } => message,
            other => other.to_string(),
        }),
        None => Ok(Value::Null),
    }
}

fn from_yaml_value(yaml: &Yaml) -> EvalResult<Value> {
    Ok(match yaml {
        // An integer too large for 64 bits arrives as a real: an error, never another number.
        Yaml::Real(text)
            if text.trim_start_matches(['-', '+']).bytes().all(|b| b.is_ascii_digit()) =>
        {
            return Err(bad(
                "fromYAML",
                format!("{text} does not fit in a 64-bit integer (largest: {})", i64::MAX),
            ));
        }
        Yaml::Real(text) => Value::Float(
            text.parse().map_err(|_| bad("fromYAML", format!("invalid number `{text}`")))?,
        ),
        Yaml::Integer(i) => Value::Int(*i),
        Yaml::String(s) => Value::string(s),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Null => Value::Null,
        Yaml::Array(items) => {
            let items: EvalResult<Vec<Thunk>> =
                items.iter().map(|i| from_yaml_value(i).map(Thunk::value)).collect();
            Value::list(items?)
        }
        Yaml::Hash(map) => {
            // Merge keys (`<<: *defaults`, `<<: [ *a, *b ]`): the merged maps' entries come
            // first, so that the map's own keys win, and of a list the earlier map wins.
            let mut entries: Vec<(Rc<str>, Thunk)> = Vec::with_capacity(map.len());
            for (key, value) in map {
                if key.as_str() != Some("<<") {
                    continue;
                }
                let merged: Vec<&Yaml> = match value {
                    Yaml::Array(items) => items.iter().rev().collect(),
                    other => vec![other],
                };
                for source in merged {
                    let Value::Attrs(attrs) = from_yaml_value(source)? else {
                        return Err(bad(
                            "fromYAML",
                            "a merge key (`<<`) must name a mapping or a list of mappings".into(),
                        ));
                    };
                    entries.extend(attrs.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            for (key, value) in map {
                if key.as_str() == Some("<<") {
                    continue;
                }
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    other => return Err(bad("fromYAML", format!("unsupported key {other:?}"))),
                };
                entries.push((key.into(), Thunk::value(from_yaml_value(value)?)));
            }
            Value::attrs(Attrs::from_entries(entries))
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(bad("fromYAML", "unsupported YAML value (alias or bad value)".into()));
        }
        #[allow(unreachable_patterns)]
        _ => return Err(bad("fromYAML", "unsupported YAML value".into())),
    })
}
