//! Names checked against the modules: every input a component passes is a variable its
//! Terraform files declare, and every output named for it (read by another component through
//! a placeholder or `infra.output`, or listed in its own `requiredOutputs` and `mockOutputs`)
//! is an output they declare. A component whose files cannot be read or parsed is not checked
//! (see `module`). Errors say "did you mean" when a declared name is close.

use alloc_shim::thin::RcStr;
use std::{collections::BTreeMap, rc::Rc};

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    project::{
        Component, Project,
        module::{self, Declared, Parsed},
    },
    suggest::did_you_mean,
};

/// `spans` maps every address to the component's declaration.
pub(super) fn check(
    m: &mut Machine,
    project: &Project,
    spans: &BTreeMap<String, Span>,
) -> EvalResult<()> {
    let mut parsed = Parsed::default();
    let mut declared: BTreeMap<String, Option<Rc<Declared>>> = BTreeMap::new();
    for component in project.components() {
        declared.insert(component.address(), module::declared(m, component, &mut parsed));
    }
    for component in project.components() {
        let address = component.address();
        let span = spans.get(&address).copied();
        if let Some(Some(names)) = declared.get(&address) {
            check_own(m, component, names, span)?;
        }
        for read in &component.reads {
            let Some(Some(names)) = declared.get(&read.address) else { continue };
            if names.outputs.contains(&read.output) {
                continue;
            }
            let site = reference_site(m, component, &read.address, &read.output);
            return Err(unknown_output(
                &read.address,
                &read.output,
                address.clone(),
                names,
                site.or(span),
            ));
        }
    }
    Ok(())
}

/// A component's inputs, `requiredOutputs` and `mockOutputs` against its own module.
fn check_own(
    m: &mut Machine,
    component: &Component,
    names: &Declared,
    span: Option<Span>,
) -> EvalResult<()> {
    let address = component.address();
    for input in component.inputs.keys() {
        if names.variables.contains(input) {
            continue;
        }
        let help = match did_you_mean(input, names.variables.iter().map(String::as_str)) {
            Some(similar) => format!("did you mean `{similar}`?"),
            None if names.variables.is_empty() => format!(
                "the module declares no variables: add `variable \"{input}\" {{}}` to it, or \
                 remove the input"
            ),
            None => format!("the module declares {}", listed(names.variables.iter())),
        };
        // Placed on the input's name where the `inputs` set is written.
        let set = m.input_sets.get(&address).cloned();
        let site = set.and_then(|set| super::placement::written_at(m, &set, input));
        return Err(EvalError::new(
            ErrorKind::UnknownInput { address: address.clone(), input: input.clone() },
            site.or(span),
        )
        .with_help(help));
    }
    // A variable with no default needs a value: from the inputs, or where Terraform finds
    // one by itself (a values file in the directory, `TF_VAR_…` in the environment). Checked
    // for `infra check` only: a build, or `infra tf` to repair a state, needs no value.
    let own_values = component
        .terraform()
        .is_some_and(|t| t.files.keys().any(|name| module::is_values_file(name)));
    if m.require_inputs && !names.values_file && !own_values {
        for variable in &names.required {
            if component.inputs.contains_key(variable) {
                continue;
            }
            let env = format!("TF_VAR_{variable}");
            m.record(crate::io::Input::Env(env.clone()));
            if m.io.env_var(&env).is_some() {
                continue;
            }
            return Err(EvalError::new(
                ErrorKind::MissingInput { address: address.clone(), input: variable.clone() },
                span,
            )
            .with_help(format!("give it a value: `inputs.{variable} = …;`")));
        }
    }
    let required = component.required_outputs.iter().map(|o| (o, "requiredOutputs"));
    let mocked = component.mock_outputs.keys().map(|o| (o, "mockOutputs"));
    for (output, place) in required.chain(mocked) {
        if !names.outputs.contains(output) {
            return Err(unknown_output(&address, output, place.to_owned(), names, span));
        }
    }
    Ok(())
}

fn unknown_output(
    address: &str,
    output: &str,
    from: String,
    names: &Declared,
    span: Option<Span>,
) -> Box<EvalError> {
    let help = match did_you_mean(output, names.outputs.iter().map(String::as_str)) {
        Some(similar) => format!("did you mean `{similar}`?"),
        None if names.outputs.is_empty() => format!(
            "the module of `{address}` declares no outputs: add `output \"{output}\" {{ value = … \
             }}` to it"
        ),
        None => format!("the module of `{address}` declares {}", listed(names.outputs.iter())),
    };
    EvalError::new(
        ErrorKind::UnknownOutput { address: address.to_owned(), output: output.to_owned(), from },
        span,
    )
    .with_help(help)
}

/// Where `component`'s spec named the output: `NAME.outputs.OUTPUT` in its stack, or
/// `infra.output "STACK/NAME" "OUTPUT"`.
fn reference_site(m: &Machine, component: &Component, address: &str, output: &str) -> Option<Span> {
    let output: RcStr = output.into();
    let mut written: Vec<&str> = vec![address];
    if let Some((stack, name)) = address.split_once('/')
        && stack == component.stack
    {
        written.push(name);
    }
    written.iter().find_map(|w| m.output_sites.get(&(RcStr::from(*w), output.clone())).copied())
}

/// The first names, in backticks.
fn listed<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.len() > 10 {
        format!("{}, … ({} in all)", names[..10].join(", "), names.len())
    } else {
        names.join(", ")
    }
}
