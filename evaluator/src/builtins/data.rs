//! `importYAML`, `importJSON`, `importTOML` (infra's): read a data file and parse it, with
//! every error placed in that file — its name, line and column, and its text shown — rather
//! than at the call. `lib.loadHierarchy` reads configuration layers with them. The values
//! are those of `fromYAML`, `fromJSON` and `fromTOML` of the file's text.

use std::ops::Range;

use lang::Span;

use crate::{
    builtins::{formats, json, paths::path_arg},
    error::{ErrorKind, EvalError, EvalResult, io_error},
    eval::Machine,
    io::Input,
    value::{Thunk, Value},
};

#[derive(Clone, Copy)]
enum Format {
    Yaml,
    Json,
    Toml,
}

/// `importYAML path`: the file as `fromYAML` reads text, every error placed in the file.
pub(super) fn import_yaml(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    import(m, args, Format::Yaml)
}

/// `importJSON path`: the file as `fromJSON` reads text, every error placed in the file.
pub(super) fn import_json(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    import(m, args, Format::Json)
}

/// `importTOML path`: the file as `fromTOML` reads text, every error placed in the file.
pub(super) fn import_toml(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    import(m, args, Format::Toml)
}

fn import(m: &mut Machine, args: &[Thunk], format: Format) -> EvalResult<Value> {
    let path = path_arg(m, &args[0])?;
    m.record(Input::File(path.clone()));
    let bytes = m.io.read_file(&path).map_err(|e| io_error(&path, e, None))?;
    let text = String::from_utf8(bytes).map_err(|_| io_error(&path, "not valid UTF-8", None))?;
    let (builtin, result) = match format {
        Format::Yaml => ("importYAML", yaml(&text)),
        Format::Json => ("importJSON", json(&text)),
        Format::Toml => ("importTOML", toml(&text)),
    };
    result.map_err(|(message, at)| {
        let file = m.sources_mut().add(path.display().to_string(), text.clone());
        let span = at.map(|range| Span {
            file,
            range: lang::TextRange::new((range.start as u32).into(), (range.end as u32).into()),
        });
        EvalError::new(ErrorKind::BadArgument { builtin, message }, span)
    })
}

type Failure = (String, Option<Range<usize>>);

fn yaml(text: &str) -> Result<Value, Failure> {
    super::yaml::load(text).map_err(|(message, at)| {
        let at = at.map(|(line, column)| {
            let at = offset_of(text, line, column, true);
            at..(at + 1).min(text.len())
        });
        (message, at)
    })
}

fn json(text: &str) -> Result<Value, Failure> {
    if let Some((at, message)) = json::big_integer(text) {
        return Err((message, Some(at)));
    }
    json::parse(text).map_err(|e| {
        let at = offset_of(text, e.line(), e.column(), false);
        (format!("invalid JSON: {e}"), Some(at..(at + 1).min(text.len())))
    })
}

fn toml(text: &str) -> Result<Value, Failure> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| (format!("invalid TOML: {}", e.message()), e.span()))?;
    formats::toml_table(table).map_err(|message| (message, None))
}

/// The byte offset of a 1-based line and column, the column counted in characters (YAML's)
/// or in bytes (serde_json's), kept on a character boundary.
fn offset_of(text: &str, line: usize, column: usize, in_chars: bool) -> usize {
    let start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let start = start.min(text.len());
    let rest = &text[start..];
    let mut at = if in_chars {
        start + rest.char_indices().nth(column.saturating_sub(1)).map_or(rest.len(), |(i, _)| i)
    } else {
        (start + column.saturating_sub(1)).min(text.len())
    };
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
