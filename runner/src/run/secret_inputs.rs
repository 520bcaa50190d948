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

/// The values of sensitive upstream outputs a component reads, by `(address, output)`.
pub(crate) type SensitiveValues = BTreeMap<(String, String), Json>;

/// The inputs that must not be written to a file — those holding secrets (decrypted here) or
/// sensitive upstream outputs (`sensitive`, read from the upstreams' state) — as the
/// `TF_VAR_…` environment, and the strings to scrub from everything the tool prints.
pub(crate) fn private_inputs(
    shared: &Shared,
    component: &Component,
    upstream: &BTreeMap<OutputRef, Json>,
    sensitive: &SensitiveValues,
) -> Result<(Environment, Vec<String>), String> {
    let values =
        if component.secrets.is_empty() { Vec::new() } else { decrypt(shared, component)? };
    let mut scrub = Vec::new();
    for (_, value) in &values {
        collect_strings(value, &mut scrub);
    }
    for value in sensitive.values() {
        collect_strings(value, &mut scrub);
    }
    let mut env = Vec::new();
    for (key, template) in &component.inputs {
        // Secrets go into the literal input first, upstream values after: an upstream output
        // that happens to hold a secret's placeholder text is never replaced by the secret.
        let with_secrets = crate::resolve::substitute_texts(template, &values);
        let value = crate::resolve::substitute_values(&with_secrets, upstream);
        let secret = crate::resolve::holds_secret(component, template);
        if !secret && !crate::resolve::holds_sensitive(&value) {
            continue;
        }
        // Sensitive values go into the structure, which is serialised once.
        let value = crate::resolve::substitute_sensitive(&value, sensitive);
        let text = match &value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        collect_strings(&value, &mut scrub);
        env.push((format!("TF_VAR_{key}"), text));
    }
    Ok((env, scrub_variants(scrub)))
}

/// The strings to scrub, also as Terraform may print them: JSON-escaped (Go's encoder also
/// writes `&`, `<`, `>` as `\u0026`, `\u003c`, `\u003e`), and line by line for multi-line
/// values. Strings under 3 bytes are left out: scrubbing them would garble every log.
pub(crate) fn scrub_variants(mut scrub: Vec<String>) -> Vec<String> {
    let mut variants = Vec::new();
    for secret in &scrub {
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"').to_owned();
        let go = escaped.replace('&', "\\u0026").replace('<', "\\u003c").replace('>', "\\u003e");
        variants.push(escaped);
        variants.push(go);
        variants.extend(secret.lines().map(str::trim).filter(|l| l.len() >= 8).map(str::to_owned));
    }
    scrub.extend(variants);
    scrub.retain(|s| s.len() >= 3);
    scrub.sort_by_key(|s| std::cmp::Reverse(s.len()));
    scrub.dedup();
    scrub
}

/// The values of the secrets a component reads (by their placeholder text), decrypted.
pub(crate) fn decrypt(
    shared: &Shared,
    component: &Component,
) -> Result<Vec<(String, Json)>, String> {
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
    Ok(values)
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
