//! `infra plan`, `apply`, `destroy` and `output` end to end with the real Terraform 1.0.3:
//! state and outputs, outputs flowing downstream, zero processes when nothing changed, early
//! cutoff, failures that skip dependents and resume, destroy order, the project lock.

#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use crate::support::{example, infra_with_terraform, terraform, write_script};

/// `infra ARGS --json` with the real Terraform first on `PATH` (and no `tofu`).
fn infra(dir: &Path, args: &[&str]) -> Output {
    infra_with_terraform(dir, args, &[])
}

/// The `finished` events of a `--json` run: address → (status, processes), and the
/// summary's process count.
fn events(output: &Output) -> (BTreeMap<String, (String, u64)>, u64) {
    let mut finished = BTreeMap::new();
    let mut processes = u64::MAX;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        match event["event"].as_str() {
            Some("finished") => {
                finished.insert(
                    event["address"].as_str().unwrap_or_default().to_owned(),
                    (
                        event["status"].as_str().unwrap_or_default().to_owned(),
                        event["processes"].as_u64().unwrap_or(0),
                    ),
                );
            }
            Some("summary") => processes = event["processes"].as_u64().unwrap_or(u64::MAX),
            _ => {}
        }
    }
    (finished, processes)
}

fn statuses(output: &Output) -> BTreeMap<String, String> {
    events(output).0.into_iter().map(|(k, (s, _))| (k, s)).collect()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "`{from}` not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

fn apply(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["apply", "--auto-approve", "--json"];
    all.extend_from_slice(args);
    infra(dir, &all)
}

#[test]
fn the_quickstart_applies_and_reapplies_only_what_changed() {
    let project = example("quickstart", "run-quickstart");
    let first = apply(&project, &[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let applied = statuses(&first);
    // Six components and the two `app`s' postApply hooks.
    assert_eq!(applied.len(), 8);
    assert!(applied.values().all(|s| s == "applied"), "{applied:?}");
    assert!(project.join(".infra/tfstate/dev/network.tfstate").is_file());
    // The postApply hook ran in the work directory.
    let hook = std::fs::read_to_string(project.join(".infra/work/prod/app/applied.txt"));
    assert_eq!(hook.ok().as_deref(), Some("prod/app applied\n"));

    // The downstream received the upstream's real output.
    let network = infra(&project, &["output", "dev/network", "--json"]);
    let network: serde_json::Value = serde_json::from_slice(&network.stdout).expect("JSON");
    let cluster = infra(&project, &["output", "dev/cluster", "--json"]);
    let cluster: serde_json::Value = serde_json::from_slice(&cluster.stdout).expect("JSON");
    let id = network["network_id"].as_str().expect("a network id");
    assert!(id.starts_with("net-") && id != "net-mock");
    assert_eq!(cluster["endpoint"], format!("https://dev-cluster.{id}.example.internal"));

    // Nothing changed: no Terraform process at all.
    let again = apply(&project, &[]);
    assert!(again.status.success());
    let (finished, processes) = events(&again);
    assert_eq!(processes, 0, "{finished:?}");
    assert!(finished.values().all(|(s, _)| s == "up-to-date"));
    // A checkout that never ran the tool (a CI machine pulling records from a cache) has no
    // cached tool version: `status` asks the tool once, it does not call everything changed.
    let tools = project.join(".infra/cache/tools.json");
    std::fs::remove_file(&tools).expect("the tool's version was cached");
    let fresh = infra(&project, &["status"]);
    let fresh = String::from_utf8_lossy(&fresh.stdout);
    assert!(fresh.contains("dev/network\tup-to-date") && !fresh.contains("changed"), "{fresh}");
    assert!(tools.is_file(), "asked once, cached again");

    // An upstream input that changes no output: the upstream is re-applied, its dependent
    // is up to date (early cutoff).
    edit(&project.join("main.infra"), "team = \"platform\"", "team = \"networking\"");
    let cutoff = statuses(&apply(&project, &[]));
    assert_eq!(cutoff["dev/network"], "applied");
    assert_eq!(cutoff["prod/network"], "applied");
    assert_eq!(cutoff["dev/cluster"], "up-to-date");
    assert_eq!(cutoff["prod/cluster"], "up-to-date");
    assert_eq!(cutoff["dev/app"], "up-to-date");

    // One that changes an output: the upstream and its dependent are re-applied. Before
    // that, `status` and `why` say what changed, without running anything.
    edit(&project.join("main.infra"), "cidr = \"10.0.0.0/16\"", "cidr = \"10.9.0.0/16\"");
    let status = infra(&project, &["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("dev/network\tchanged") && status.contains("prod/network\tup-to-date"),
        "{status}"
    );
    let why = infra(&project, &["why", "dev/network"]);
    let why = String::from_utf8_lossy(&why.stdout);
    assert!(why.contains("input `cidr_block` changed: \"10.0.0.0/16\" → \"10.9.0.0/16\""), "{why}");
    assert!(why.contains("file `infra.auto.tfvars.json` changed"), "{why}");
    // Its dependent's own inputs are unchanged, yet it is not up to date: `why` says so and
    // names the upstream, and `status` of it alone agrees with `status` of everything.
    assert!(status.contains("dev/cluster\tupstream-changed"), "{status}");
    let why = infra(&project, &["why", "dev/cluster"]);
    let why = String::from_utf8_lossy(&why.stdout);
    assert!(why.contains("but `dev/network`, which it depends on, is not up to date"), "{why}");
    assert!(!why.contains("is up to date with its inputs"), "{why}");
    let alone = infra(&project, &["status", "dev/cluster"]);
    let alone = String::from_utf8_lossy(&alone.stdout);
    assert!(
        alone.starts_with("dev/cluster\tupstream-changed") && alone.lines().count() == 1,
        "{alone}"
    );
    let both = statuses(&apply(&project, &[]));
    assert_eq!(both["dev/network"], "applied");
    assert_eq!(both["dev/cluster"], "applied");
    assert_eq!(both["prod/network"], "up-to-date");
    assert_eq!(both["dev/app"], "up-to-date");

    // Destroy: the dependent first, records and state gone.
    let destroy = infra(&project, &["destroy", "dev/network", "--auto-approve", "--json"]);
    assert!(destroy.status.success(), "{}", String::from_utf8_lossy(&destroy.stderr));
    let order: Vec<String> = String::from_utf8_lossy(&destroy.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "finished")
        .map(|e| {
            format!(
                "{} {}",
                e["address"].as_str().unwrap_or(""),
                e["status"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(order, ["dev/cluster destroyed", "dev/network destroyed"]);
    assert!(!infra(&project, &["output", "dev/network"]).status.success());
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_failed_plan_skips_dependents_and_the_rerun_resumes() {
    let project = example("quickstart", "run-failure");
    // 11 nodes fails the cluster module's `validation` block, in prod only.
    let good = "node_count = ctx.settings.nodes or 1;";
    let bad = "node_count = if ctx.stack == \"prod\" then 11 else ctx.settings.nodes or 1;";
    edit(&project.join("main.infra"), good, bad);
    let failed = apply(&project, &[]);
    assert!(!failed.status.success());
    let status = statuses(&failed);
    assert_eq!(status["prod/cluster"], "failed");
    assert_eq!(status["prod/network"], "applied");
    assert_eq!(status["dev/cluster"], "applied");
    assert_eq!(status["prod/app"], "applied");
    let status = infra(&project, &["status", "prod"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("prod/cluster\tfailed\t`plan` failed"), "{status}");
    // The event says why, in Terraform's words.
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(stdout.contains("Invalid value for variable"), "{stdout}");

    edit(&project.join("main.infra"), bad, good);
    let rerun = apply(&project, &[]);
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    let (finished, _) = events(&rerun);
    let ran: Vec<&String> = finished.iter().filter(|(_, (_, p))| *p > 0).map(|(a, _)| a).collect();
    assert_eq!(ran, ["prod/cluster"]);
    // Once applied, a failed plan of other inputs changes nothing: with the inputs back as
    // they were applied, `status` agrees with `why` (and with the run, which skips it).
    edit(&project.join("main.infra"), good, bad);
    assert!(!apply(&project, &[]).status.success());
    let failed = String::from_utf8_lossy(&infra(&project, &["status", "prod"]).stdout).into_owned();
    assert!(failed.contains("prod/cluster\tfailed\t`plan` failed"), "{failed}");
    edit(&project.join("main.infra"), bad, good);
    let status = String::from_utf8_lossy(&infra(&project, &["status", "prod"]).stdout).into_owned();
    assert!(status.contains("prod/cluster\tup-to-date"), "{status}");
    assert!(status.contains("prod/app\tup-to-date"), "{status}");
    // A failure of the applied inputs themselves stands: a drift check that cannot read the
    // state.
    let state = project.join(".infra/tfstate/prod/cluster.tfstate");
    assert!(state.is_file(), "{}", state.display());
    std::fs::write(&state, "not json").expect("write state");
    assert!(!infra(&project, &["drift", "prod/cluster"]).status.success());
    let status = String::from_utf8_lossy(&infra(&project, &["status", "prod"]).stdout).into_owned();
    assert!(status.contains("prod/cluster\tfailed"), "{status}");

    // A plan of a never-applied downstream with mocks: a fresh copy plans all with mocks.
    let fresh = example("quickstart", "run-plan");
    let plan = infra(&fresh, &["plan", "--json"]);
    assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
    // The components plan (with mocks); their postApply hooks would run after them.
    for (address, status) in statuses(&plan) {
        let want = if address.ends_with(".postApply") { "would-run" } else { "planned" };
        assert_eq!(status, want, "{address}");
    }
    assert!(!fresh.join(".infra/records").exists(), "a plan writes no record");
    let _ = std::fs::remove_dir_all(&project);
    let _ = std::fs::remove_dir_all(&fresh);
}

#[test]
fn a_second_run_waits_for_or_refuses_the_project_lock() {
    let project = example("quickstart", "run-lock");
    let lock = project.join(".infra/lock");
    std::fs::create_dir_all(lock.parent().expect("parent")).expect("mkdir");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .expect("open");
    file.lock().expect("lock");
    std::fs::write(project.join(".infra/lock.info"), "pid 1, `infra apply`, since 0\n")
        .expect("info");
    let refused = apply(&project, &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("infra::run::locked") && stderr.contains("pid 1"), "{stderr}");
    assert!(!project.join(".infra/records").exists());
    drop(file);
    let _ = std::fs::remove_dir_all(&project);
}

/// A scripted stand-in for Terraform (named as such): it runs the real binary for everything
/// but `apply`, where it kills itself before applying — a process dying mid-apply.
fn dying_terraform(dir: &Path) -> PathBuf {
    let bin = dir.join("stand-in");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let script = bin.join("terraform");
    write_script(
        &script,
        &format!(
            "#!/bin/sh\nif [ \"$1\" = apply ]; then kill -9 $$; fi\nexec '{}' \"$@\"\n",
            terraform().display()
        ),
    );
    script
}

#[test]
fn a_tool_dying_mid_apply_leaves_no_record_and_the_rerun_converges() {
    let project = example("quickstart", "run-crash");
    let stand_in = dying_terraform(&project.join(".."));
    let output = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(["apply", "--auto-approve", "--json", "dev/network"])
        .current_dir(&project)
        .env("INFRA_TF", &stand_in)
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("run infra");
    assert!(!output.status.success());
    assert_eq!(statuses(&output)["dev/network"], "failed");
    assert!(
        !project.join(".infra/records/dev/network.json").exists(),
        "no record for a died apply"
    );
    // With the real tool, the rerun applies it and records it.
    let rerun = apply(&project, &["dev/network"]);
    assert!(rerun.status.success(), "{}", String::from_utf8_lossy(&rerun.stderr));
    assert_eq!(statuses(&rerun)["dev/network"], "applied");
    assert!(project.join(".infra/records/dev/network.json").is_file());
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn two_concurrent_applies_one_waits_and_finds_everything_done() {
    let project = example("quickstart", "run-concurrent");
    let bin = terraform().parent().map(Path::to_path_buf).unwrap_or_default();
    let spawn = |extra: &[&str]| {
        let mut args = vec!["apply", "--auto-approve", "--json"];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_infra"))
            .args(args)
            .current_dir(&project)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn infra")
    };
    let first = spawn(&[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = spawn(&["--lock-timeout", "120"]);
    let first = first.wait_with_output().expect("wait");
    let second = second.wait_with_output().expect("wait");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    let (a, pa) = events(&first);
    let (b, pb) = events(&second);
    // Whichever got the lock first applied everything; the other found it all up to date.
    let (winner, loser, processes) = if pa > 0 { (a, b, pb) } else { (b, a, pa) };
    assert!(winner.values().all(|(s, _)| s == "applied"), "{winner:?}");
    assert!(loser.values().all(|(s, _)| s == "up-to-date"), "{loser:?}");
    assert_eq!(processes, 0);
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn sigterm_is_passed_once_to_the_running_tool_and_no_record_is_written() {
    let project = example("quickstart", "run-signal");
    // A scripted stand-in (named as such): `apply` waits, notes each SIGINT it receives, and
    // exits when interrupted, as Terraform does after saving state.
    let bin = project.join("..").join("stand-in-signal");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let marker = project.join("interrupts.txt");
    let script = bin.join("terraform");
    write_script(
        &script,
        &format!(
            "#!/bin/sh\nif [ \"$1\" = apply ]; then\n  trap 'echo INT >> {m}; exit 1' INT\n  touch {m}.started\n  i=0; while [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n  exit 0\nfi\nexec '{}' \"$@\"\n",
            terraform().display(),
            m = marker.display()
        ),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(["apply", "--auto-approve", "--json", "dev/network"])
        .current_dir(&project)
        .env("INFRA_TF", &script)
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn infra");
    // Wait until the stand-in's apply has started, then SIGTERM infra.
    let started = project.join("interrupts.txt.started");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !started.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started.exists(), "the apply never started");
    let status =
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(130), "interrupted: exit code 130");
    assert_eq!(statuses(&output)["dev/network"], "interrupted");
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"code\":\"infra::run::stopped\""));
    let status = infra(&project, &["status", "dev/network"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("dev/network\tinterrupted\tstopped by a signal during `apply`"),
        "{status}"
    );
    let why = infra(&project, &["why", "dev/network"]);
    let why = String::from_utf8_lossy(&why.stdout);
    assert!(
        why.starts_with("`dev/network`'s last run was interrupted: stopped by a signal"),
        "{why}"
    );
    assert_eq!(std::fs::read_to_string(&marker).unwrap_or_default(), "INT\n", "one SIGINT, once");
    assert!(!project.join(".infra/records/dev/network.json").exists());
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_missing_required_output_fails_the_component_after_apply() {
    let project = example("quickstart", "run-required");
    // An output the module declares but does not produce (Terraform leaves a null output out
    // of the state); one it does not declare at all is an evaluation error (`unknown_output`).
    edit(
        &project.join("main.infra"),
        "requiredOutputs = [ \"endpoint\" ];",
        "requiredOutputs = [ \"endpoint\" \"kubeconfig\" ];",
    );
    let output = apply(&project, &["dev"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("infra::project::unknown_output"), "{stderr}");
    edit(
        &project.join("modules/cluster/main.tf"),
        "output \"node_count\" {",
        "output \"kubeconfig\" {\n  value = null\n}\n\noutput \"node_count\" {",
    );
    let output = apply(&project, &["dev"]);
    assert!(!output.status.success());
    assert_eq!(statuses(&output)["dev/cluster"], "failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("does not produce the required output `kubeconfig`"), "{stdout}");
    assert!(!project.join(".infra/records/dev/cluster.json").exists());
    assert!(project.join(".infra/records/dev/network.json").exists());
    let _ = std::fs::remove_dir_all(&project);
}
