//! The values a component must not have written anywhere: decrypted secrets and sensitive
//! upstream outputs (read from the upstream's state when the component runs), passed as
//! `TF_VAR_…` and scrubbed from everything Terraform prints.

use std::collections::{BTreeMap, BTreeSet};

use evaluator::{Json, OutputRef};

use super::apply::{Outputs, local_state};
use crate::{
    process::LogMode,
    run::component::Ctx,
    run::failure::{Coded, Failure, code},
    run::secret_inputs::{SensitiveValues, private_inputs},
    run::terraform,
};

/// Whether the component's plan holds values that must not be kept: decrypted secrets, or
/// sensitive upstream outputs.
pub(crate) fn is_private(ctx: &Ctx<'_>, resolved: &BTreeMap<String, Json>) -> bool {
    !ctx.component.secrets.is_empty() || resolved.values().any(crate::resolve::holds_sensitive)
}

/// The sensitive upstream outputs the inputs read, from each upstream's state (the local
/// state file, else `output -json` in its work directory, never logged). They are passed like
/// secrets (`private_inputs`): `TF_VAR_…` in the environment, scrubbed from everything
/// Terraform prints.
pub(crate) async fn fetch_sensitive(
    ctx: &mut Ctx<'_>,
    resolved: &BTreeMap<String, Json>,
) -> Result<SensitiveValues, Failure> {
    let mut wanted = BTreeSet::new();
    for value in resolved.values() {
        crate::resolve::sensitive_reads(value, &mut wanted);
    }
    let addresses: BTreeSet<String> = wanted.iter().map(|(a, _)| a.clone()).collect();
    let mut values = BTreeMap::new();
    for address in addresses {
        let (_, sensitive) = upstream_outputs(ctx, &address).await?;
        for (_, name) in wanted.iter().filter(|(a, _)| *a == address) {
            let value = sensitive.get(name).ok_or_else(|| {
                Failure::new(
                    code::UPSTREAM,
                    format!(
                        "`{address}` has no sensitive output `{name}` in its state: apply it again"
                    ),
                )
            })?;
            values.insert((address.clone(), name.clone()), value.clone());
        }
    }
    Ok(values)
}

/// Decrypts secrets and reads sensitive upstream values for a component that runs: its
/// `TF_VAR_…` environment and the strings to scrub.
pub(crate) async fn private_environment(
    ctx: &mut Ctx<'_>,
    values: &BTreeMap<OutputRef, Json>,
    resolved: &BTreeMap<String, Json>,
) -> Result<(), Failure> {
    let sensitive = fetch_sensitive(ctx, resolved).await?;
    let (env, scrub) =
        private_inputs(ctx.shared, ctx.component, values, &sensitive).code(code::SECRET)?;
    ctx.env = env;
    ctx.scrub = scrub;
    Ok(())
}

/// The outputs of another component as its state holds them now.
pub(crate) async fn upstream_outputs(ctx: &mut Ctx<'_>, address: &str) -> Result<Outputs, Failure> {
    let fail = |message: String| Failure::new(code::UPSTREAM, message);
    let shared = ctx.shared;
    let upstream = shared
        .project
        .component(address)
        .ok_or_else(|| fail(format!("`{address}` is not in the project")))?;
    if let Some(path) = local_state(&shared.layout, upstream) {
        let bytes = std::fs::read(&path).map_err(|e| {
            let mut message =
                format!("cannot read the state of `{address}` (`{}`): {e}", path.display());
            if e.kind() == std::io::ErrorKind::NotFound {
                // Sensitive outputs are never recorded or shared: they are read from the
                // upstream's state, and a local state lives on the machine that applied it.
                message.push_str(&format!(
                    "; a sensitive output is read from its state, and a local state is not \
                     shared through a cache: give `{address}` a remote backend (`backend`), or \
                     apply it on this machine"
                ));
            }
            fail(message)
        })?;
        return terraform::state_outputs(&bytes)
            .ok_or_else(|| fail(format!("the state of `{address}` is not readable")));
    }
    let dir = shared.layout.work(address);
    if !dir.join(".terraform").is_dir() {
        return Err(fail(format!(
            "cannot read the sensitive outputs of `{address}`: its work directory is not initialised here (apply it first)"
        )));
    }
    let done = ctx.run_tool("output", &["output", "-json"], &dir, LogMode::StderrOnly).await?;
    if !done.success {
        return Err(fail(format!("`output -json` of `{address}` failed")));
    }
    terraform::outputs(&done.stdout)
        .ok_or_else(|| fail("`output -json` printed something that is not JSON".to_owned()))
}
