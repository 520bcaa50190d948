//! The domain's builtins: what `infra.component`, `infra.step`, `infra.wait`, `infra.stack`,
//! `infra.backend`, `infra.output`, `infra.writeText`, `infra.writeJSON`, `infra.template` and
//! `infra.remoteState` build. `<infra>` (stdlib/lib/default.infra) gives them their public
//! names. They only build tagged sets (`_type = "infra.…"`); `project` reads those sets back
//! into a `Project`.
//!
//! An output placeholder is a string whose text names the output
//! (`<infra-output:vpc:network_id>`) and whose context holds `Context::Output`, so it survives
//! interpolation, `toJSON` and the rest, and the project knows which outputs every component
//! reads. A bare component name is resolved in the stack the reading component is placed in.

use alloc_shim::thin::RcStr;
mod rego;
mod template;
mod zone;

use std::rc::Rc;

use crate::{
    builtins::{self, bad},
    error::EvalResult,
    eval::Machine,
    value::{Attrs, Context, NixString, PrimOpFn, Thunk, Value},
};

/// The domain builtins, by their global names.
pub(crate) const PRIMOPS: &[(&str, usize, PrimOpFn)] = &[
    ("__infraBackend", 2, backend),
    ("__infraComponent", 2, component),
    ("__infraOutput", 2, output),
    ("__infraRego", 3, rego::rego),
    ("__infraRemoteState", 1, remote_state),
    ("__infraSecret", 2, secret),
    ("__infraStack", 2, stack),
    ("__infraStep", 2, step),
    ("__infraTemplate", 2, template::template),
    ("__infraWait", 2, wait),
    ("__infraWriteJSON", 2, write_json),
    ("__infraWriteText", 2, write_text),
    ("__infraZoneOffset", 2, zone::zone_offset),
];

pub(crate) use crate::value::placeholder;
pub use crate::value::placeholder_text;

/// A name that can be part of an address: letters, digits, `_` and `-`, not empty.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.starts_with('-')
}

fn name_arg(m: &mut Machine, builtin: &'static str, what: &str, t: &Thunk) -> EvalResult<RcStr> {
    let name = builtins::string(m, t)?;
    if !is_valid_name(name.as_str()) {
        return Err(bad(
            builtin,
            format!(
                "`{}` is not a valid {what} name: use letters, digits, `_` and `-`",
                name.as_str()
            ),
        ));
    }
    Ok(name.text())
}

/// Remembers the call site of the builtin being applied; its index goes into `__decl`.
fn declare(m: &mut Machine) -> Value {
    let index = m.decls.len();
    // Applied by a builtin (`map infra.component …`), there is no call site of its own.
    m.decls.push(m.call_site);
    Value::Int(index as i64)
}

fn tagged(ty: &str, mut entries: Vec<(&str, Thunk)>) -> Value {
    entries.push(("_type", Thunk::value(Value::string(ty))));
    Value::attrs(Attrs::from_entries(entries.into_iter().map(|(k, v)| (k.into(), v)).collect()))
}

/// `infra.component NAME SPEC`.
fn component(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    node(m, args, "infra.component", "component")
}

/// `infra.step NAME SPEC`: a program run as a node of the graph.
fn step(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    node(m, args, "infra.step", "step")
}

/// `infra.wait NAME SPEC`: a readiness check as a node of the graph.
fn wait(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    node(m, args, "infra.wait", "wait")
}

/// A node of any kind: its name, its outputs (placeholders), its spec, tagged with `builtin`.
fn node(m: &mut Machine, args: &[Thunk], builtin: &'static str, what: &str) -> EvalResult<Value> {
    let name = name_arg(m, builtin, what, &args[0])?;
    let decl = declare(m);
    Ok(tagged(
        builtin,
        vec![
            ("name", Thunk::value(Value::String(NixString::from(&*name)))),
            ("outputs", Thunk::value(Value::Outputs(name))),
            ("spec", args[1].clone()),
            ("__decl", Thunk::value(decl)),
        ],
    ))
}

/// `infra.stack NAME SPEC`: the spec's attributes, tagged.
fn stack(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = name_arg(m, "infra.stack", "stack", &args[0])?;
    let decl = declare(m);
    let spec = builtins::attrs(m, &args[1])?;
    let mut entries: Vec<(RcStr, Thunk)> =
        spec.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    entries.push(("_type".into(), Thunk::value(Value::string("infra.stack"))));
    entries.push(("name".into(), Thunk::value(Value::String(NixString::from(&*name)))));
    entries.push(("__decl".into(), Thunk::value(decl)));
    Ok(Value::attrs(Attrs::from_entries(entries)))
}

/// `infra.backend TYPE CONFIG`.
fn backend(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let ty = name_arg(m, "infra.backend", "backend type", &args[0])?;
    builtins::attrs(m, &args[1])?;
    Ok(tagged(
        "infra.backend",
        vec![
            ("type", Thunk::value(Value::String(NixString::from(&*ty)))),
            ("config", args[1].clone()),
        ],
    ))
}

/// `infra.output "STACK/NAME" "OUTPUT"`: a placeholder for an output of another stack's
/// component (or of this stack's, given a bare name).
fn output(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    // Forcing the arguments may apply other builtins, which move the call site.
    let site = m.call_site;
    let address = builtins::string(m, &args[0])?;
    let valid = match address.as_str().split_once('/') {
        Some((stack, name)) => is_valid_name(stack) && is_valid_name(name),
        None => is_valid_name(address.as_str()),
    };
    if !valid {
        return Err(bad(
            "infra.output",
            format!("`{}` is not a component address like `dev/vpc`", address.as_str()),
        ));
    }
    let name = builtins::string(m, &args[1])?;
    if name.is_empty() {
        return Err(bad("infra.output", "the output name is empty".to_owned()));
    }
    if let Some(site) = site {
        m.output_sites.entry((address.text(), name.text())).or_insert(site);
    }
    Ok(Value::String(placeholder(address.as_str(), name.as_str())))
}

/// `infra.writeText NAME TEXT`.
fn write_text(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    Ok(tagged(
        "infra.file",
        vec![("name", Thunk::value(Value::String(name))), ("text", args[1].clone())],
    ))
}

/// `infra.writeJSON NAME VALUE`: rendered canonically (sorted keys) when the project is built.
fn write_json(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    Ok(tagged(
        "infra.file",
        vec![("name", Thunk::value(Value::String(name))), ("json", args[1].clone())],
    ))
}

/// `infra.remoteState COMPONENT`: a `terraform_remote_state` data source reading the state
/// of that component (a component value, a name in the same stack, or `STACK/NAME`).
fn remote_state(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let name = match &value {
        Value::Attrs(attrs) => attrs.get("name").cloned(),
        _ => None,
    };
    let address = match (value, name) {
        (Value::String(s), _) => s,
        (_, Some(name)) => builtins::string(m, &name)?,
        (other, None) => {
            return Err(bad(
                "infra.remoteState",
                format!("expected a component or an address, got {}", other.describe()),
            ));
        }
    };
    Ok(tagged("infra.remoteState", vec![("component", Thunk::value(Value::String(address)))]))
}

/// The text standing for a secret in strings (never its value): the file (absolute while
/// evaluating, relative to the project once extracted) and the key path.
pub fn secret_text(file: &str, key_path: &str) -> String {
    format!("<infra-secret:{file}#{key_path}>")
}

/// `infra.secret PATH "a.b.c"`: a reference to a value inside an age-encrypted JSON or YAML
/// file. Evaluation never decrypts it; only `inputs` may hold it, and the runner passes it to
/// Terraform through the environment.
fn secret(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let path = match m.force(&args[0])? {
        Value::Path(p) => (*p).clone(),
        other => {
            return Err(bad(
                "infra.secret",
                format!("expected the path of an age file, got {}", other.describe()),
            ));
        }
    };
    let key = builtins::string(m, &args[1])?;
    if key.is_empty() || key.as_str().split('.').any(str::is_empty) {
        return Err(bad(
            "infra.secret",
            format!("`{}` is not a key path like `db.password`", key.as_str()),
        ));
    }
    m.record(crate::io::Input::Exists(path.clone()));
    if !m.io.path_exists(&path).unwrap_or(false) {
        return Err(bad(
            "infra.secret",
            format!("the secrets file `{}` does not exist", path.display()),
        ));
    }
    let file = path.display().to_string();
    let context = Context::Secret(file.as_str().into(), key.text());
    Ok(Value::String(NixString::new(
        secret_text(&file, key.as_str()).into(),
        Some(Rc::new(std::iter::once(context).collect())),
    )))
}
