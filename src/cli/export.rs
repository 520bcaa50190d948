//! `infra export STACK/NAME -o DIR`: a self-contained directory to run Terraform in by hand.

use std::{collections::BTreeMap, path::PathBuf, process::ExitCode};

use clap::Args;

use crate::{
    ctx::{Ctx, not_a_component, runner_error},
    error::CliError,
    output::Output,
};

/// Write one component's work directory to DIR, ready for `terraform init` and `plan`.
///
/// The local backend's state path is made absolute, so the copy shares the project's state.
/// Inputs that read upstream outputs get the values of the upstream's last apply; with
/// `--mock`, an upstream never applied lends its `mockOutputs`. Inputs whose values are not
/// known are listed and left out (Terraform asks for them); the rest is written.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The component, as `STACK/NAME`.
    address: String,
    /// The directory to write (must not exist, or be empty).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// Fill upstream outputs not applied yet from the upstream components' `mockOutputs`.
    #[arg(long)]
    mock: bool,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &ExportArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let Some(component) = project.component(&args.address) else {
        return Err(not_a_component(&project, &args.address));
    };
    let store = ctx.store()?;
    let report = runner::build(&project, std::slice::from_ref(&args.address), &store)
        .map_err(runner_error)?;
    let Some(built) = report.components.first() else {
        return Err(CliError::user("infra::build::export", "nothing was built".into()));
    };
    // Upstream values: the last apply's outputs, else (with `--mock`) the upstream's mocks.
    let mut values = BTreeMap::new();
    for read in &component.reads {
        let recorded = runner::read_record(&ctx.root, &read.address)
            .and_then(|r| r.outputs.get(&read.output).cloned());
        let mock = || {
            args.mock
                .then(|| project.component(&read.address)?.mock_outputs.get(&read.output).cloned())
                .flatten()
        };
        if let Some(value) = recorded.or_else(mock) {
            values.insert(read.clone(), value);
        }
    }
    let (upstream, missing) = runner::resolve_known(component, &values);
    let dest = std::env::current_dir()
        .map(|cwd| cwd.join(&args.output))
        .unwrap_or_else(|_| args.output.clone());
    runner::export(&project, component, built, &store, &ctx.root, &upstream, &dest)
        .map_err(runner_error)?;
    out.status(&format!("exported `{}` to `{}`", args.address, args.output.display()))?;
    let secret = runner::secret_inputs(component);
    if !secret.is_empty() {
        // Never written to a file: a run passes them through the environment.
        let names: Vec<String> = secret.iter().map(|n| format!("`{n}`")).collect();
        out.status(&format!(
            "these inputs hold secrets and are not written: {}; give them to Terraform in \
             the environment ({})",
            names.join(", "),
            secret.iter().map(|n| format!("`TF_VAR_{n}`")).collect::<Vec<_>>().join(", ")
        ))?;
    }
    if component.terraform().is_some_and(|t| t.backend.ty == "local") {
        out.status(
            "its state is the project's own (the local backend's path is absolute): a \
             `terraform apply` there changes it, without infra's policies, approvals or records",
        )?;
    }
    if !missing.is_empty() {
        // Everything known is written; Terraform asks for the rest (`-var NAME=VALUE`).
        let mut text =
            String::from("these inputs are pending (their upstream outputs are not known yet):");
        let mut upstreams = std::collections::BTreeSet::new();
        for (input, reads) in &missing {
            let names: Vec<String> =
                reads.iter().map(|r| format!("`{}.outputs.{}`", r.address, r.output)).collect();
            upstreams.extend(reads.iter().map(|r| format!("`{}`", r.address)));
            text.push_str(&format!("\n  {input}: reads {}", names.join(", ")));
        }
        let upstreams: Vec<String> = upstreams.into_iter().collect();
        let how = if args.mock { "add `mockOutputs` to" } else { "pass `--mock`, or apply" };
        text.push_str(&format!(
            "\n  {how} {} (or give them to Terraform with `-var`)",
            upstreams.join(", ")
        ));
        out.status(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}
