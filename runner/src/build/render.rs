//! The generated files of a work directory, as canonical JSON (sorted keys, two-space
//! indentation, a final newline): the same project gives the same bytes on every machine.

use std::{collections::BTreeMap, path::Path};

use evaluator::{Backend, Component, File, Json, Project};
use serde_json::json;

/// Where a work directory (`.infra/work/STACK/NAME`) reaches `.infra/tfstate`.
const STATE_FROM_WORKDIR: &str = "../../../tfstate";

/// `backend.tf.json`, `providers.tf.json`, `infra.auto.tfvars.json` and the text files of
/// `files`, by name. With `state_root`, local state paths are absolute under it (for
/// exported copies), otherwise relative to the work directory.
pub(crate) fn generated_files(
    project: &Project,
    component: &Component,
    fixed_inputs: &BTreeMap<String, Json>,
    state_root: Option<&Path>,
) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    // A step's work directory is its `src` only.
    let Some(terraform) = component.terraform() else { return out };
    let state_base = match state_root {
        Some(root) => root.display().to_string(),
        None => STATE_FROM_WORKDIR.to_owned(),
    };
    let backend =
        backend_config(&terraform.backend, &component.stack, &component.name, &state_base);
    out.insert(
        "backend.tf.json".to_owned(),
        canonical_json(
            &json!({ "terraform": { "backend": { terraform.backend.ty.clone(): backend } } }),
        ),
    );
    if !terraform.providers.is_empty() {
        let providers: serde_json::Map<String, Json> =
            terraform.providers.clone().into_iter().collect();
        out.insert(
            "providers.tf.json".to_owned(),
            canonical_json(&json!({ "provider": providers })),
        );
    }
    // Variables fed by secrets are marked sensitive, so Terraform itself hides their values in
    // plans and errors (an override file merges into the module's own declarations).
    let secret_inputs: serde_json::Map<String, Json> = component
        .inputs
        .iter()
        .filter(|(_, value)| crate::resolve::holds_secret(component, value))
        .map(|(key, _)| (key.clone(), json!({ "sensitive": true })))
        .collect();
    if !secret_inputs.is_empty() {
        out.insert(
            "infra_secrets_override.tf.json".to_owned(),
            canonical_json(&json!({ "variable": secret_inputs })),
        );
    }
    if !fixed_inputs.is_empty() {
        let inputs: serde_json::Map<String, Json> = fixed_inputs.clone().into_iter().collect();
        out.insert("infra.auto.tfvars.json".to_owned(), canonical_json(&Json::Object(inputs)));
    }
    for (name, file) in &terraform.files {
        let bytes = match file {
            File::Text(text) => text.as_bytes().to_vec(),
            File::Json(value) => canonical_json(value),
            File::RemoteState(address) => remote_state(project, address, &state_base),
            File::Copy(_) => continue,
        };
        out.insert(name.clone(), bytes);
    }
    out
}

/// The backend configuration with its defaults: the state of `STACK/NAME` in its own place.
fn backend_config(backend: &Backend, stack: &str, name: &str, state_base: &str) -> Json {
    let mut config: serde_json::Map<String, Json> = backend.config.clone().into_iter().collect();
    let default = match backend.ty.as_str() {
        "local" => Some(("path", format!("{state_base}/{stack}/{name}.tfstate"))),
        "s3" | "azurerm" | "cos" | "oss" => Some(("key", format!("{stack}/{name}.tfstate"))),
        "gcs" => Some(("prefix", format!("{stack}/{name}"))),
        "consul" => Some(("path", format!("{stack}/{name}"))),
        _ => None,
    };
    if let Some((key, value)) = default {
        config.entry(key.to_owned()).or_insert(Json::String(value));
    }
    Json::Object(config)
}

/// A `terraform_remote_state` data source named after the component, reading its state with
/// its backend.
fn remote_state(project: &Project, address: &str, state_base: &str) -> Vec<u8> {
    let found = project.component(address).and_then(|c| Some((c, c.terraform()?)));
    let (ty, config, name) = match found {
        Some((upstream, terraform)) => (
            terraform.backend.ty.clone(),
            backend_config(&terraform.backend, &upstream.stack, &upstream.name, state_base),
            upstream.name.clone(),
        ),
        // Invariant: extraction checked every remote-state address (a component's); render
        // something inert.
        None => ("local".to_owned(), json!({}), address.replace('/', "_")),
    };
    canonical_json(&json!({
        "data": { "terraform_remote_state": { name: { "backend": ty, "config": config } } }
    }))
}

/// Pretty JSON with sorted keys and a final newline.
pub(crate) fn canonical_json(value: &Json) -> Vec<u8> {
    // Invariant: a `serde_json::Value` always serialises.
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text.into_bytes()
}
