//! Secrets at run time, for one component: the fingerprints that enter its input hash (the
//! blake3 of each secrets file's ciphertext, never a value), and — only when it runs — the
//! decrypted `TF_VAR_…` environment and the strings to scrub from everything it prints.

use std::{collections::BTreeMap, path::Path};

use evaluator::{Component, Json, OutputRef};

use crate::run::Shared;

/// The fingerprint of each secret a component reads (`FILE#KEY` → blake3 of the file).
pub(crate) fn secret_fingerprints(
    component: &Component,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for secret in &component.secrets {
        let bytes = std::fs::read(&secret.file).map_err(|e| {
            format!("cannot read the secrets file `{}`: {e}", secret.file.display())
        })?;
        out.insert(format!("{}#{}", secret.name, secret.key), crate::secrets::fingerprint(&bytes));
    }
    Ok(out)
}

/// Variables added to a tool's environment.
pub(crate) type Environment = Vec<(String, String)>;

/// Decrypts the secrets a component's inputs hold: the `TF_VAR_…` environment of its inputs
/// that hold secrets, and the plaintext strings to scrub from output.
pub(crate) fn decrypt_inputs(
    shared: &Shared,
    component: &Component,
    upstream: &BTreeMap<OutputRef, Json>,
) -> Result<(Environment, Vec<String>), String> {
    if component.secrets.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let describe = |e: crate::secrets::SecretError| match e.help {
        Some(help) => format!("{} ({help})", e.message),
        None => e.message,
    };
    let identity = shared.options.identity.as_ref().ok_or_else(|| {
        "no age identity: set `INFRA_AGE_IDENTITY` or run `infra secrets keygen`".to_owned()
    })?;
    let identities = crate::secrets::load_identities(identity).map_err(describe)?;
    let mut documents: BTreeMap<&Path, Json> = BTreeMap::new();
    let mut values: Vec<(String, Json)> = Vec::new();
    for secret in &component.secrets {
        let name = secret.file.display().to_string();
        if !documents.contains_key(secret.file.as_path()) {
            let ciphertext =
                std::fs::read(&secret.file).map_err(|e| format!("cannot read `{name}`: {e}"))?;
            let plaintext =
                crate::secrets::decrypt(&ciphertext, &identities, &name).map_err(describe)?;
            let document = crate::secrets::parse_document(&plaintext, &name).map_err(describe)?;
            documents.insert(secret.file.as_path(), document);
        }
        let document = &documents[secret.file.as_path()];
        let value = crate::secrets::lookup(document, &secret.key, &name).map_err(describe)?;
        values.push((secret.text(), value));
    }
    let mut scrub = Vec::new();
    for (_, value) in &values {
        collect_strings(value, &mut scrub);
    }
    let mut env = Vec::new();
    for (key, template) in &component.inputs {
        if !crate::resolve::holds_secret(component, template) {
            continue;
        }
        // Secrets go into the literal input first, upstream values after: an upstream output
        // that happens to hold a secret's placeholder text is never replaced by the secret.
        let with_secrets = crate::resolve::substitute_texts(template, &values);
        let value = crate::resolve::substitute_values(&with_secrets, upstream);
        let text = match &value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        collect_strings(&value, &mut scrub);
        env.push((format!("TF_VAR_{key}"), text));
    }
    // Also as Terraform may print them: JSON-escaped, and line by line for multi-line values.
    let mut variants = Vec::new();
    for secret in &scrub {
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        variants.push(escaped.trim_matches('"').to_owned());
        variants.extend(secret.lines().map(str::trim).filter(|l| l.len() >= 8).map(str::to_owned));
    }
    scrub.extend(variants);
    scrub.retain(|s| s.len() >= 3);
    scrub.sort_by_key(|s| std::cmp::Reverse(s.len()));
    scrub.dedup();
    Ok((env, scrub))
}

pub(crate) fn collect_strings(value: &Json, out: &mut Vec<String>) {
    match value {
        Json::String(s) => out.push(s.clone()),
        Json::Array(items) => items.iter().for_each(|i| collect_strings(i, out)),
        Json::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        Json::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}
