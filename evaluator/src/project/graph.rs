//! Checks over the whole project: every reference names a component, and no components
//! depend on each other in a circle.

use std::collections::BTreeMap;

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    project::Project,
    suggest::did_you_mean,
};

/// `spans` maps every address to the component's declaration.
pub(super) fn check(project: &Project, spans: &BTreeMap<String, Span>) -> EvalResult<()> {
    for component in project.components() {
        let from = component.address();
        for target in &component.depends_on {
            if spans.contains_key(target) {
                continue;
            }
            let span = spans.get(&from).copied();
            let mut error =
                EvalError::new(ErrorKind::UnknownComponent { address: target.clone(), from }, span);
            let (stack, name) = target.split_once('/').unwrap_or(("", target));
            let has_stack = project.stacks.iter().any(|s| s.name == stack);
            // An output read is of a component written in the program: one declared but not
            // placed in this stack, not a misspelt name.
            let read = component.reads.iter().any(|r| r.address == *target);
            let in_stack = spans
                .keys()
                .filter(|a| a.starts_with(&format!("{stack}/")) && **a != component.address());
            // (An `infra.output "dev/nett" …` is a read too: a near name is named first.)
            error.help = Some(match did_you_mean(target, in_stack.map(String::as_str)) {
                None if read && has_stack => {
                    format!(
                        "`{name}` is declared but not placed: add it to the `components` of the stack `{stack}`"
                    )
                }
                Some(similar) => format!("did you mean `{similar}`?"),
                None if has_stack => {
                    format!("add it to the `components` of the stack `{stack}`")
                }
                None => {
                    let stacks = project.stacks.iter().map(|s| s.name.as_str());
                    match did_you_mean(stack, stacks) {
                        Some(similar) => {
                            format!("there is no stack `{stack}`: did you mean `{similar}/{name}`?")
                        }
                        None => format!("there is no stack `{stack}`"),
                    }
                }
            });
            return Err(error);
        }
        // Only a Terraform component has a state to read.
        for target in component.state_reads() {
            if project.component(target).is_some_and(|t| t.step().is_some()) {
                return Err(EvalError::new(
                    ErrorKind::InvalidSpec {
                        address: from.clone(),
                        message: format!("`infra.remoteState` of `{target}`, which is a step"),
                    },
                    spans.get(&from).copied(),
                )
                .with_help(format!("a step has no state: read `{target}.outputs.NAME`")));
            }
        }
    }
    if let Some(cycle) = find_cycle(project) {
        let text = cycle.join(" → ");
        let mut error = EvalError::new(
            ErrorKind::DependencyCycle { cycle: text },
            spans.get(&cycle[0]).copied(),
        );
        for pair in cycle.windows(2) {
            if let Some(span) = spans.get(&pair[0]) {
                error.labels.push((*span, format!("`{}` depends on `{}`", pair[0], pair[1])));
            }
        }
        error.help = Some("remove one of these references, or pass the value another way".into());
        return Err(error);
    }
    Ok(())
}

/// A cycle as a list of addresses whose first and last are the same, if there is one.
/// Iterative depth-first search, in address order, so the reported cycle is stable.
fn find_cycle(project: &Project) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let edges: BTreeMap<String, Vec<String>> = project
        .components()
        .map(|c| (c.address(), c.depends_on.iter().cloned().collect()))
        .collect();
    let mut marks: BTreeMap<&str, Mark> = edges.keys().map(|k| (k.as_str(), Mark::New)).collect();
    for start in edges.keys() {
        if marks[start.as_str()] != Mark::New {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Active);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let targets = &edges[node];
            if *next == targets.len() {
                marks.insert(node, Mark::Done);
                stack.pop();
                continue;
            }
            let target = targets[*next].as_str();
            *next += 1;
            match marks.get(target).copied() {
                Some(Mark::New) => {
                    marks.insert(target, Mark::Active);
                    stack.push((target, 0));
                }
                Some(Mark::Active) => {
                    let from = stack.iter().position(|(n, _)| *n == target).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|(n, _)| n.to_string()).collect();
                    cycle.push(target.to_owned());
                    return Some(cycle);
                }
                _ => {}
            }
        }
    }
    None
}
