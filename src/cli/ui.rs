//! `infra ui`: the web view (`crate::ui`), on loopback unless told otherwise.

use std::{net::SocketAddr, process::ExitCode};

use clap::Args;

use crate::{
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
    runs::tool_env,
};

/// Serve a web view of the estate: the graph with each node's state, a node's plan, policy
/// verdicts, approvals, outputs, history and log, and the history with filters.
#[derive(Debug, Args)]
pub(crate) struct UiArgs {
    /// Where to listen (a loopback address unless you mean it).
    #[arg(long, default_value = "127.0.0.1:8470", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Show an approve button on nodes whose plan awaits approval (the same record as
    /// `infra approve`, as the user `INFRA_USER`/`USER` unless the form says otherwise).
    #[arg(long)]
    allow_approve: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &UiArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let all: Vec<String> = project.components().map(|c| c.address()).collect();
    let store = ctx.store()?;
    let build = runner::build_with(&project, &all, &store, false).map_err(runner_error)?;
    let app = crate::ui::App {
        project,
        build,
        root: ctx.root.clone(),
        tool_env: tool_env(),
        allow_approve: args.allow_approve,
        user: crate::policy::user(),
        history: ctx.history.clone(),
    };
    crate::ui::serve(app, args.listen).map_err(|e| CliError::user("infra::ui::serve", e))?;
    Ok(ExitCode::SUCCESS)
}
