//! Output placeholders → values. A string that is exactly one placeholder becomes the
//! output's value (a list stays a list); a placeholder inside a longer string is replaced by
//! the value's text (strings as they are, anything else as JSON).

use std::collections::{BTreeMap, BTreeSet};

use evaluator::{Component, Json, OutputRef, placeholder_text};

/// The inputs of `component` that read upstream outputs, resolved with `values`; the outputs
/// still missing are returned instead, if any.
pub fn resolve_inputs(
    component: &Component,
    values: &BTreeMap<OutputRef, Json>,
) -> Result<BTreeMap<String, Json>, BTreeSet<OutputRef>> {
    let missing: BTreeSet<OutputRef> =
        component.reads.iter().filter(|r| !values.contains_key(r)).cloned().collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let mut out = BTreeMap::new();
    for (key, value) in &component.inputs {
        if has_placeholder(value, &component.reads) || holds_secret(component, value) {
            out.insert(key.clone(), substitute(value, values));
        }
    }
    Ok(out)
}

/// What `infra export` can write: the inputs that read upstream outputs (and hold no
/// secret), resolved where every output they read has a value in `values`; the others, each
/// with the outputs it still misses.
pub fn resolve_known(
    component: &Component,
    values: &BTreeMap<OutputRef, Json>,
) -> (BTreeMap<String, Json>, BTreeMap<String, BTreeSet<OutputRef>>) {
    let mut known = BTreeMap::new();
    let mut missing = BTreeMap::new();
    for (key, value) in &component.inputs {
        if !has_placeholder(value, &component.reads) || holds_secret(component, value) {
            continue;
        }
        let absent: BTreeSet<OutputRef> = component
            .reads
            .iter()
            .filter(|r| has_placeholder(value, &BTreeSet::from([(*r).clone()])))
            .filter(|r| !values.contains_key(*r))
            .cloned()
            .collect();
        if absent.is_empty() {
            known.insert(key.clone(), substitute(value, values));
        } else {
            missing.insert(key.clone(), absent);
        }
    }
    (known, missing)
}

/// The inputs known only at run time — those reading upstream outputs (written to
/// `infra.upstream.auto.tfvars.json` once the values are known) and those holding secrets
/// (passed through the environment) — and the others (`infra.auto.tfvars.json`, built now).
pub fn pending(component: &Component) -> (BTreeMap<String, Json>, BTreeMap<String, Json>) {
    let mut upstream = BTreeMap::new();
    let mut fixed = BTreeMap::new();
    for (key, value) in &component.inputs {
        if has_placeholder(value, &component.reads) || holds_secret(component, value) {
            upstream.insert(key.clone(), value.clone());
        } else {
            fixed.insert(key.clone(), value.clone());
        }
    }
    (upstream, fixed)
}

/// The text that stands for a sensitive upstream output until the component runs: its
/// address, name and the digest of its value (so a changed value changes the input hash).
pub(crate) fn sensitive_marker(read: &OutputRef, digest: &str) -> String {
    format!("<infra-sensitive:{}:{}:{digest}>", read.address, read.output)
}

/// Whether an input value holds a sensitive upstream output's marker.
pub(crate) fn holds_sensitive(value: &Json) -> bool {
    contains_text(value, &["<infra-sensitive:".to_owned()])
}

/// The sensitive outputs a value's markers stand for (`(address, output)`).
pub(crate) fn sensitive_reads(value: &Json, out: &mut BTreeSet<(String, String)>) {
    match value {
        Json::String(s) => {
            let mut rest = s.as_str();
            while let Some(start) = rest.find("<infra-sensitive:") {
                let after = &rest[start + "<infra-sensitive:".len()..];
                let Some(end) = after.find('>') else { break };
                let mut parts = after[..end].rsplitn(3, ':');
                let (_digest, name, address) = (parts.next(), parts.next(), parts.next());
                if let (Some(name), Some(address)) = (name, address) {
                    out.insert((address.to_owned(), name.to_owned()));
                }
                rest = &after[end..];
            }
        }
        Json::Array(items) => items.iter().for_each(|i| sensitive_reads(i, out)),
        Json::Object(map) => map.values().for_each(|v| sensitive_reads(v, out)),
        _ => {}
    }
}

/// Replaces the markers of sensitive outputs by their values (`values`: `(address, output)` →
/// value): a string that is one marker becomes the value; inside a longer string, its text.
pub(crate) fn substitute_sensitive(
    value: &Json,
    values: &BTreeMap<(String, String), Json>,
) -> Json {
    match value {
        Json::String(s) => {
            let mut found = BTreeSet::new();
            sensitive_reads(value, &mut found);
            let mut out = s.clone();
            for (key, resolved) in values.iter().filter(|(k, _)| found.contains(*k)) {
                let prefix = format!("<infra-sensitive:{}:{}:", key.0, key.1);
                while let Some(start) = out.find(&prefix) {
                    let Some(len) = out[start..].find('>') else { break };
                    let whole = start == 0 && len + 1 == out.len();
                    if whole {
                        return resolved.clone();
                    }
                    let text = match resolved {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out.replace_range(start..start + len + 1, &text);
                }
            }
            Json::String(out)
        }
        Json::Array(items) => {
            Json::Array(items.iter().map(|i| substitute_sensitive(i, values)).collect())
        }
        Json::Object(map) => Json::Object(
            map.iter().map(|(k, v)| (k.clone(), substitute_sensitive(v, values))).collect(),
        ),
        other => other.clone(),
    }
}

/// The names of `component`'s inputs that hold a secret (never written to a file: a run
/// passes them through the environment).
pub fn secret_inputs(component: &Component) -> Vec<String> {
    component
        .inputs
        .iter()
        .filter(|(_, v)| holds_secret(component, v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Whether an input value holds one of the component's secrets.
pub(crate) fn holds_secret(component: &Component, value: &Json) -> bool {
    let texts: Vec<String> = component.secrets.iter().map(|s| s.text()).collect();
    contains_text(value, &texts)
}

fn contains_text(value: &Json, texts: &[String]) -> bool {
    match value {
        Json::String(s) => texts.iter().any(|t| s.contains(t.as_str())),
        Json::Array(items) => items.iter().any(|i| contains_text(i, texts)),
        Json::Object(map) => map.values().any(|v| contains_text(v, texts)),
        _ => false,
    }
}

/// Replaces secret texts by their values (strings; anything else as JSON).
pub(crate) fn substitute_texts(value: &Json, values: &[(String, Json)]) -> Json {
    match value {
        Json::String(s) => {
            for (text, resolved) in values {
                if s == text {
                    return resolved.clone();
                }
            }
            let mut out = s.clone();
            for (text, resolved) in values {
                let replacement = match resolved {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out = out.replace(text.as_str(), &replacement);
            }
            Json::String(out)
        }
        Json::Array(items) => {
            Json::Array(items.iter().map(|i| substitute_texts(i, values)).collect())
        }
        Json::Object(map) => Json::Object(
            map.iter().map(|(k, v)| (k.clone(), substitute_texts(v, values))).collect(),
        ),
        other => other.clone(),
    }
}

fn has_placeholder(value: &Json, reads: &BTreeSet<OutputRef>) -> bool {
    match value {
        Json::String(s) => {
            reads.iter().any(|r| s.contains(&placeholder_text(&r.address, &r.output)))
        }
        Json::Array(items) => items.iter().any(|i| has_placeholder(i, reads)),
        Json::Object(map) => map.values().any(|v| has_placeholder(v, reads)),
        _ => false,
    }
}

/// Replaces upstream placeholders by their values.
pub(crate) fn substitute_values(value: &Json, values: &BTreeMap<OutputRef, Json>) -> Json {
    substitute(value, values)
}

fn substitute(value: &Json, values: &BTreeMap<OutputRef, Json>) -> Json {
    match value {
        Json::String(s) => {
            for (output, resolved) in values {
                if *s == placeholder_text(&output.address, &output.output) {
                    return resolved.clone();
                }
            }
            let mut text = s.clone();
            for (output, resolved) in values {
                let placeholder = placeholder_text(&output.address, &output.output);
                if text.contains(&placeholder) {
                    let replacement = match resolved {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    text = text.replace(&placeholder, &replacement);
                }
            }
            Json::String(text)
        }
        Json::Array(items) => Json::Array(items.iter().map(|i| substitute(i, values)).collect()),
        Json::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, values))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(address: &str, output: &str) -> OutputRef {
        OutputRef { address: address.into(), output: output.into() }
    }

    #[test]
    fn sensitive_markers_are_found_and_replaced_whole_or_inside_text() {
        let whole = Json::String(sensitive_marker(&read("dev/db", "pw"), "d1"));
        let inside =
            Json::String(format!("user:{}@host", sensitive_marker(&read("dev/db", "pw"), "d1")));
        let nested = serde_json::json!({ "a": [whole.clone()], "b": "plain" });
        assert!(holds_sensitive(&whole) && holds_sensitive(&nested));
        assert!(!holds_sensitive(&Json::from("plain")));
        let mut found = BTreeSet::new();
        sensitive_reads(&nested, &mut found);
        assert_eq!(found, BTreeSet::from([("dev/db".to_owned(), "pw".to_owned())]));
        let values = BTreeMap::from([(("dev/db".to_owned(), "pw".to_owned()), Json::from(42))]);
        // A whole marker becomes the value itself (a number stays a number).
        assert_eq!(substitute_sensitive(&whole, &values), Json::from(42));
        assert_eq!(substitute_sensitive(&inside, &values), Json::from("user:42@host"));
        assert_eq!(
            substitute_sensitive(&nested, &values),
            serde_json::json!({ "a": [42], "b": "plain" })
        );
    }
}
