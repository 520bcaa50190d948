//! `infra ci github|gitlab`: the generated pipelines validated against the published schemas
//! (check-jsonschema's bundled GitHub workflow and GitLab CI schemas) and by actionlint; their
//! jobs and `needs:` equal the DAG restricted to what is not up to date; the same bytes twice.
//! Then a CI run simulated here: the workflow's jobs executed in an order that respects
//! `needs:`, each in a fresh checkout whose only shared parts are the S3 cache and S3 state
//! (a real moto server); the estate converges, and the next pipeline runs nothing.

#![allow(clippy::disallowed_methods)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
};

use yaml_rust2::{Yaml, YamlLoader};

use crate::{
    s3::{Checkout, Moto, text},
    support::{copy_tree, infra, install, root, scratch_dir, terraform},
};

/// The jobs of a workflow (GitHub: under `jobs`; GitLab: the top-level sets with a `script`),
/// as id → (needs, the shell commands of its steps that run infra).
fn jobs(yaml: &str, github: bool) -> BTreeMap<String, (BTreeSet<String>, Vec<String>)> {
    let doc = YamlLoader::load_from_str(yaml).expect("YAML").remove(0);
    let table = if github { doc["jobs"].clone() } else { doc.clone() };
    let Yaml::Hash(entries) = table else { panic!("no jobs in {yaml}") };
    let mut jobs = BTreeMap::new();
    for (id, job) in entries {
        let id = id.as_str().expect("an id").to_owned();
        if !github && job["script"].is_badvalue() {
            continue; // `stages`, `variables`, `default`
        }
        let needs = job["needs"]
            .as_vec()
            .map(|v| v.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let commands: Vec<String> = if github {
            job["steps"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(|s| s["run"].as_str())
                .map(str::to_owned)
                .collect()
        } else {
            job["script"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
                .map(str::to_owned)
                .collect()
        };
        let commands = commands.into_iter().filter(|c| c.contains("infra ")).collect();
        jobs.insert(id, (needs, commands));
    }
    jobs
}

fn validate(file: &Path, schema: &str) {
    let bin = install("install-ci-tools");
    let checked = Command::new(bin.join("check-jsonschema"))
        .args(["--builtin-schema", schema])
        .arg(file)
        .output()
        .expect("run check-jsonschema");
    assert!(checked.status.success(), "{schema}: {}", text(&checked));
    if schema.contains("github") {
        let linted =
            Command::new(bin.join("actionlint")).arg(file).output().expect("run actionlint");
        assert!(linted.status.success(), "actionlint: {}", text(&linted));
    }
}

#[test]
fn the_pipelines_are_valid_and_follow_the_dag() {
    let dir = scratch_dir("ci-quickstart");
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&root().join("examples/quickstart"), &dir);
    // The DAG, from `infra graph`: a component's job needs its dependencies' jobs (a hook
    // runs in its owner's job).
    let graph = infra(&dir, &["graph", "--format", "json"]);
    let graph: serde_json::Value = serde_json::from_slice(&graph.stdout).expect("graph JSON");
    let mut expected = BTreeMap::new();
    for node in graph["components"].as_array().into_iter().flatten() {
        let address = node["address"].as_str().unwrap_or_default();
        if address.contains('.') {
            continue;
        }
        let needs: BTreeSet<String> = node["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .filter(|d| !d.starts_with(&format!("{address}.")))
            .map(|d| d.replace('/', "-"))
            .collect();
        expected.insert(address.replace('/', "-"), needs);
    }
    assert_eq!(expected.len(), 6, "{graph}");

    for (system, schema) in [("github", "vendor.github-workflows"), ("gitlab", "vendor.gitlab-ci")]
    {
        let github = system == "github";
        let file = dir.join(format!("{system}.yml"));
        let generated = infra(&dir, &["ci", system, "-o", &file.to_string_lossy()]);
        assert!(generated.status.success(), "{}", text(&generated));
        validate(&file, schema);
        let yaml = std::fs::read_to_string(&file).expect("read");
        let mut found = jobs(&yaml, github);
        let summary = found.remove("summary").expect("a summary job");
        if github {
            assert_eq!(summary.0, expected.keys().cloned().collect::<BTreeSet<_>>());
        } else {
            // GitLab: after every job by its stage (`needs:` takes at most 50); two
            // pipelines never run one component's job at once.
            assert!(summary.0.is_empty() && yaml.contains("stage: report"), "{yaml}");
            assert!(yaml.contains("resource_group: \"infra-dev-app\""), "{yaml}");
        }
        let needs: BTreeMap<String, BTreeSet<String>> =
            found.iter().map(|(id, (needs, _))| (id.clone(), needs.clone())).collect();
        assert_eq!(needs, expected, "{system}");
        assert_eq!(
            found["dev-app"].1,
            ["infra apply dev/app dev/app.postApply --only --auto-approve"]
        );
        // Deterministic: byte-identical on a second run.
        let again = infra(&dir, &["ci", system]);
        assert_eq!(String::from_utf8_lossy(&again.stdout), yaml);

        // Capped: two node jobs, waves of independent nodes, each after the one before.
        let capped = dir.join(format!("{system}-capped.yml"));
        let generated = infra(
            &dir,
            &["ci", system, "--plan", "--max-jobs", "2", "-o", &capped.to_string_lossy()],
        );
        assert!(generated.status.success(), "{}", text(&generated));
        validate(&capped, schema);
        let found = jobs(&std::fs::read_to_string(&capped).expect("read"), github);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found["wave-2"].0, BTreeSet::from(["wave-1".to_owned()]));
        assert!(found["wave-2"].1[0].contains("infra plan dev/cluster prod/cluster --only --json"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_readme_shows_the_workflow_infra_writes() {
    let quickstart = root().join("examples/quickstart");
    let output = infra(&quickstart, &["ci", "github", "--all", "--max-jobs", "2"]);
    assert!(output.status.success(), "{}", text(&output));
    let workflow = String::from_utf8_lossy(&output.stdout);
    assert!(workflow.contains("working-directory: \"examples/quickstart\""), "{workflow}");
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    assert!(
        readme.contains(&format!("```yaml\n{workflow}```")),
        "README.md's \"Running in CI\" is not what `infra -C examples/quickstart ci github --all --max-jobs 2` writes:\n{workflow}"
    );
}

/// Runs the jobs of a GitHub workflow here, in an order that respects `needs:`, each in a
/// fresh checkout; returns the ids in the order they ran.
fn run_pipeline(yaml: &str, moto: &Moto, url: &str, name: &str) -> Vec<String> {
    let mut pending = jobs(yaml, true);
    pending.remove("summary");
    let tools = terraform().parent().map(Path::to_path_buf).unwrap_or_default();
    let infra_dir =
        Path::new(env!("CARGO_BIN_EXE_infra")).parent().map(Path::to_path_buf).unwrap_or_default();
    let mut done: Vec<String> = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<String> = pending
            .iter()
            .filter(|(_, (needs, _))| needs.iter().all(|n| done.contains(n)))
            .map(|(id, _)| id.clone())
            .collect();
        assert!(!ready.is_empty(), "jobs wait for each other: {pending:?}");
        for id in ready {
            let (_, commands) = pending.remove(&id).expect("a job");
            let checkout = Checkout::new(&format!("{name}-{id}"));
            for command in commands {
                let mut shell = Command::new("bash");
                shell
                    .args(["-c", &command])
                    .current_dir(&checkout.dir)
                    .env(
                        "PATH",
                        format!("{}:{}:/usr/bin:/bin", infra_dir.display(), tools.display()),
                    )
                    .env("INFRA_CACHE", url)
                    .env("NO_COLOR", "1")
                    .env_remove("INFRA_TF");
                for (key, value) in moto.env() {
                    shell.env(key, value);
                }
                let output = shell.output().expect("run a job");
                assert!(output.status.success(), "job {id}: {command}\n{}", text(&output));
            }
            let _ = std::fs::remove_dir_all(&checkout.dir);
            done.push(id);
        }
    }
    done
}

#[test]
fn a_simulated_ci_run_converges_and_the_next_pipeline_is_empty() {
    let base = scratch_dir("ci-run");
    let moto = Moto::start(&base.join("moto"));
    moto.bucket("cache");
    moto.bucket("state");
    let url = "s3://cache/estate";
    let planner = Checkout::new("ci-run-planner");

    let first = planner.infra(&moto, &["ci", "github", "--cache", url]);
    assert!(first.status.success(), "{}", text(&first));
    let yaml = String::from_utf8_lossy(&first.stdout).into_owned();
    let ran = run_pipeline(&yaml, &moto, url, "ci-run-1");
    assert_eq!(ran.len(), 3, "{ran:?}");
    let dns = ran.iter().position(|id| id == "shared-dns");
    assert_eq!(dns, Some(0), "the upstream runs first: {ran:?}");

    // Converged: a fresh checkout plans nothing, and the next pipeline has no node job.
    let fresh = Checkout::new("ci-run-fresh");
    let plan = fresh.infra(&moto, &["plan", "--json", "--cache", url]);
    let (statuses, processes) = crate::cache::summary(&plan);
    assert_eq!(processes, 0, "{}", text(&plan));
    assert!(statuses.values().all(|s| s == "up-to-date"), "{statuses:?}");
    let next = fresh.infra(&moto, &["ci", "github", "--cache", url]);
    let next_jobs = jobs(&String::from_utf8_lossy(&next.stdout), true);
    assert_eq!(next_jobs.keys().collect::<Vec<_>>(), ["summary"], "{}", text(&next));

    // One change: the pipeline holds that component's jobs only, and converges again.
    fresh.edit("inputs.domain = \"example.internal\";", "inputs.domain = \"example.test\";");
    let changed = fresh.infra(&moto, &["ci", "github", "--cache", url]);
    let yaml = String::from_utf8_lossy(&changed.stdout).into_owned();
    let found = jobs(&yaml, true);
    assert_eq!(found.keys().collect::<Vec<_>>(), ["dev-app", "prod-app", "shared-dns", "summary"]);
    assert_eq!(found["dev-app"].0, BTreeSet::from(["shared-dns".to_owned()]));
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&planner.dir);
    let _ = std::fs::remove_dir_all(&fresh.dir);
}
