//! `infra why STACK/NAME`: what differs from the component's last successful apply.

use std::process::ExitCode;

use clap::Args;

use crate::{
    ctx::{Ctx, not_a_component, runner_error},
    error::CliError,
    output::Output,
    runs::tool_env,
};

/// Say exactly what changed since a component's last successful apply: which file, which
/// input, which upstream output, or the tool.
#[derive(Debug, Args)]
pub(crate) struct WhyArgs {
    /// The component, as `STACK/NAME`.
    address: String,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &WhyArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    if project.component(&args.address).is_none() {
        return Err(not_a_component(&project, &args.address));
    }
    let store = ctx.store()?;
    // Its upstreams too: its own inputs may be as applied while one it reads from is not.
    let built = runner::with_upstreams(&project, std::slice::from_ref(&args.address));
    let build = runner::build_with(&project, &built, &store, false).map_err(runner_error)?;
    let state = runner::status(&project, &build, &ctx.root, &tool_env())
        .into_iter()
        .find_map(|(address, state, _)| (address == args.address).then_some(state));
    // A run that failed or was interrupted is said first: it is why the node runs again.
    match &state {
        Some(runner::State::Interrupted(message)) => {
            out.data(&format!("`{}`'s last run was interrupted: {message}\n", args.address))?
        }
        Some(runner::State::Failed(message)) => {
            out.data(&format!("`{}`'s last run failed: {message}\n", args.address))?;
        }
        _ => {}
    }
    match runner::why(&project, &build, &ctx.root, &tool_env(), &args.address) {
        None => out.data(&format!("`{}` was never applied\n", args.address))?,
        Some(reasons) if reasons == [runner::Change::NeverApplied] => {
            out.data(&format!("`{}` was never applied\n", args.address))?;
        }
        Some(reasons) if reasons.is_empty() => {
            let waiting = match state {
                Some(runner::State::UpstreamChanged(upstream)) => Some(upstream),
                _ => None,
            };
            match waiting {
                Some(upstream) => out.data(&format!(
                    "`{}`'s own inputs are as at its last apply, but `{upstream}`, which it \
                     depends on, is not up to date: applying it may change what this one reads \
                     (`infra why {upstream}`; `infra plan` shows what reaches this one)\n",
                    args.address
                ))?,
                None => out.data(&format!("`{}` is up to date with its inputs\n", args.address))?,
            }
        }
        Some(reasons) => {
            let mut text = String::new();
            for reason in reasons {
                text.push_str(&reason.to_string());
                text.push('\n');
            }
            out.data(&text)?;
        }
    }
    // Reality is another matter: say what the last drift check found.
    let checked = std::fs::read(runner::Layout::new(&ctx.root).checked(&args.address))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    if let Some(checked) = checked
        && checked["drifted"] == true
    {
        let at = runner::time::utc(checked["at"].as_u64().unwrap_or(0));
        out.data(&format!(
            "reality drifted from its last apply (drift checked {at}): `infra apply --refresh {}` puts it back\n",
            args.address
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
