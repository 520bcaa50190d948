//! `infra output STACK/NAME`: the outputs of a component's last successful apply. The record
//! alone answers; without one, the project is evaluated to tell a component never applied
//! from an address that names none (with the nearest one as a suggestion).

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
    /// The component, as `STACK/NAME`.
    address: String,
    /// Print them as one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &OutputArgs) -> Result<ExitCode, CliError> {
    let Some(record) = runner::read_record(&ctx.root, &args.address) else {
        let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
        if project.component(&args.address).is_none() {
            return Err(not_a_component(&project, &args.address));
        }
        return Err(CliError::user(
            "infra::run::never_applied",
            format!("`{}` has no recorded apply", args.address),
        )
        .with_hint(format!("run `infra apply {}`", args.address)));
    };
    if args.json {
        let object: serde_json::Map<String, serde_json::Value> =
            record.outputs.into_iter().collect();
        out.data(&format!("{}\n", serde_json::Value::Object(object)))?;
    } else {
        let mut text = String::new();
        for (name, value) in &record.outputs {
            text.push_str(&format!("{name} = {value}\n"));
        }
        for name in record.sensitive_outputs.keys() {
            text.push_str(&format!("{name} = (sensitive)\n"));
        }
        out.data(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
