//! `infra graph`: the component graph as DOT, Mermaid or JSON.

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::{
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
};

/// Print the component graph (an edge points from a component to what it depends on).
#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// Stacks, components or globs to show; all when none.
    targets: Vec<String>,
    /// `dot` (Graphviz), `mermaid` or `json`.
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Dot,
    Mermaid,
    Json,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &GraphArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let addresses = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let format = match args.format {
        Format::Dot => runner::GraphFormat::Dot,
        Format::Mermaid => runner::GraphFormat::Mermaid,
        Format::Json => runner::GraphFormat::Json,
    };
    out.data(&runner::render_graph(&project, &addresses, format))?;
    Ok(ExitCode::SUCCESS)
}
