//! `infra output [STACK/NAME [OUTPUT]]`: the outputs of a component's last successful apply.
//! The record alone answers; without one, the project is evaluated to tell a component never
//! applied from an address that names none (with the nearest one as a suggestion). Without an
//! address, every applied component's outputs, as Terraform prints every output; with an
//! output's name, that one value alone, a string raw (as `terraform output -raw`), for scripts.

use std::process::ExitCode;

use clap::Args;

use crate::{
    ctx::{Ctx, not_a_component},
    error::CliError,
    output::Output,
};

/// Print the outputs recorded by a component's last successful apply.
#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// The component, as `STACK/NAME` (every applied component without one).
    address: Option<String>,
    /// One output of the component: a string printed raw, any other value as JSON.
    output: Option<String>,
    /// Print them as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &OutputArgs) -> Result<ExitCode, CliError> {
    let Some(address) = &args.address else { return all(out, ctx, args.json) };
    let Some(record) = runner::read_record(&ctx.root, address) else {
        let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
        if project.component(address).is_none() {
            return Err(not_a_component(&project, address));
        }
        return Err(CliError::user(
            "infra::run::never_applied",
            format!("`{address}` has no recorded apply"),
        )
        .with_hint(format!("run `infra apply {address}`")));
    };
    if let Some(name) = &args.output {
        return one(out, &record, address, name, args.json);
    }
    if args.json {
        let object: serde_json::Map<String, serde_json::Value> =
            record.outputs.into_iter().collect();
        out.data(&format!("{}\n", serde_json::Value::Object(object)))?;
    } else {
        out.data(&lines(&record, ""))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The output `name` of `address`: a string raw (unless `json`), any other value as JSON.
fn one(
    out: &mut Output,
    record: &runner::RunRecord,
    address: &str,
    name: &str,
    json: bool,
) -> Result<ExitCode, CliError> {
    if let Some(value) = record.outputs.get(name) {
        match value {
            // As `terraform output -raw`: the text itself, no line break added (a key or a
            // certificate written to a file stays byte for byte).
            serde_json::Value::String(text) if !json => out.data(text)?,
            value => out.data(&format!("{value}\n"))?,
        }
        return Ok(ExitCode::SUCCESS);
    }
    if record.sensitive_outputs.contains_key(name) {
        return Err(CliError::user(
            "infra::run::sensitive_output",
            format!("`{name}` of `{address}` is sensitive: infra records no value for it"),
        )
        .with_hint(format!("read it from Terraform: `infra tf {address} -- output -raw {name}`")));
    }
    let names = record.outputs.keys().chain(record.sensitive_outputs.keys());
    let hint = match evaluator::did_you_mean(name, names.clone().map(String::as_str)) {
        Some(near) => format!("did you mean `{near}`?"),
        None if record.outputs.is_empty() && record.sensitive_outputs.is_empty() => {
            format!("`{address}` has no outputs")
        }
        None => {
            let all: Vec<String> = names.map(|n| format!("`{n}`")).collect();
            format!("`{address}` has {}", all.join(", "))
        }
    };
    Err(CliError::user(
        "infra::run::unknown_output",
        format!("`{address}` has no output `{name}` in its last apply"),
    )
    .with_hint(hint))
}

/// `NAME = VALUE` lines (sensitive ones without their value), each after `indent`.
fn lines(record: &runner::RunRecord, indent: &str) -> String {
    let mut text = String::new();
    for (name, value) in &record.outputs {
        text.push_str(&format!("{indent}{name} = {value}\n"));
    }
    for name in record.sensitive_outputs.keys() {
        text.push_str(&format!("{indent}{name} = (sensitive)\n"));
    }
    text
}

/// Every applied component's outputs, in the project's order: `STACK/NAME:` and its lines, or
/// one JSON object by address (sensitive outputs left out, as in the one-component form).
fn all(out: &mut Output, ctx: &Ctx, json: bool) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let mut text = String::new();
    let mut object = serde_json::Map::new();
    for component in project.components() {
        let address = component.address();
        let Some(record) = runner::read_record(&ctx.root, &address) else { continue };
        if json {
            let outputs: serde_json::Map<String, serde_json::Value> =
                record.outputs.into_iter().collect();
            object.insert(address, serde_json::Value::Object(outputs));
        } else if !record.outputs.is_empty() || !record.sensitive_outputs.is_empty() {
            text.push_str(&format!("{address}:\n{}", lines(&record, "  ")));
        }
    }
    if json {
        out.data(&format!("{}\n", serde_json::Value::Object(object)))?;
    } else if text.is_empty() {
        out.status("No component has recorded outputs yet: `infra apply` records them.")?;
    } else {
        out.data(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
