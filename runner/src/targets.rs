//! Targets: `dev` (a stack), `dev/vpc` (a component), globs (`*/vpc`, `prod/*`). A target
//! or address that names nothing gets the nearest one as a suggestion. A component's hooks
//! (`dev/app.postApply`) come with it.

use evaluator::{Project, did_you_mean};

use crate::error::{RunnerError, RunnerErrorKind};

/// The addresses the targets select, in project order; every component when there are none.
pub fn select_components(
    project: &Project,
    targets: &[String],
) -> Result<Vec<String>, RunnerError> {
    let all: Vec<String> = project.components().map(|c| c.address()).collect();
    if targets.is_empty() {
        return Ok(all);
    }
    let mut selected = vec![false; all.len()];
    for target in targets {
        let mut any = false;
        for (i, address) in all.iter().enumerate() {
            let stack = address.split('/').next().unwrap_or("");
            if target == stack || glob(target, address) {
                selected[i] = true;
                any = true;
            }
        }
        if !any {
            let stacks = project.stacks.iter().map(|s| s.name.as_str());
            let candidates = all.iter().map(String::as_str).chain(stacks);
            return Err(RunnerError {
                address: None,
                kind: RunnerErrorKind::UnknownTarget(target.clone()),
                help: Some(suggestion(target, candidates, &all)),
            });
        }
    }
    // A component's hooks belong to it: selecting it selects them.
    for (i, component) in project.components().enumerate() {
        if let Some(owner) = component.step().and_then(|s| s.hook.as_ref()).map(|h| &h.owner)
            && let Some(j) = all.iter().position(|a| a == owner)
        {
            selected[i] |= selected[j];
        }
    }
    Ok(all.into_iter().zip(selected).filter(|(_, s)| *s).map(|(a, _)| a).collect())
}

/// `selected` and every component they read from or wait for, transitively, in project order:
/// what must be built to say whether the selected ones are up to date (`infra status`,
/// `infra why`), since one whose own inputs are unchanged still waits on a stale upstream.
pub fn with_upstreams(project: &Project, selected: &[String]) -> Vec<String> {
    let mut wanted: std::collections::HashSet<String> = selected.iter().cloned().collect();
    let mut queue: Vec<String> = selected.to_vec();
    while let Some(address) = queue.pop() {
        let Some(component) = project.component(&address) else { continue };
        for upstream in &component.depends_on {
            if wanted.insert(upstream.clone()) {
                queue.push(upstream.clone());
            }
        }
    }
    project.components().map(|c| c.address()).filter(|a| wanted.contains(a)).collect()
}

/// The help line for an address that names no component: "did you mean `dev/cluster`?"
/// when one is close, else every address.
pub fn unknown_component_help(project: &Project, address: &str) -> String {
    let all: Vec<String> = project.components().map(|c| c.address()).collect();
    suggestion(address, all.iter().map(String::as_str), &all)
}

fn suggestion<'a>(
    target: &str,
    candidates: impl Iterator<Item = &'a str>,
    addresses: &[String],
) -> String {
    match did_you_mean(target, candidates) {
        Some(similar) => format!("did you mean `{similar}`?"),
        None if addresses.is_empty() => "the project has no components".to_owned(),
        None => format!("the project has {}", addresses.join(", ")),
    }
}

/// `*` matches any run of characters other than `/`; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else { return false };
            (0..=tail.len())
                .take_while(|&i| !tail[..i].contains('/'))
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_stop_at_slashes() {
        assert!(glob("*/vpc", "dev/vpc"));
        assert!(glob("dev/*", "dev/vpc"));
        assert!(!glob("*", "dev/vpc"));
        assert!(glob("*/*", "dev/vpc"));
        assert!(!glob("dev/v", "dev/vpc"));
    }
}
