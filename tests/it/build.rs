//! `infra build`, `export`, `graph` and `store` end to end, with the real Terraform 1.0.3 for
//! what Terraform must accept: reproducible hashes across directories and environments,
//! change detection down to the derivation, concurrent builds, verify and gc.

#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Stdio},
};

use crate::support::{example, infra, scratch_dir, terraform};

/// `infra build` in `dir`: address → work-directory object name.
fn build(dir: &Path) -> BTreeMap<String, String> {
    let output = infra(dir, &["build"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "infra build failed:\n{stderr}");
    parse_build(&String::from_utf8_lossy(&output.stdout))
}

fn parse_build(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(address, path)| {
            let name = Path::new(path).file_name().unwrap_or_default().to_string_lossy();
            (address.to_owned(), name.into_owned())
        })
        .collect()
}

fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    before.iter().filter(|(k, v)| after.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect()
}

fn run_terraform(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(terraform())
        .args(args)
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run terraform");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn every_example_component_exports_to_a_directory_terraform_accepts() {
    for name in ["hierarchy", "remote-state"] {
        let project = example(name, &format!("{name}-export"));
        let built = build(&project);
        assert!(built.len() >= 3, "{built:?}");
        export_and_validate(&project, &built);
        let _ = std::fs::remove_dir_all(&project);
    }
    let project = example("quickstart", "quickstart-export");
    let built = build(&project);
    assert_eq!(built.len(), 6, "{built:?}");
    export_and_validate(&project, &built);
    check_quickstart_exports(&project);
}

/// Exports every built component (with mocks) and runs `terraform init` and `validate` in it.
fn export_and_validate(project: &Path, built: &BTreeMap<String, String>) {
    for address in built.keys() {
        let dest = project.join("exported").join(address.replace('/', "-"));
        let output = infra(project, &["export", address, "-o", &dest.to_string_lossy(), "--mock"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let (ok, log) = run_terraform(&dest, &["init", "-input=false", "-no-color"]);
        assert!(ok, "terraform init of {address}:\n{log}");
        let (ok, log) = run_terraform(&dest, &["validate", "-no-color"]);
        assert!(ok && log.contains("Success"), "terraform validate of {address}:\n{log}");
    }
}

fn check_quickstart_exports(project: &Path) {
    // The mock value reached Terraform through the upstream tfvars file.
    let cluster = project.join("exported/dev-cluster");
    let (ok, log) = run_terraform(&cluster, &["plan", "-input=false", "-no-color"]);
    assert!(ok, "{log}");
    assert!(log.contains("https://dev-cluster.net-mock.example.internal"), "{log}");
    // The state path is absolute into the project, so the export shares its state.
    let backend = std::fs::read_to_string(cluster.join("backend.tf.json")).unwrap_or_default();
    assert!(backend.contains(&format!("{}/.infra/tfstate/dev/cluster.tfstate", project.display())));
    // Without `--mock`, an upstream never applied leaves its readers' inputs pending: the rest
    // is written, the pending inputs are named, and Terraform validates the directory.
    let output = infra(project, &["export", "dev/cluster", "-o", "unmocked"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("network_id: reads `dev/network.outputs.network_id`")
            && stderr.contains("apply `dev/network`"),
        "{stderr}"
    );
    let unmocked = project.join("unmocked");
    assert!(!unmocked.join("infra.upstream.auto.tfvars.json").exists());
    let (ok, log) = run_terraform(&unmocked, &["init", "-input=false", "-no-color"]);
    assert!(ok, "{log}");
    let (ok, log) = run_terraform(&unmocked, &["validate", "-no-color"]);
    assert!(ok && log.contains("Success"), "{log}");
    let _ = std::fs::remove_dir_all(project);
}

#[test]
fn the_same_project_builds_to_the_same_hashes_anywhere() {
    let a = example("quickstart", "repro-a");
    let b = example("quickstart", "repro-b-elsewhere");
    let first = build(&a);
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("umask 077; exec '{}' build", env!("CARGO_BIN_EXE_infra")))
        .current_dir(&b)
        .env("TZ", "Asia/Kathmandu")
        .env("LANG", "C")
        .env("HOME", &b)
        .env("INFRA_UNRELATED", "x")
        .stdin(Stdio::null())
        .output()
        .expect("run infra");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let second = parse_build(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(first, second);
    // And the generated files hold no absolute path of either checkout.
    for (address, object) in &first {
        for dir in [&a, &b] {
            let workdir = dir.join(".infra/store").join(object);
            for entry in std::fs::read_dir(&workdir).expect("a work directory") {
                let text =
                    std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
                assert!(
                    !text.contains(&*dir.to_string_lossy()),
                    "{address}: absolute path in {text}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn a_change_rebuilds_exactly_what_depends_on_it() {
    let project = example("quickstart", "changes");
    let before = build(&project);
    // A no-op build renders nothing and does not evaluate.
    let output = infra(&project, &["build"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(" 0 rendered, 18 cached"), "{stderr}");
    assert!(stderr.contains("(evaluation cached)"), "{stderr}");
    // An environment variable the evaluation read, changed, means evaluating again.
    let main = project.join("main.infra");
    let text = std::fs::read_to_string(&main).expect("main.infra");
    // (Read where it is used: a lazy value nobody forces reads nothing.)
    let with_env = text.replace("-net\";", "-net${builtins.getEnv \"INFRA_TEST_OWNER\"}\";");
    assert_ne!(with_env, text);
    std::fs::write(&main, &with_env).expect("edit");
    let first = infra(&project, &["build"]);
    assert!(String::from_utf8_lossy(&first.stderr).contains("(evaluation run)"));
    let same = infra(&project, &["build"]);
    assert!(String::from_utf8_lossy(&same.stderr).contains("(evaluation cached)"));
    let output = Command::new(env!("CARGO_BIN_EXE_infra"))
        .arg("build")
        .current_dir(&project)
        .env("INFRA_TEST_OWNER", "someone")
        .output()
        .expect("run infra");
    assert!(String::from_utf8_lossy(&output.stderr).contains("(evaluation run)"));
    std::fs::write(&main, &text).expect("restore");
    // The cache's list of inputs holds the hash of an environment value, never the value.
    let cache = std::fs::read(project.join(".infra/cache/eval.json")).unwrap_or_default();
    let cache: serde_json::Value = serde_json::from_slice(&cache).expect("the cache is JSON");
    let inputs = cache["inputs"].to_string();
    assert!(inputs.contains("INFRA_TEST_OWNER") && !inputs.contains("someone"), "{inputs}");

    // One module file: the two work directories made from it.
    let module = project.join("modules/cluster/main.tf");
    let text = std::fs::read_to_string(&module).expect("the module");
    std::fs::write(&module, format!("{text}\n# a comment\n")).expect("edit the module");
    let after = build(&project);
    assert_eq!(changed(&before, &after), ["dev/cluster", "prod/cluster"]);
    let output = infra(&project, &["build"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains(" 0 rendered"));

    // One input of one stack: that component only (its reader's placeholder is unchanged).
    let main = project.join("main.infra");
    let text = std::fs::read_to_string(&main).expect("main.infra");
    std::fs::write(&main, text.replace("cidr = \"10.1.0.0/16\"", "cidr = \"10.2.0.0/16\""))
        .expect("edit");
    let again = build(&project);
    assert_eq!(changed(&after, &again), ["prod/network"]);
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_hierarchical_config_value_rebuilds_only_where_it_applies() {
    let project = example("hierarchy", "hierarchy");
    let before = build(&project);
    assert!(before.len() >= 3, "{before:?}");
    let leaf = project.join("config/env=prod/cluster=c1/values.yaml");
    let text = std::fs::read_to_string(&leaf).expect("the leaf config");
    std::fs::write(&leaf, text.replace("node_count: 5", "node_count: 6")).expect("edit");
    let after = build(&project);
    assert_eq!(changed(&before, &after), ["prod/c1"]);
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn concurrent_builds_share_one_store() {
    let project = example("quickstart", "concurrent");
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_infra"))
            .arg("build")
            .current_dir(&project)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn infra")
    };
    let children: Vec<_> = (0..4).map(|_| spawn()).collect();
    let results: Vec<_> =
        children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    for output in &results {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let first = parse_build(&String::from_utf8_lossy(&results[0].stdout));
    for output in &results[1..] {
        assert_eq!(parse_build(&String::from_utf8_lossy(&output.stdout)), first);
    }
    let output = infra(&project, &["store", "verify"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn verify_finds_a_corrupt_object_and_gc_keeps_the_roots() {
    let project = example("quickstart", "gc");
    let all = build(&project);
    // A partial build roots only its own components and keeps the others' roots.
    let output = infra(&project, &["build", "dev"]);
    assert!(output.status.success());
    let output = infra(&project, &["store", "gc"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("removed 0 objects"));
    // A change leaves the old work directories unrooted: gc removes exactly those.
    let module = project.join("modules/network/main.tf");
    let text = std::fs::read_to_string(&module).expect("the module");
    std::fs::write(&module, format!("{text}\n# changed\n")).expect("edit");
    let now = build(&project);
    let output = infra(&project, &["store", "gc"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !stderr.contains("removed 0 objects"), "{stderr}");
    let store = project.join(".infra/store");
    for (address, object) in &all {
        let kept = now.get(address) == Some(object);
        assert_eq!(store.join(object).exists(), kept, "{address} after gc");
    }
    for object in now.values() {
        assert!(store.join(object).exists());
    }
    // Tamper with a file object: verify names it and fails.
    let victim = std::fs::read_dir(&store)
        .expect("the store")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-infra.auto.tfvars.json"))
        .expect("a tfvars object");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    std::fs::write(&victim, "{}\n").expect("tamper");
    let output = infra(&project, &["store", "verify"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    let name = victim.file_name().unwrap_or_default().to_string_lossy().into_owned();
    assert!(stderr.contains(&name) && stderr.contains("infra::store::corrupt"), "{stderr}");
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn graph_and_project_paths() {
    let project = example("quickstart", "graph");
    let output = infra(&project, &["graph", "--format", "json"]);
    let graph: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let cluster = graph["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "dev/cluster"))
        .cloned();
    assert_eq!(cluster.map(|c| c["dependsOn"].clone()), Some(serde_json::json!(["dev/network"])));
    let output = infra(&project, &["graph", "prod"]);
    let dot = String::from_utf8_lossy(&output.stdout);
    assert!(dot.contains("\"prod/cluster\" -> \"prod/network\"") && !dot.contains("dev/"), "{dot}");
    let output = infra(&project, &["eval", "--strict", "prod.cluster.inputs"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "{ name = \"prod-cluster\"; network_id = \"<infra-output:network:network_id>\"; node_count = 3; }\n"
    );
    let output = infra(&project.join("modules"), &["eval", "dev.networc"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did you mean `network`"), "{stderr}");
    // No near miss: what there is to select, and no snippet of the whole file.
    let output = infra(&project, &["eval", "staging"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("help: the project has `dev`, `prod`"), "{stderr}");
    assert!(!stderr.contains("main.infra"), "{stderr}");
    let output = infra(&project, &["eval", "dev.nothing"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`dev` has `app`, `backend`, `cluster`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_module_in_the_project_directory_leaves_out_infra_state_and_clashes_are_errors() {
    let project = scratch_dir("self-source");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&project).expect("mkdir");
    std::fs::write(project.join("main.tf"), "variable \"x\" {\n  type = number\n}\n")
        .expect("write");
    std::fs::write(
        project.join("main.infra"),
        "let c = infra.component \"c\" { source = ./.; inputs.x = 1; }; in { dev = infra.stack \"dev\" { components = [ c ]; }; }\n",
    )
    .expect("write");
    let first = build(&project);
    let second = build(&project);
    assert_eq!(first, second, "the store must not be copied into the work directory");
    let workdir = project.join(".infra/store").join(&first["dev/c"]);
    assert!(!workdir.join(".infra").exists());

    // A file of `files` where the module has a directory: an error naming both.
    std::fs::create_dir_all(project.join("sub")).expect("mkdir");
    std::fs::write(project.join("sub/x.tf"), "").expect("write");
    std::fs::write(
        project.join("main.infra"),
        "let c = infra.component \"c\" { source = ./.; files.\"sub\" = \"hello\"; }; in { dev = infra.stack \"dev\" { components = [ c ]; }; }\n",
    )
    .expect("write");
    let output = infra(&project, &["build"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("infra::build::source")
            && stderr.contains("`sub` is a file, but `sub/x.tf`"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&project);
}
