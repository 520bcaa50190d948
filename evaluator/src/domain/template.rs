//! `infra.template PATH VARS`: Kompos-style templates. Every `{{a.b}}` in the file is replaced
//! by `VARS.a.b`; a key the variables lack is an error that points at the line of the template
//! (the template becomes a source of the diagnostic) and lists what the variables do have.
//! Text that is not a `{{key}}` (`{{ }}`, `{{#x}}`) is left as it is.

use std::path::PathBuf;

use lang::{Span, TextRange, TextSize};

use crate::{
    builtins::{self, bad},
    error::{ErrorKind, EvalError, EvalResult, io_error},
    eval::Machine,
    io::Input,
    suggest::did_you_mean,
    value::{NixString, Thunk, Value},
};

/// `infra.template PATH VARS`: the file with every `{{a.b}}` replaced by `VARS.a.b`.
pub(super) fn template(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let path = match m.force(&args[0])? {
        Value::Path(p) => (*p).clone(),
        Value::String(s) if s.as_str().starts_with('/') => PathBuf::from(s.as_str()),
        other => {
            return Err(bad(
                "infra.template",
                format!("expected the template's path, got {}", other.describe()),
            ));
        }
    };
    let vars = m.force(&args[1])?;
    m.record(Input::File(path.clone()));
    let bytes = m.io.read_file(&path).map_err(|e| io_error(&path, e, m.call_site))?;
    let text =
        String::from_utf8(bytes).map_err(|_| io_error(&path, "not valid UTF-8", m.call_site))?;
    let mut out = String::with_capacity(text.len());
    let mut strings: Vec<NixString> = Vec::new();
    let mut rest = 0;
    let mut file = None;
    while let Some(open) = text[rest..].find("{{").map(|i| rest + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else { break };
        let key = text[open + 2..close].trim();
        if !is_key(key) {
            out.push_str(&text[rest..open + 2]);
            rest = open + 2;
            continue;
        }
        out.push_str(&text[rest..open]);
        match lookup(m, &vars, key)? {
            Ok(value) => {
                let s = render(m, &value, key)?;
                out.push_str(s.as_str());
                strings.push(s);
            }
            Err((missing, help)) => {
                let file = *file.get_or_insert_with(|| {
                    m.sources_mut().add(path.display().to_string(), text.clone())
                });
                let range =
                    TextRange::new(TextSize::from(open as u32), TextSize::from((close + 2) as u32));
                let mut error = EvalError::new(
                    ErrorKind::TemplateMissingKey { key: key.to_owned() },
                    Some(Span { file, range }),
                );
                let _ = missing;
                if let Some(site) = m.call_site {
                    error.trace.push((site, "while rendering this template".to_owned()));
                }
                error.help = Some(help);
                return Err(error);
            }
        }
        rest = close + 2;
    }
    out.push_str(&text[rest..]);
    let context = NixString::merge_contexts(strings.iter());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = name.strip_suffix(".versioned").unwrap_or(&name).to_owned();
    Ok(super::tagged(
        "infra.file",
        vec![
            ("name", Thunk::value(Value::string(&name))),
            ("text", Thunk::value(Value::String(NixString::new(out.into(), context)))),
            // Where the text came from, so Terraform's errors in it can point at the template.
            ("template", Thunk::value(Value::Path(std::rc::Rc::new(path.clone())))),
        ],
    ))
}

/// `a.b_c.d-e`: dot-separated names.
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// The value at `key`, or the missing name and a help line.
fn lookup(m: &mut Machine, vars: &Value, key: &str) -> EvalResult<Result<Value, (String, String)>> {
    let mut value = vars.clone();
    let mut path = String::new();
    for part in key.split('.') {
        let Value::Attrs(attrs) = &value else {
            let at = if path.is_empty() { "the variables".to_owned() } else { format!("`{path}`") };
            return Ok(Err((part.to_owned(), format!("{at} is {}, not a set", value.describe()))));
        };
        let Some(thunk) = attrs.get(part).cloned() else {
            let at = if path.is_empty() { "the variables".to_owned() } else { format!("`{path}`") };
            let has = if path.is_empty() { "have" } else { "has" };
            let help = match did_you_mean(part, attrs.names()) {
                Some(similar) => format!("did you mean `{}`?", join(&path, &similar)),
                None if attrs.is_empty() => format!("{at} is an empty set"),
                None => {
                    let names: Vec<String> =
                        attrs.names().take(10).map(|n| format!("`{n}`")).collect();
                    format!("{at} {has} {}", names.join(", "))
                }
            };
            return Ok(Err((part.to_owned(), help)));
        };
        value = m.force(&thunk)?;
        path = join(&path, part);
    }
    Ok(Ok(value))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// The text for a value: strings as they are (with their context), numbers and Booleans as
/// Terraform writes them, lists and sets as JSON (which HCL reads).
fn render(m: &mut Machine, value: &Value, key: &str) -> EvalResult<NixString> {
    match value {
        Value::String(s) => {
            crate::error::reject_secret(s, "writing it into a template")?;
            Ok(s.clone())
        }
        Value::Int(i) => Ok(NixString::from(i.to_string())),
        Value::Float(x) => Ok(NixString::from(builtins::json::exact_float(*x))),
        Value::Bool(b) => Ok(NixString::from(if *b { "true" } else { "false" })),
        Value::Path(p) => Err(bad(
            "infra.template",
            format!(
                "`{key}` is the path `{}`, which would make the file differ between machines",
                p.display()
            ),
        )),
        Value::List(_) | Value::Attrs(_) => builtins::json::to_exact_json(m, value),
        other => Err(bad(
            "infra.template",
            format!("`{key}` is {}, which cannot be written into a template", other.describe()),
        )),
    }
}
