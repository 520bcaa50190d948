//! A component's hooks (`hooks = { prePlan = [ "cmd" ]; postApply = [ "cmd" ]; }`) become
//! steps of the graph, named `NAME.prePlan` and `NAME.postApply`, that run in the component's
//! work directory:
//!
//! - `NAME.prePlan` reads what the component reads, so it runs again when the component's
//!   files or those upstream values change; `infra plan` runs it too (the plan may need what
//!   it makes), and the component plans again after each of its runs (`rerunAfter`).
//! - `NAME.postApply` runs after each apply of the component (`rerunAfter` the component).
//!
//! Each has its own log, record and status, so a failed `postApply` hook runs again alone,
//! without another apply of its component.

use std::collections::BTreeMap;

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    project::{Action, Component, Hook, HookWhen, Kind, Retries, Step},
    value::{Attrs, Value},
};

/// The hook commands of a component spec, by when they run (empty lists left out).
pub(super) fn read(
    m: &mut Machine,
    spec: &Attrs,
    address: &str,
    span: Span,
) -> EvalResult<Vec<(HookWhen, Vec<String>)>> {
    let error = |message: String| {
        EvalError::new(ErrorKind::InvalidSpec { address: address.to_owned(), message }, Some(span))
    };
    let Some(thunk) = spec.get("hooks").cloned() else { return Ok(Vec::new()) };
    let value = m.force(&thunk)?;
    let Value::Attrs(attrs) = &value else {
        return Err(error(format!("`hooks` is {}, not a set", value.describe())));
    };
    for key in attrs.names() {
        if key != "prePlan" && key != "postApply" {
            return Err(error(format!("there is no hook `{key}`"))
                .with_help("hooks are `prePlan` and `postApply`"));
        }
    }
    let mut hooks = Vec::new();
    for when in [HookWhen::PrePlan, HookWhen::PostApply] {
        let commands = super::extract::string_list(m, attrs, when.name(), address, span)?;
        if !commands.is_empty() {
            hooks.push((when, commands));
        }
    }
    Ok(hooks)
}

/// The hook steps of `owner`, which is changed to depend on its `prePlan` hook and plan again
/// after each of its runs.
pub(super) fn nodes(owner: &mut Component, hooks: Vec<(HookWhen, Vec<String>)>) -> Vec<Component> {
    let address = owner.address();
    let mut nodes = Vec::new();
    for (when, commands) in hooks {
        let name = format!("{}.{}", owner.name, when.name());
        let hook_address = format!("{}/{name}", owner.stack);
        let (depends_on, reads, rerun_after) = match when {
            HookWhen::PrePlan => {
                let upstream = owner.depends_on.clone();
                owner.depends_on.insert(hook_address.clone());
                owner.rerun_after.insert(hook_address);
                (upstream, owner.reads.clone(), Default::default())
            }
            HookWhen::PostApply => {
                let owner_only: std::collections::BTreeSet<String> = [address.clone()].into();
                (owner_only.clone(), Default::default(), owner_only)
            }
        };
        nodes.push(Component {
            stack: owner.stack.clone(),
            name,
            inputs: BTreeMap::new(),
            depends_on,
            reads,
            secrets: Default::default(),
            required_outputs: Default::default(),
            mock_outputs: BTreeMap::new(),
            rerun_after,
            kind: Kind::Step(Step {
                action: Action::Run(shell(&commands)),
                src: None,
                env: BTreeMap::new(),
                timeout_ms: None,
                retries: Retries::default(),
                destroy: Vec::new(),
                hook: Some(Hook { owner: address.clone(), when }),
            }),
            span: owner.span,
        });
    }
    nodes
}

/// Each command in its own `sh -c`, in order, stopping at the first that fails.
fn shell(commands: &[String]) -> Vec<String> {
    match commands {
        [one] => vec!["sh".to_owned(), "-c".to_owned(), one.clone()],
        _ => {
            let mut argv = vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "for c in \"$@\"; do sh -c \"$c\" || exit; done".to_owned(),
                "sh".to_owned(),
            ];
            argv.extend(commands.iter().cloned());
            argv
        }
    }
}
