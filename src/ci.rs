//! CI pipelines from the DAG (`infra ci github|gitlab`): one job per node that is not up to
//! date (a component's hooks run in its job), `needs:` the DAG's edges among them, or, past
//! `--max-jobs`, one job per wave of independent nodes. Each job runs `infra apply ADDR
//! --only` (or `infra plan`, keeping the plan as an artefact) in a fresh checkout that shares
//! the cache the CI's secret `INFRA_CACHE` names; a last job reports every node's state. The
//! YAML is written by hand from sorted data: the same project and cache give the same bytes.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
};

/// One CI job: the nodes it runs and the jobs it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Job {
    pub(crate) id: String,
    pub(crate) addresses: Vec<String>,
    pub(crate) needs: Vec<String>,
}

/// What the pipeline runs, and how.
pub(crate) struct Pipeline {
    pub(crate) jobs: Vec<Job>,
    /// The project's directory relative to the repository root (empty at the root).
    pub(crate) workdir: String,
    /// `infra plan` (for pull requests) instead of `infra apply`.
    pub(crate) plan: bool,
    /// The shell command that puts `infra` on the runner's PATH.
    pub(crate) install: String,
    /// GitHub's `runs-on`, GitLab's `image` (none: the runner's default).
    pub(crate) runner: Option<String>,
    /// The project has age secrets: jobs get the identity from the CI's secret.
    pub(crate) secrets: bool,
    /// Every selected node (`--all`), not only those that are not up to date.
    pub(crate) all: bool,
}

/// The jobs for `nodes` (addresses), each in the group `group_of` names (a hook's group is
/// its owner), waiting for the groups of what `deps` says they depend on. With more groups
/// than `max_jobs`, independent groups share a job per wave (and consecutive waves a job,
/// when there are more waves than `max_jobs`).
pub(crate) fn jobs(
    nodes: &BTreeSet<String>,
    group_of: impl Fn(&str) -> String,
    deps: &BTreeMap<String, BTreeSet<String>>,
    max_jobs: Option<usize>,
) -> Vec<Job> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in nodes {
        groups.entry(group_of(node)).or_default().push(node.clone());
    }
    let mut needs: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (group, members) in &groups {
        let entry = needs.entry(group.as_str()).or_default();
        for dep in members.iter().flat_map(|m| deps.get(m).into_iter().flatten()) {
            let other = group_of(dep);
            if nodes.contains(dep) && other != *group {
                entry.insert(other);
            }
        }
    }
    let ids = job_ids(groups.keys());
    let limit = max_jobs.unwrap_or(usize::MAX).max(1);
    if groups.len() <= limit {
        return groups
            .iter()
            .map(|(group, members)| Job {
                id: ids[group].clone(),
                addresses: members.clone(),
                needs: needs[group.as_str()].iter().map(|g| ids[g].clone()).collect(),
            })
            .collect();
    }
    // Waves: a group's wave is one past the deepest of the groups it needs.
    let mut wave: BTreeMap<&str, usize> = BTreeMap::new();
    while wave.len() < groups.len() {
        let before = wave.len();
        for group in groups.keys() {
            let deps = &needs[group.as_str()];
            if !wave.contains_key(group.as_str())
                && deps.iter().all(|d| wave.contains_key(d.as_str()))
            {
                let depth = deps.iter().map(|d| wave[d.as_str()] + 1).max().unwrap_or(0);
                wave.insert(group, depth);
            }
        }
        if wave.len() == before {
            // Invariant: the project's graph has no cycles (checked when it is evaluated);
            // should one reach here, its groups go last rather than loop.
            let last = wave.values().max().map_or(0, |w| w + 1);
            for group in groups.keys() {
                wave.entry(group).or_insert(last);
            }
        }
    }
    let waves = wave.values().max().map_or(0, |w| w + 1);
    let per_job = waves.div_ceil(limit);
    let mut jobs: Vec<Job> = Vec::new();
    for (group, members) in &groups {
        let index = wave[group.as_str()] / per_job;
        while jobs.len() <= index {
            let id = format!("wave-{}", jobs.len() + 1);
            let needs = jobs.last().map(|j: &Job| vec![j.id.clone()]).unwrap_or_default();
            jobs.push(Job { id, addresses: Vec::new(), needs });
        }
        jobs[index].addresses.extend(members.iter().cloned());
    }
    jobs.retain(|j| !j.addresses.is_empty());
    jobs
}

/// A job id per group: its address with every character a CI does not take in an id as
/// `-`, starting with a letter, unique.
fn job_ids<'a>(groups: impl Iterator<Item = &'a String>) -> BTreeMap<String, String> {
    // Compared without case: GitHub's job ids are case-insensitive.
    let mut taken = BTreeSet::from(["summary".to_owned()]);
    let mut ids = BTreeMap::new();
    for group in groups {
        let mut id: String = group
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' })
            .collect();
        if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            id.insert_str(0, "n-");
        }
        let mut unique = id.clone();
        let mut n = 2;
        while !taken.insert(unique.to_ascii_lowercase()) {
            unique = format!("{id}-{n}");
            n += 1;
        }
        ids.insert(group.clone(), unique);
    }
    ids
}

/// A YAML double-quoted scalar (JSON's string syntax is YAML's).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// The shell command a job runs.
fn command(pipeline: &Pipeline, job: &Job) -> String {
    let addresses: Vec<String> = job.addresses.iter().map(|a| shell_word(a)).collect();
    let addresses = addresses.join(" ");
    if pipeline.plan {
        format!(
            "mkdir -p infra-plan && infra plan {addresses} --only --json > infra-plan/{}.jsonl",
            job.id
        )
    } else {
        format!("infra apply {addresses} --only --auto-approve")
    }
}

fn shell_word(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn header(out: &mut String, generator: &str, pipeline: &Pipeline) {
    let nodes: usize = pipeline.jobs.iter().map(|j| j.addresses.len()).sum();
    let which = if pipeline.all {
        ""
    } else {
        plural(nodes, " that was not up to date", " that were not up to date")
    };
    let _ = writeln!(
        out,
        "# Generated by `{generator}`: {} {} for {nodes} {}{which}, in the DAG's order.",
        pipeline.jobs.len(),
        plural(pipeline.jobs.len(), "job", "jobs"),
        plural(nodes, "node", "nodes"),
    );
    out.push_str(
        "# Regenerate it after a change; every job shares the cache that INFRA_CACHE names.\n",
    );
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A GitHub Actions workflow.
pub(crate) fn github(pipeline: &Pipeline) -> String {
    let mut out = String::new();
    header(&mut out, "infra ci github", pipeline);
    out.push_str("name: infra\n");
    if pipeline.plan {
        out.push_str("on:\n  pull_request:\n  workflow_dispatch:\n");
    } else {
        out.push_str("on:\n  push:\n    branches: [main]\n  workflow_dispatch:\n");
    }
    out.push_str("permissions:\n  contents: read\n");
    out.push_str("concurrency:\n  group: infra\n  cancel-in-progress: false\n");
    out.push_str("env:\n");
    out.push_str("  INFRA_CACHE: ${{ secrets.INFRA_CACHE }}\n");
    out.push_str("  INFRA_CACHE_SIGNING_KEY: ${{ secrets.INFRA_CACHE_SIGNING_KEY }}\n");
    out.push_str("  INFRA_USER: ${{ github.actor }}\n");
    out.push_str("  AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}\n");
    out.push_str("  AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n");
    if pipeline.secrets {
        out.push_str("  INFRA_AGE_IDENTITY: ${{ github.workspace }}/../infra-identity.txt\n");
    }
    // `shell: bash` is bash with `-eo pipefail`: a failed `infra` in a pipe fails the step.
    out.push_str("defaults:\n  run:\n    shell: bash\n");
    if !pipeline.workdir.is_empty() {
        let _ = writeln!(out, "    working-directory: {}", quoted(&pipeline.workdir));
    }
    out.push_str("jobs:\n");
    let runs_on = pipeline.runner.clone().unwrap_or_else(|| "ubuntu-latest".to_owned());
    let setup = |out: &mut String| {
        out.push_str("    steps:\n      - uses: actions/checkout@v4\n");
        out.push_str("      - uses: hashicorp/setup-terraform@v3\n        with:\n          terraform_wrapper: false\n");
        let _ = writeln!(
            out,
            "      - name: install infra\n        run: {}",
            quoted(&pipeline.install)
        );
        if pipeline.secrets {
            out.push_str("      - name: age identity\n        run: printf '%s\\n' \"$KEY\" > \"$INFRA_AGE_IDENTITY\"\n        env:\n          KEY: ${{ secrets.INFRA_AGE_KEY }}\n");
        }
    };
    for job in &pipeline.jobs {
        let _ = writeln!(out, "  {}:", job.id);
        let _ = writeln!(out, "    name: {}", quoted(&job.addresses.join(" ")));
        let _ = writeln!(out, "    runs-on: {}", quoted(&runs_on));
        if !job.needs.is_empty() {
            let _ = writeln!(out, "    needs: [{}]", job.needs.join(", "));
        }
        setup(&mut out);
        let verb = if pipeline.plan { "plan" } else { "apply" };
        let _ = writeln!(
            out,
            "      - name: {}",
            quoted(&format!("{verb} {}", job.addresses.join(" ")))
        );
        let _ = writeln!(out, "        run: {}", quoted(&command(pipeline, job)));
        if pipeline.plan {
            let dir = if pipeline.workdir.is_empty() {
                "infra-plan/".to_owned()
            } else {
                format!("{}/infra-plan/", pipeline.workdir)
            };
            out.push_str(
                "      - uses: actions/upload-artifact@v4\n        if: always()\n        with:\n",
            );
            let _ = writeln!(out, "          name: {}", quoted(&format!("plan-{}", job.id)));
            let _ = writeln!(out, "          path: {}", quoted(&dir));
        }
    }
    out.push_str("  summary:\n    name: summary\n    if: always()\n");
    let _ = writeln!(out, "    runs-on: {}", quoted(&runs_on));
    if !pipeline.jobs.is_empty() {
        let ids: Vec<&str> = pipeline.jobs.iter().map(|j| j.id.as_str()).collect();
        let _ = writeln!(out, "    needs: [{}]", ids.join(", "));
    }
    setup(&mut out);
    out.push_str(
        "      - name: status\n        run: infra status | tee -a \"$GITHUB_STEP_SUMMARY\"\n",
    );
    out
}

/// A GitLab CI pipeline (for a child pipeline: `trigger: include: artifact:`).
pub(crate) fn gitlab(pipeline: &Pipeline) -> String {
    let mut out = String::new();
    header(&mut out, "infra ci gitlab", pipeline);
    out.push_str("stages: [infra, report]\n");
    out.push_str("variables:\n  INFRA_USER: $GITLAB_USER_LOGIN\n");
    out.push_str("default:\n");
    if let Some(image) = &pipeline.runner {
        let _ = writeln!(out, "  image: {}", quoted(image));
    }
    out.push_str("  before_script:\n");
    if !pipeline.workdir.is_empty() {
        let _ = writeln!(out, "    - {}", quoted(&format!("cd {}", shell_word(&pipeline.workdir))));
    }
    let _ = writeln!(out, "    - {}", quoted(&pipeline.install));
    for job in &pipeline.jobs {
        let _ = writeln!(out, "{}:", job.id);
        out.push_str("  stage: infra\n");
        // Two pipelines never run one component's job at once; different ones run in parallel.
        let _ = writeln!(out, "  resource_group: {}", quoted(&format!("infra-{}", job.id)));
        let _ = writeln!(out, "  needs: [{}]", job.needs.join(", "));
        let _ = writeln!(out, "  script:\n    - {}", quoted(&command(pipeline, job)));
        if pipeline.plan {
            let dir = if pipeline.workdir.is_empty() {
                "infra-plan/".to_owned()
            } else {
                format!("{}/infra-plan/", pipeline.workdir)
            };
            let _ = writeln!(out, "  artifacts:\n    when: always\n    paths: [{}]", quoted(&dir));
        }
    }
    // After every job by its stage (`needs:` may name at most 50 jobs).
    out.push_str("summary:\n  stage: report\n  when: always\n");
    out.push_str("  script:\n    - infra status\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(edges: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            deps.entry((*from).into()).or_default().insert((*to).into());
        }
        deps
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn owner(address: &str) -> String {
        address.split('.').next().unwrap_or(address).to_owned()
    }

    #[test]
    fn one_job_per_node_with_its_hooks_and_the_edges_among_them() {
        let deps = deps(&[("dev/b", "dev/a"), ("dev/c", "dev/b"), ("dev/b.postApply", "dev/b")]);
        let jobs = jobs(&set(&["dev/b", "dev/b.postApply", "dev/c"]), owner, &deps, None);
        assert_eq!(
            jobs,
            [
                Job {
                    id: "dev-b".into(),
                    addresses: vec!["dev/b".into(), "dev/b.postApply".into()],
                    needs: vec![]
                },
                Job {
                    id: "dev-c".into(),
                    addresses: vec!["dev/c".into()],
                    needs: vec!["dev-b".into()]
                },
            ]
        );
    }

    #[test]
    fn past_the_limit_independent_nodes_share_a_wave_and_waves_merge() {
        let deps = deps(&[("s/b", "s/a"), ("s/c", "s/a"), ("s/d", "s/b")]);
        let nodes = set(&["s/a", "s/b", "s/c", "s/d"]);
        let waves = jobs(&nodes, owner, &deps, Some(3));
        let shape: Vec<(&str, Vec<&str>, Vec<&str>)> = waves
            .iter()
            .map(|j| {
                (
                    j.id.as_str(),
                    j.addresses.iter().map(String::as_str).collect(),
                    j.needs.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("wave-1", vec!["s/a"], vec![]),
                ("wave-2", vec!["s/b", "s/c"], vec!["wave-1"]),
                ("wave-3", vec!["s/d"], vec!["wave-2"]),
            ]
        );
        let two = jobs(&nodes, owner, &deps, Some(2));
        assert_eq!(two.len(), 2);
        assert_eq!(two[0].addresses, ["s/a", "s/b", "s/c"]);
        assert_eq!(two[1].addresses, ["s/d"]);
        assert_eq!(two[1].needs, ["wave-1"]);
    }

    #[test]
    fn job_ids_are_valid_and_unique() {
        let ids = job_ids(["1st/x.y", "1st/x-y", "summary"].map(String::from).iter());
        assert_eq!(ids["1st/x.y"], "n-1st-x-y");
        assert_eq!(ids["1st/x-y"], "n-1st-x-y-2");
        assert_eq!(ids["summary"], "summary-2");
    }
}
