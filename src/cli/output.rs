//! `infra output STACK/NAME`: the outputs of a component's last successful apply.

use std::process::ExitCode;

use clap::Args;

use crate::{ctx::Ctx, error::CliError, output::Output};

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
