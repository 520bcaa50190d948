//! The names a component's Terraform configuration declares: its `variable` and `output`
//! blocks. They are read as Terraform reads a module: the top-level `*.tf` and `*.tf.json`
//! files (and OpenTofu's `*.tofu`, `*.tofu.json`) of the work directory, which is the
//! module's directory with the component's `files` added (a file of `files` replaces the
//! module's file of the same name). Files Terraform ignores (`.hidden`, `#backup#`,
//! `backup~`) are left out. The generated files (`backend.tf.json`, …) declare neither.
//!
//! The check lives in the evaluator, at project extraction, rather than in the runner's
//! build: there the diagnostic can point at the reference in `main.infra`, every command that
//! evaluates (`build`, `plan`, `graph`, …) reports it before anything runs, and the
//! conformance corpus covers it. The module's files are read through `EvalIo`, so each is
//! recorded as an input and the evaluation cache is stale when a module gains a variable.
//!
//! When a file cannot be read or parsed, the component's names are unknown (`None`) and
//! nothing is checked: Terraform reports the syntax error with more to say about it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    rc::Rc,
};

use hcl_edit::structure::{Body, Structure};

use crate::{
    eval::Machine,
    io::Input,
    project::{Component, File, Json, Terraform},
};

/// The variables and outputs a configuration declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Declared {
    pub(super) variables: BTreeSet<String>,
    pub(super) outputs: BTreeSet<String>,
    /// The variables without a `default`: Terraform needs a value for each.
    pub(super) required: BTreeSet<String>,
    /// Whether the module's directory has a file of values Terraform reads by itself
    /// (`terraform.tfvars`, `*.auto.tfvars`, their `.json`): then a value may come from there.
    /// (Not a component's own `files`: this is shared by the components of one module.)
    pub(super) values_file: bool,
}

/// What was read so far: module files parsed, by path, and module directories listed (many
/// components share a module).
#[derive(Default)]
pub(super) struct Parsed {
    files: BTreeMap<PathBuf, Option<Declared>>,
    dirs: BTreeMap<PathBuf, Option<Vec<(String, &'static str)>>>,
    /// What a module's directory declares, for the components that add no configuration file
    /// of their own (most: then their names are the module's, computed once).
    modules: BTreeMap<PathBuf, Option<Rc<Declared>>>,
}

/// Where a configuration file's text comes from.
enum Config<'a> {
    File(PathBuf),
    Text(&'a str),
    Json(&'a Json),
}

/// What `component`'s work directory declares; `None` when that is not known: no
/// configuration file at all, or one that cannot be read or parsed.
pub(super) fn declared(
    m: &mut Machine,
    component: &Component,
    parsed: &mut Parsed,
) -> Option<Rc<Declared>> {
    let terraform = component.terraform()?;
    let own_config = terraform.files.keys().any(|name| is_config(name));
    if let (Some(dir), false) = (&terraform.source, own_config) {
        if let Some(known) = parsed.modules.get(dir) {
            return known.clone();
        }
        let declared = work_dir(m, terraform, parsed).map(Rc::new);
        parsed.modules.insert(dir.clone(), declared.clone());
        return declared;
    }
    work_dir(m, terraform, parsed).map(Rc::new)
}

/// What the work directory of `terraform` declares: its module's files with its own added.
fn work_dir(m: &mut Machine, terraform: &Terraform, parsed: &mut Parsed) -> Option<Declared> {
    let module_names = match &terraform.source {
        Some(dir) => match parsed.dirs.get(dir) {
            Some(names) => names.clone()?,
            None => {
                m.record(Input::Dir(dir.clone()));
                let names = m.io.read_dir(dir).ok();
                parsed.dirs.insert(dir.clone(), names.clone());
                names?
            }
        },
        None => Vec::new(),
    };
    let mut configs: BTreeMap<&str, Config<'_>> = BTreeMap::new();
    let values_file = module_names
        .iter()
        .filter(|(_, ty)| ty != &"directory")
        .any(|(name, _)| is_values_file(name));
    if let Some(dir) = &terraform.source {
        for (name, ty) in &module_names {
            if ty != &"directory" && is_config(name) {
                configs.insert(name, Config::File(dir.join(name)));
            }
        }
    }
    for (name, file) in &terraform.files {
        if !is_config(name) {
            continue;
        }
        match file {
            File::Text(text) => configs.insert(name, Config::Text(text)),
            File::Json(json) => configs.insert(name, Config::Json(json)),
            File::Copy(path) => configs.insert(name, Config::File(path.clone())),
            // A `terraform_remote_state` data source: it declares no variable or output.
            File::RemoteState(_) => configs.remove(name.as_str()),
        };
    }
    if configs.is_empty() {
        return None;
    }
    let mut all = Declared { values_file, ..Declared::default() };
    for (name, config) in configs {
        let json = name.ends_with(".json");
        let declared = match config {
            Config::File(path) => match parsed.files.get(&path) {
                Some(declared) => declared.clone(),
                None => {
                    let declared = read(m, &path, json);
                    parsed.files.insert(path, declared.clone());
                    declared
                }
            },
            Config::Text(text) => parse(text, json),
            // JSON written to a `.tf` file is not HCL: Terraform will say so.
            Config::Json(value) => json.then(|| from_json(value)).flatten(),
        }?;
        all.variables.extend(declared.variables);
        all.outputs.extend(declared.outputs);
        all.required.extend(declared.required);
    }
    Some(all)
}

/// The declarations of one file's text, HCL or (with `json`) Terraform's JSON syntax.
pub(super) fn parse(text: &str, json: bool) -> Option<Declared> {
    if json {
        return from_json(&serde_json::from_str(text).ok()?);
    }
    let body: Body = hcl_edit::parser::parse_body(text).ok()?;
    let mut declared = Declared::default();
    for structure in body.iter() {
        let Structure::Block(block) = structure else { continue };
        let names = match block.ident.as_str() {
            "variable" => &mut declared.variables,
            "output" => &mut declared.outputs,
            _ => continue,
        };
        if let [label] = block.labels.as_slice() {
            names.insert(label.as_str().to_owned());
            if block.ident.as_str() == "variable" && !block.body.has_attribute("default") {
                declared.required.insert(label.as_str().to_owned());
            }
        }
    }
    Some(declared)
}

/// Whether Terraform reads variable values from a file of this name by itself.
pub(super) fn is_values_file(name: &str) -> bool {
    let name = name.strip_suffix(".json").unwrap_or(name);
    name == "terraform.tfvars" || name.ends_with(".auto.tfvars")
}

/// Whether Terraform (or OpenTofu) reads a file of a module's directory.
fn is_config(name: &str) -> bool {
    let ignored = name.contains('/')
        || name.starts_with('.')
        || name.starts_with('#')
        || name.ends_with('~')
        || name.ends_with('#');
    !ignored && [".tf", ".tf.json", ".tofu", ".tofu.json"].iter().any(|ext| name.ends_with(ext))
}

fn read(m: &mut Machine, path: &Path, json: bool) -> Option<Declared> {
    m.record(Input::File(path.to_path_buf()));
    let bytes = m.io.read_file(path).ok()?;
    parse(std::str::from_utf8(&bytes).ok()?, json)
}

/// `{ "variable": { "NAME": {…} }, "output": … }`; each may also be a list of such objects.
fn from_json(value: &Json) -> Option<Declared> {
    let root = value.as_object()?;
    let names = |key: &str| -> Option<BTreeSet<String>> {
        let mut names = BTreeSet::new();
        match root.get(key) {
            None => {}
            Some(Json::Object(blocks)) => names.extend(blocks.keys().cloned()),
            Some(Json::Array(items)) => {
                for item in items {
                    names.extend(item.as_object()?.keys().cloned());
                }
            }
            Some(_) => return None,
        }
        Some(names)
    };
    // A variable's object (or each of a list of them) without `default`.
    let mut required = BTreeSet::new();
    let mut blocks = |value: &Json| {
        if let Json::Object(variables) = value {
            for (name, body) in variables {
                if !body.as_object().is_some_and(|b| b.contains_key("default")) {
                    required.insert(name.clone());
                }
            }
        }
    };
    match root.get("variable") {
        Some(Json::Array(items)) => items.iter().for_each(&mut blocks),
        Some(value) => blocks(value),
        None => {}
    }
    Some(Declared {
        variables: names("variable")?,
        outputs: names("output")?,
        required,
        values_file: false,
    })
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::{is_config, parse};

    #[track_caller]
    fn check(text: &str, json: bool, expected: Expect) {
        let actual = match parse(text, json) {
            Some(declared) => {
                format!("variables: {:?}\noutputs: {:?}", declared.variables, declared.outputs)
            }
            None => "unknown".to_owned(),
        };
        expected.assert_eq(&actual);
    }

    #[test]
    fn declared_variables_and_outputs() {
        check(
            r#"
terraform {
  required_version = ">= 1.5"
}

variable "name" {
  type        = string
  description = <<-EOT
    The name, with ${"interpolation"} and %{ if true }directives%{ endif }.
  EOT
}

variable cidr_block {
  default = "10.0.0.0/16"
  validation {
    condition     = can(cidrnetmask(var.cidr_block))
    error_message = "Not a CIDR block."
  }
}

locals {
  subnets = { for i, az in ["a", "b"] : az => cidrsubnet(var.cidr_block, 8, i) }
  ids     = [for s in local.subnets : s if s != ""]
  splat   = aws_subnet.this[*].id
}

resource "aws_subnet" "this" {
  count = length(local.subnets) > 0 ? 2 : 0
  dynamic "tag" {
    for_each = var.tags
    content { key = tag.key }
  }
}

output "network_id" {
  value = "net-${var.name}"
}

output "subnets" { value = local.subnets }
"#,
            false,
            expect![[r#"
                variables: {"cidr_block", "name"}
                outputs: {"network_id", "subnets"}"#]],
        );
    }

    #[test]
    fn a_module_without_variables() {
        check(
            "locals {\n  x = 1\n}\n",
            false,
            expect![[r#"
            variables: {}
            outputs: {}"#]],
        );
        check(
            "",
            false,
            expect![[r#"
            variables: {}
            outputs: {}"#]],
        );
    }

    #[test]
    fn a_syntax_error_leaves_the_names_unknown() {
        check("variable \"name\" {\n  type = \n}\n", false, expect!["unknown"]);
        check("output \"x\" { value = 1 ", false, expect!["unknown"]);
    }

    #[test]
    fn json_configuration() {
        check(
            r#"{ "variable": { "region": {}, "zone": { "default": "a" } },
                 "output": [ { "id": { "value": "x" } } ] }"#,
            true,
            expect![[r#"
                variables: {"region", "zone"}
                outputs: {"id"}"#]],
        );
        check(r#"{ "variable": "region" }"#, true, expect!["unknown"]);
        check("{ not json", true, expect!["unknown"]);
    }

    #[test]
    fn configuration_file_names() {
        let names = ["main.tf", "x.tf.json", "a.tofu", "b.tofu.json", "override.tf"];
        assert!(names.iter().all(|n| is_config(n)));
        let ignored = [".main.tf", "#main.tf#", "main.tf~", "main.tf.versioned", "sub/a.tf"];
        assert!(ignored.iter().all(|n| !is_config(n)));
    }
}
