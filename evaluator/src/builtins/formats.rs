//! `fromTOML` and `fromYAML`: configuration formats to values.

use alloc_shim::thin::RcStr;

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
            items
                .iter()
                .map(|i| from_toml_value(i).map(Thunk::value))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        toml::Value::Table(table) => {
            let entries: Vec<(RcStr, Thunk)> = table
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

/// A YAML text as a value (`null` when empty); the error's message (with its line and
/// column) otherwise.
pub(super) fn yaml_text(text: &str) -> Result<Value, String> {
    super::yaml::load(text).map_err(|(message, at)| match at {
        Some((line, column)) => format!("{message} (line {line}, column {column})"),
        None => message,
    })
}
