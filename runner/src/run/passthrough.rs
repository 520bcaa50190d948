//! `infra tf STACK/NAME -- ARGS…`: any command of the component's tool (`state list`,
//! `import`, `console`, `plan -target=…`) in its work directory, made current first — its
//! files realised, its variables from its inputs and its upstreams' recorded outputs, its
//! secrets in the environment only, `init` if needed — with the terminal attached. Nothing
//! is recorded: infra's records describe what infra applied.

use super::{
    ComponentResult, Done,
    component::{Ctx, Status},
    destroy::recorded_values,
    failure::{Failure, code},
};
use crate::resolve::resolve_inputs;

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> (ComponentResult, Done) {
    if ctx.component.terraform().is_none() {
        let message = format!("`{}` is a step: it has no Terraform directory", ctx.address);
        return ctx.fail(Failure::new(code::TF, message));
    }
    let values = recorded_values(ctx);
    let resolved = match resolve_inputs(ctx.component, &values) {
        Ok(resolved) => resolved,
        Err(missing) => {
            let names: Vec<String> =
                missing.iter().map(|r| format!("`{}.outputs.{}`", r.address, r.output)).collect();
            let message = format!("no value for {}: apply them first", names.join(", "));
            return ctx.fail(Failure::new(code::UPSTREAM, message));
        }
    };
    if let Err(failure) = super::destroy::ready(ctx, &values, &resolved).await {
        return ctx.fail(failure);
    }
    let args = ctx.shared.options.tool_args.clone();
    let mut command = tokio::process::Command::new(&ctx.program);
    command.args(&args).current_dir(&ctx.dir).env("CHECKPOINT_DISABLE", "1");
    for (key, value) in &ctx.env {
        command.env(key, value);
    }
    // The terminal is the user's: the command may ask, page or print as it likes.
    let status = match command.status().await {
        Ok(status) => status,
        Err(e) => {
            let message = format!("cannot run `{}`: {e}", ctx.program.display());
            return ctx.fail(Failure::new(code::SPAWN, message));
        }
    };
    match status.code() {
        Some(0) => (ctx.result(Status::UpToDate, None, None), Done::Ok(None)),
        code => {
            let shown = code.map_or_else(|| "a signal".to_owned(), |c| c.to_string());
            let message = format!(
                "`{} {}` exited with status {shown}",
                ctx.program.display(),
                args.join(" ")
            );
            let mut result = ctx.result(Status::Failed, None, Some(message));
            result.code = Some(code::TF);
            (result, Done::Failed)
        }
    }
}
