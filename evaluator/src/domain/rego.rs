//! `__infraRego PATH QUERY INPUT` (`infra.lib.policy.rego PATH QUERY` wraps it): an OPA policy
//! evaluated in process by regorus over the same input as a policy written in the language.
//! The rule's value becomes verdicts: each string of it a verdict with that message, each
//! object one with its `msg` (or `message`) and optional `address`. The kind is the rule's
//! name when it is `deny`, `warn` or `wait` (`data.infra.deny`), else `deny`. An undefined
//! rule is no verdict.

use crate::{
    builtins::{self, bad},
    error::{EvalResult, io_error},
    eval::Machine,
    io::Input,
    value::{Attrs, Thunk, Value},
};

const NAME: &str = "rego";

/// `lib.policy.rego PATH QUERY`: an OPA policy evaluated in process (regorus).
pub(super) fn rego(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let path = builtins::paths::path_arg(m, &args[0])?;
    let query = builtins::string(m, &args[1])?.as_str().to_owned();
    let input = m.force(&args[2])?;
    let input = builtins::json::to_json_string(m, &input)?;
    m.record(Input::File(path.clone()));
    let bytes = m.io.read_file(&path).map_err(|e| io_error(&path, e, None))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| bad(NAME, format!("`{}` is not UTF-8", path.display())))?;
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        bad(NAME, format!("{what} `{}`: {e}", path.display()))
    };
    let mut engine = regorus::Engine::new();
    engine.add_policy(path.display().to_string(), text).map_err(|e| fail("cannot load", &e))?;
    engine.set_input_json(&input).map_err(|e| fail("cannot give the input to", &e))?;
    let value = engine
        .eval_rule(query.clone())
        .map_err(|e| fail(&format!("cannot evaluate `{query}` of"), &e))?;
    if value == regorus::Value::Undefined {
        return Ok(Value::list(Vec::new()));
    }
    let json = value.to_json_str().map_err(|e| fail("cannot read the result of", &e))?;
    let json: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| fail("cannot read the result of", &e))?;
    let last = query.rsplit('.').next().unwrap_or_default();
    let kind = if ["deny", "warn", "wait"].contains(&last) { last } else { "deny" };
    let items = match json {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    let mut verdicts = Vec::with_capacity(items.len());
    for item in items {
        let (message, address) = match &item {
            serde_json::Value::String(s) => (s.clone(), None),
            serde_json::Value::Object(o) => {
                let message = o.get("msg").or_else(|| o.get("message")).and_then(|m| m.as_str());
                let Some(message) = message else {
                    return Err(bad(
                        NAME,
                        format!("`{query}` holds an object without `msg`: {item}"),
                    ));
                };
                (message.to_owned(), o.get("address").and_then(|a| a.as_str()).map(str::to_owned))
            }
            // `deny = true`-style rules: a verdict without a message of its own.
            serde_json::Value::Bool(true) => (format!("`{query}` is true"), None),
            serde_json::Value::Bool(false) | serde_json::Value::Null => continue,
            other => return Err(bad(NAME, format!("`{query}` holds {other}, not messages"))),
        };
        let mut entries = vec![(kind.into(), Thunk::value(Value::string(&message)))];
        if let Some(address) = address {
            entries.push(("address".into(), Thunk::value(Value::string(&address))));
        }
        verdicts.push(Thunk::value(Value::attrs(Attrs::from_entries(entries))));
    }
    Ok(Value::list(verdicts))
}
