//! `infra destroy`: list what will be destroyed (targets, their dependents, globs expanded,
//! resource counts), ask, then destroy, dependents first.

use std::process::ExitCode;

use clap::Args;
use runner::Mode;

use crate::{
    ctx::Ctx,
    error::CliError,
    output::Output,
    runs::{Review, RunArgs},
};

/// Destroy the selected components and what depends on them, dependents first.
///
/// Targets are required: `infra destroy` without targets refuses. Destroy a stack with
/// `infra destroy dev`, everything with `infra destroy '*/*'`. The resolved set (globs
/// expanded, dependents added, each with its resource count) is shown before you are asked.
#[derive(Debug, Args)]
pub(crate) struct DestroyArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    auto_approve: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &DestroyArgs) -> Result<ExitCode, CliError> {
    if args.run.targets.is_empty() {
        return Err(CliError::user(
            "infra::run::no_target",
            "`infra destroy` needs targets (a stack, a component or a glob)".into(),
        )
        .with_hint(
            "`infra destroy dev` destroys the stack `dev`; `infra destroy '*/*'` everything".into(),
        ));
    }
    let Some(session) = crate::runs::open(out, ctx, &args.run, Mode::Destroy)? else {
        return Ok(ExitCode::FAILURE);
    };
    if !args.auto_approve {
        super::apply::require_terminal("destroy")?;
    }
    let layout = runner::Layout::new(&ctx.root);
    let direct = runner::select_components(&session.project, &args.run.targets)
        .map_err(crate::ctx::runner_error)?;
    let count = runner::count(session.selected.len(), "component", "components");
    let mut text = format!("infra will destroy {count}, dependents first:\n");
    for address in &session.selected {
        let resources = std::fs::read(layout.tfstate(address))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|state| managed_instances(&state));
        let applied = runner::read_record(&ctx.root, address).is_some();
        let what = match (resources, applied) {
            (Some(n), _) => format!("{n} resource{}", if n == 1 { "" } else { "s" }),
            (None, true) => "resources in its backend".to_owned(),
            (None, false) => "never applied".to_owned(),
        };
        let why = if direct.contains(address) { "" } else { " — depends on a target" };
        text.push_str(&format!("  {address}: {what}{why}\n"));
    }
    out.status(text.trim_end())?;
    if !args.auto_approve && !super::apply::ask("Destroy them?")? {
        out.status("Nothing was destroyed.")?;
        return Ok(ExitCode::FAILURE);
    }
    let report = crate::runs::execute(out, ctx, &session, &args.run, Mode::Destroy, Review::None)?;
    Ok(crate::runs::exit_code(&report))
}

/// How many resource instances a state holds that a destroy deletes: those of managed
/// resources (a `for_each` or `count` resource has one per key), not data sources.
fn managed_instances(state: &serde_json::Value) -> Option<usize> {
    let resources = state.get("resources")?.as_array()?;
    Some(
        resources
            .iter()
            .filter(|r| r.get("mode").and_then(|m| m.as_str()) != Some("data"))
            .map(|r| r.get("instances").and_then(|i| i.as_array()).map_or(1, Vec::len))
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_instances_of_managed_resources() {
        let state = serde_json::json!({ "resources": [
            { "mode": "managed", "instances": [ {}, {} ] },
            { "mode": "data", "instances": [ {} ] },
            { "mode": "managed", "instances": [ {} ] },
        ] });
        assert_eq!(managed_instances(&state), Some(3));
        assert_eq!(managed_instances(&serde_json::json!({ "resources": [] })), Some(0));
        assert_eq!(managed_instances(&serde_json::json!({})), None);
    }
}
