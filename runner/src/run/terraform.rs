//! Reading what Terraform printed: `output -json` and the outputs of a state file.

use std::collections::BTreeMap;

use evaluator::Json;

/// `terraform output -json` → (values of non-sensitive outputs, values of sensitive ones).
pub(crate) fn outputs(stdout: &str) -> Option<(BTreeMap<String, Json>, BTreeMap<String, Json>)> {
    let json: Json = serde_json::from_str(stdout.trim()).ok()?;
    let mut plain = BTreeMap::new();
    let mut sensitive = BTreeMap::new();
    for (name, output) in json.as_object()? {
        let value = output.get("value").cloned().unwrap_or(Json::Null);
        if output.get("sensitive").and_then(Json::as_bool).unwrap_or(false) {
            sensitive.insert(name.clone(), value);
        } else {
            plain.insert(name.clone(), value);
        }
    }
    Some((plain, sensitive))
}

/// The outputs in a state file (format version 4: `outputs.NAME = { value, type, sensitive }`),
/// split as `outputs` splits them.
pub(crate) fn state_outputs(
    bytes: &[u8],
) -> Option<(BTreeMap<String, Json>, BTreeMap<String, Json>)> {
    let state: Json = serde_json::from_slice(bytes).ok()?;
    if state.get("version").and_then(Json::as_u64) != Some(4) {
        return None;
    }
    outputs(&state.get("outputs")?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sensitive_outputs() {
        let text = r#"{"a":{"sensitive":false,"type":"string","value":"x"},"b":{"sensitive":true,"type":"string","value":"s"}}"#;
        let (plain, sensitive) = outputs(text).expect("parses");
        assert_eq!(plain.get("a"), Some(&Json::from("x")));
        assert!(!plain.contains_key("b") && sensitive.contains_key("b"));
    }
}
