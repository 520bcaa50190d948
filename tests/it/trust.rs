//! Plans you can trust, with the real Terraform 1.0.3: no false "up to date" after a partial
//! apply or a failed hook, plans that propagate known upstream outputs and leave readers of
//! unknown ones pending, saved plans applied without planning again, drift found and put
//! back, Terraform's diagnostics in full with module files, review before approval.
//!
//! Terraform 1.0.3 offline has no resources (no providers, no `terraform_data`), so the
//! modules here change outputs: `timestamp()` is unknown while planning and known at apply,
//! which makes an apply that fails after it began (`tonumber(timestamp())`) and an output
//! known only after apply.

#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use crate::support::{infra_with_terraform, scratch_dir, terraform};

/// A project: `net` (outputs `id` from `var.cidr`, and when `read` is `stamp` an output
/// `stamp` known only after apply) and `app` reading `net.outputs.<read>`; `flaky` fails its apply (after writing an output) when
/// `x == "bad"`.
fn project(name: &str, read: &str) -> PathBuf {
    let dir = scratch_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut net = concat!(
        "variable \"cidr\" { type = string }\n",
        "output \"id\" { value = \"net-${var.cidr}\" }\n",
    )
    .to_owned();
    if read == "stamp" {
        net.push_str("output \"stamp\" { value = \"${var.cidr}@${timestamp()}\" }\n");
    }
    write(&dir, "modules/net/main.tf", &net);
    write(
        &dir,
        "modules/app/main.tf",
        concat!(
            "variable \"network\" { type = string }\n",
            "output \"seen\" { value = var.network }\n",
        ),
    );
    write(
        &dir,
        "modules/flaky/main.tf",
        concat!(
            "variable \"x\" { type = string }\n",
            "output \"a\" { value = var.x }\n",
            "output \"b\" { value = var.x == \"bad\" ? tonumber(timestamp()) : 1 }\n",
        ),
    );
    write(
        &dir,
        "main.infra",
        &format!(
            r#"let
  net = infra.component "net" {{ source = ./modules/net; inputs.cidr = "10.0.0.0/16"; }};
  app = infra.component "app" {{ source = ./modules/app; inputs.network = net.outputs.{read}; }};
  flaky = infra.component "flaky" {{ source = ./modules/flaky; inputs.x = "good"; }};
in {{ dev = infra.stack "dev" {{ backend = infra.backend "local" {{ }}; components = [ net app flaky ]; }}; }}
"#
        ),
    );
    dir
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "`{from}` not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

fn infra(dir: &Path, args: &[&str]) -> Output {
    infra_with_terraform(dir, args, &[])
}

/// The `--json` events of a run.
fn events(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// address → finished event.
fn finished(output: &Output) -> BTreeMap<String, serde_json::Value> {
    events(output)
        .into_iter()
        .filter(|e| e["event"] == "finished")
        .map(|e| (e["address"].as_str().unwrap_or_default().to_owned(), e))
        .collect()
}

fn statuses(output: &Output) -> BTreeMap<String, String> {
    finished(output)
        .into_iter()
        .map(|(k, e)| (k, e["status"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// The steps started, as `ADDRESS step`.
fn steps(output: &Output) -> Vec<String> {
    events(output)
        .into_iter()
        .filter(|e| e["event"] == "started")
        .map(|e| {
            format!("{} {}", e["address"].as_str().unwrap_or(""), e["step"].as_str().unwrap_or(""))
        })
        .collect()
}

fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_partial_apply_is_never_up_to_date() {
    let dir = project("trust-partial", "id");
    ok(&infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]));
    let main = dir.join("main.infra");
    edit(&main, "inputs.x = \"good\"", "inputs.x = \"bad\"");
    let failed = infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]);
    assert!(!failed.status.success());
    let event = &finished(&failed)["dev/flaky"];
    assert_eq!(event["status"], "failed");
    assert_eq!(event["code"], "infra::run::apply");
    // Terraform's error in full: summary, detail, and the module file in the project.
    let diagnostic = &event["diagnostics"][0];
    assert_eq!(diagnostic["summary"], "Invalid function argument", "{event}");
    assert!(diagnostic["detail"].as_str().unwrap_or("").contains("cannot convert"), "{event}");
    assert_eq!(diagnostic["file"], "modules/flaky/main.tf", "{event}");
    assert_eq!(diagnostic["line"], 3);
    // Terraform wrote `a = "bad"` before failing; going back to "good" must apply again.
    edit(&main, "inputs.x = \"bad\"", "inputs.x = \"good\"");
    let why = String::from_utf8_lossy(&infra(&dir, &["why", "dev/flaky"]).stdout).into_owned();
    assert!(why.contains("the last run did not finish (an apply began at"), "{why}");
    let plan = infra(&dir, &["plan", "--json", "dev/flaky"]);
    ok(&plan);
    let event = &finished(&plan)["dev/flaky"];
    assert_eq!(event["status"], "planned");
    let outputs = event["plan"]["outputs"].as_array().cloned().unwrap_or_default();
    assert!(
        outputs.iter().any(|o| o["name"] == "a" && o["before"] == "bad" && o["after"] == "good"),
        "{event}"
    );
    let rerun = infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]);
    ok(&rerun);
    assert_eq!(finished(&rerun)["dev/flaky"]["status"], "applied");
    // And now it is up to date.
    let again = infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]);
    assert_eq!(statuses(&again)["dev/flaky"], "up-to-date");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_post_apply_hook_runs_again_alone() {
    let dir = project("trust-hook", "id");
    let marker = dir.join("hook-ok");
    edit(
        &dir.join("main.infra"),
        "inputs.x = \"good\"; }",
        &format!(
            "inputs.x = \"good\"; hooks.postApply = [ \"test -f {}\" \"pwd > where\" ]; }}",
            marker.display()
        ),
    );
    let first = infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]);
    assert!(!first.status.success());
    // The component applied; its hook, a step of its own, failed.
    assert_eq!(finished(&first)["dev/flaky"]["status"], "applied");
    let hook = &finished(&first)["dev/flaky.postApply"];
    assert_eq!(hook["status"], "failed", "{hook}");
    assert_eq!(hook["code"], "infra::run::hook");
    let message = hook["message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("the postApply hook `test -f"), "{message}");
    let status = infra(&dir, &["status", "dev/flaky"]);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("dev/flaky\tup-to-date"), "{status}");
    assert!(status.contains("dev/flaky.postApply\tfailed"), "{status}");
    // `plan` says the apply has work to do: the hook, not the component.
    let plan = infra(&dir, &["plan", "--detailed-exitcode", "--json", "dev/flaky"]);
    assert_eq!(plan.status.code(), Some(2), "{}", String::from_utf8_lossy(&plan.stderr));
    assert_eq!(statuses(&plan)["dev/flaky"], "up-to-date");
    assert_eq!(statuses(&plan)["dev/flaky.postApply"], "would-run");
    std::fs::write(&marker, "").expect("marker");
    let second = infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]);
    ok(&second);
    assert_eq!(statuses(&second)["dev/flaky"], "up-to-date");
    assert_eq!(statuses(&second)["dev/flaky.postApply"], "applied");
    // Both commands ran, in the component's work directory.
    let work = dir.join(".infra/work/dev/flaky");
    let pwd = std::fs::read_to_string(work.join("where")).expect("the hook wrote `where`");
    assert_eq!(std::path::Path::new(pwd.trim()), work.canonicalize().expect("work"));
    let third = infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]);
    assert!(statuses(&third).values().all(|s| s == "up-to-date"), "{:?}", statuses(&third));
    // A new input: the component applies, then its hook runs again; `plan` says so first.
    edit(&dir.join("main.infra"), "inputs.x = \"good\";", "inputs.x = \"better\";");
    let plan = infra(&dir, &["plan", "--json", "dev/flaky"]);
    assert_eq!(statuses(&plan)["dev/flaky"], "planned");
    assert_eq!(statuses(&plan)["dev/flaky.postApply"], "would-run");
    let fourth = infra(&dir, &["apply", "--auto-approve", "--json", "dev/flaky"]);
    ok(&fourth);
    assert_eq!(statuses(&fourth)["dev/flaky"], "applied");
    assert_eq!(statuses(&fourth)["dev/flaky.postApply"], "applied");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_known_upstream_output_is_planned_with_and_the_saved_plans_are_applied_as_they_are() {
    let dir = project("trust-known", "id");
    ok(&infra(&dir, &["apply", "--auto-approve", "--json"]));
    edit(&dir.join("main.infra"), "10.0.0.0/16", "10.9.0.0/16");
    let plan = infra(&dir, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "{}", String::from_utf8_lossy(&plan.stderr));
    let events = finished(&plan);
    assert_eq!(events["dev/net"]["status"], "planned");
    // The downstream is planned with the value the upstream's plan knows.
    let app = &events["dev/app"];
    assert_eq!(app["status"], "planned", "{app}");
    let outputs = app["plan"]["outputs"].as_array().cloned().unwrap_or_default();
    assert!(
        outputs.iter().any(|o| o["name"] == "seen" && o["after"] == "net-10.9.0.0/16"),
        "{app}"
    );
    assert_eq!(events["dev/flaky"]["status"], "up-to-date");
    // `infra show` prints the kept plans.
    let show = String::from_utf8_lossy(&infra(&dir, &["show"]).stdout).into_owned();
    assert!(
        show.contains("dev/app: ")
            && show.contains("output seen = \"net-10.0.0.0/16\" → \"net-10.9.0.0/16\""),
        "{show}"
    );
    let show_json = infra(&dir, &["show", "--json", "dev/net"]);
    let line: serde_json::Value = serde_json::from_slice(&show_json.stdout).expect("one JSON line");
    assert_eq!(line["plan"]["output_changes"]["id"]["after"], "net-10.9.0.0/16");
    // The apply applies exactly the saved plans: no `plan` process at all.
    let apply = infra(&dir, &["apply", "--auto-approve", "--json"]);
    ok(&apply);
    let started = steps(&apply);
    assert!(!started.iter().any(|s| s.ends_with(" plan")), "{started:?}");
    assert_eq!(statuses(&apply)["dev/app"], "applied");
    let app = infra(&dir, &["output", "dev/app", "--json"]);
    let app: serde_json::Value = serde_json::from_slice(&app.stdout).expect("JSON");
    assert_eq!(app["seen"], "net-10.9.0.0/16");
    assert!(!dir.join(".infra/plans/dev/app/summary.json").exists(), "an apply uses up its plan");
    // `infra export` passes the recorded outputs of the applied upstream.
    let export = infra(&dir, &["export", "dev/app", "-o", "exported"]);
    ok(&export);
    let upstream = std::fs::read_to_string(dir.join("exported/infra.upstream.auto.tfvars.json"));
    assert!(upstream.unwrap_or_default().contains("net-10.9.0.0/16"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_upstream_output_leaves_its_reader_pending_and_a_stale_plan_is_named() {
    let dir = project("trust-pending", "stamp");
    ok(&infra(&dir, &["apply", "--auto-approve", "--json"]));
    edit(&dir.join("main.infra"), "10.0.0.0/16", "10.9.0.0/16");
    let plan = infra(&dir, &["plan", "--json"]);
    ok(&plan);
    let app = &finished(&plan)["dev/app"];
    assert_eq!(app["status"], "pending", "{app}");
    assert_eq!(
        app["message"],
        "re-plans after `dev/net` applies: output `stamp` changes, known after apply"
    );
    let human = infra(&dir, &["plan"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("dev/app: pending — re-plans after `dev/net` applies"), "{text}");
    // Change the inputs after planning: the apply says the saved plan no longer matches, and why.
    edit(&dir.join("main.infra"), "10.9.0.0/16", "10.8.0.0/16");
    let apply = infra(&dir, &["apply", "--auto-approve", "--json"]);
    ok(&apply);
    let net = &finished(&apply)["dev/net"];
    let notes = net["notes"].to_string();
    assert!(
        notes.contains("the saved plan no longer matches (")
            && notes.contains("input `cidr` changed: \\\"10.9.0.0/16\\\" → \\\"10.8.0.0/16\\\""),
        "{notes}"
    );
    assert_eq!(finished(&apply)["dev/app"]["status"], "applied");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn drift_is_found_and_put_back() {
    let dir = project("trust-drift", "id");
    ok(&infra(&dir, &["apply", "--auto-approve", "--json"]));
    let clean = infra(&dir, &["drift", "--json"]);
    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stderr));
    // Behind infra's back: apply the network by hand with another value.
    let work = dir.join(".infra/work/dev/net");
    let by_hand = Command::new(terraform())
        .args(["apply", "-auto-approve", "-no-color", "-input=false", "-var", "cidr=10.66.0.0/16"])
        .current_dir(&work)
        .stdin(Stdio::null())
        .output()
        .expect("terraform");
    assert!(by_hand.status.success(), "{}", String::from_utf8_lossy(&by_hand.stderr));
    let drift = infra(&dir, &["drift"]);
    assert_eq!(drift.status.code(), Some(2), "{}", String::from_utf8_lossy(&drift.stderr));
    let text = String::from_utf8_lossy(&drift.stdout);
    assert!(
        text.contains("dev/net: ")
            && text.contains("output id = \"net-10.66.0.0/16\" → \"net-10.0.0.0/16\""),
        "{text}"
    );
    assert!(!text.contains("dev/app:"), "{text}");
    let status = String::from_utf8_lossy(&infra(&dir, &["status"]).stdout).into_owned();
    assert!(
        status.contains("dev/net\tup-to-date\tdrift checked ") && status.contains(": drifted"),
        "{status}"
    );
    let fixed = infra(&dir, &["apply", "--auto-approve", "--refresh", "--json", "dev/net"]);
    ok(&fixed);
    // Applied without `show -json`, the event still says what the outputs became.
    let net = &finished(&fixed)["dev/net"];
    let outputs = net["plan"]["outputs"].as_array().cloned().unwrap_or_default();
    assert!(outputs.iter().any(|o| o["name"] == "id" && o["after"] == "net-10.0.0.0/16"), "{net}");
    let status = String::from_utf8_lossy(&infra(&dir, &["status"]).stdout).into_owned();
    assert!(!status.contains("drifted"), "the apply put it back: {status}");
    let after = infra(&dir, &["drift", "--json"]);
    assert_eq!(after.status.code(), Some(0), "{}", String::from_utf8_lossy(&after.stdout));
    // A plan kept by `infra plan` that the state has moved past: `apply --auto-approve`
    // says so and plans again.
    edit(&dir.join("main.infra"), "10.0.0.0/16", "10.1.0.0/16");
    ok(&infra(&dir, &["plan", "--json", "dev/net"]));
    let by_hand = Command::new(terraform())
        .args(["apply", "-auto-approve", "-no-color", "-input=false", "-var", "cidr=10.77.0.0/16"])
        .current_dir(&work)
        .stdin(Stdio::null())
        .output()
        .expect("terraform");
    assert!(by_hand.status.success(), "{}", String::from_utf8_lossy(&by_hand.stderr));
    let stale = infra(&dir, &["apply", "--auto-approve", "--json", "dev/net"]);
    ok(&stale);
    let net = &finished(&stale)["dev/net"];
    assert_eq!(net["status"], "applied");
    assert!(net["notes"].to_string().contains("the saved plan was stale"), "{net}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn terraform_errors_are_shown_in_full_with_the_module_file() {
    let dir = project("trust-errors", "id");
    // A variable the component does not pass: Terraform names it.
    write(&dir, "modules/app/extra.tf", "variable \"region\" { type = string }\n");
    let missing = infra(&dir, &["plan", "dev/app"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("No value for required variable"), "{stderr}");
    assert!(stderr.contains("error[infra::run::plan]: `plan` failed"), "{stderr}");
    assert!(stderr.contains("\"region\""), "the variable's name: {stderr}");
    // Terraform's advice (`-var`) is replaced by where infra takes a variable's value.
    assert!(stderr.contains("Give it a value in the `inputs` of `dev/app`."), "{stderr}");
    assert!(!stderr.contains("-var-file"), "{stderr}");
    // A value of the wrong type: Terraform finds it in the generated variables file; the
    // message says which input it is and how to see it.
    write(&dir, "modules/app/extra.tf", "variable \"region\" { type = number }\n");
    edit(&dir.join("main.infra"), "inputs.network = ", "inputs.region = \"eu\"; inputs.network = ");
    let wrong = infra(&dir, &["plan", "dev/app"]);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("Invalid value for input variable"), "{stderr}");
    assert!(stderr.contains("`infra eval dev.app.inputs.region`"), "{stderr}");
    edit(&dir.join("main.infra"), "inputs.region = \"eu\"; ", "");
    // An HCL error: the module file in the project, with its line.
    write(
        &dir,
        "modules/app/extra.tf",
        "variable \"region\" {\n  type = string\n  defualt = 1\n}\n",
    );
    let syntax = infra(&dir, &["plan", "dev/app"]);
    assert!(!syntax.status.success());
    let stderr = String::from_utf8_lossy(&syntax.stderr);
    assert!(stderr.contains("--> modules/app/extra.tf:3"), "{stderr}");
    assert!(stderr.contains("Unsupported argument"), "{stderr}");
    // An error in a file infra generated names it where it is, in the work directory.
    std::fs::remove_file(dir.join("modules/app/extra.tf")).expect("rm");
    edit(
        &dir.join("main.infra"),
        "inputs.network = net.outputs.id; }",
        "inputs.network = net.outputs.id; files.\"gen.tf\" = \"output \\\"x\\\" { value = var.nope }\\n\"; }",
    );
    let generated = infra(&dir, &["plan", "dev/app"]);
    let stderr = String::from_utf8_lossy(&generated.stderr);
    assert!(stderr.contains("--> .infra/work/dev/app/gen.tf:1"), "{stderr}");
    // One rendered from a template names the template.
    write(&dir, "templates/gen.tf.in", "# {{ who }}\noutput \"y\" { value = var.nope2 }\n");
    edit(
        &dir.join("main.infra"),
        "files.\"gen.tf\" = ",
        "files.\"tpl.tf\" = infra.template ./templates/gen.tf.in { who = \"me\"; }; files.\"gen.tf\" = ",
    );
    let templated = infra(&dir, &["plan", "dev/app"]);
    let stderr = String::from_utf8_lossy(&templated.stderr);
    assert!(stderr.contains("--> templates/gen.tf.in:2"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `infra ARGS` in `dir` with a terminal (`script` gives it one), the real Terraform first on
/// `PATH`, and `answer` typed at its prompt; the terminal's text is on stdout.
fn on_a_terminal(dir: &Path, args: &str, answer: &str) -> Output {
    let bin = terraform().parent().map(Path::to_path_buf).unwrap_or_default();
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_infra"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    use std::io::Write;
    let _ = child.stdin.take().expect("stdin").write_all(answer.as_bytes());
    child.wait_with_output().expect("wait")
}

#[test]
fn interactive_apply_shows_the_plan_before_it_asks() {
    let dir = project("trust-review", "id");
    let run_with =
        |answer: &str, flags: &str| on_a_terminal(&dir, &format!("apply dev/net{flags}"), answer);
    let run = |answer: &str| run_with(answer, "");
    let declined = run("n\n");
    let text = String::from_utf8_lossy(&declined.stdout).replace('\r', "");
    let review = text.find("+ output id = \"net-10.0.0.0/16\"").expect(&text);
    let question = text.find("Apply 1 component?").expect(&text);
    assert!(review < question, "the plan comes before the question: {text}");
    assert!(text.contains("Nothing was applied."), "{text}");
    assert!(!dir.join(".infra/records/dev/net.json").exists());
    // The declined review kept its plan: the next review shows it without planning again,
    // and the apply applies exactly it (one process: `apply`).
    let accepted = run("y\n");
    let text = String::from_utf8_lossy(&accepted.stdout).replace('\r', "");
    assert!(accepted.status.success(), "{text}");
    assert!(text.contains("note: the plan made at ") && text.contains(", kept"), "{text}");
    assert!(text.contains("1 node, 0 processes"), "{text}");
    assert!(text.contains("1 node, 1 process,"), "{text}");
    assert!(dir.join(".infra/records/dev/net.json").is_file(), "{text}");
    // With `--refresh`, the up-to-date component is planned against reality, reviewed (its
    // plan changes nothing) and recorded.
    let refreshed = run_with("y\n", " --refresh");
    let text = String::from_utf8_lossy(&refreshed.stdout).replace('\r', "");
    assert!(refreshed.status.success(), "{text}");
    assert!(
        text.contains("No changes to apply; recording 1 component whose plan changes nothing"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn terraform_warnings_are_counted_and_shown_after_the_summary() {
    let dir = project("trust-warnings", "id");
    edit(
        &dir.join("main.infra"),
        "inputs.x = \"good\"; }",
        "inputs.x = \"good\"; files.\"extra.auto.tfvars.json\" = infra.writeJSON \"extra\" { stray = 1; }; }",
    );
    let plan = infra(&dir, &["plan", "dev/flaky"]);
    ok(&plan);
    let stderr = String::from_utf8_lossy(&plan.stderr);
    let summary = stderr.find("1 node, ").expect(&stderr);
    let warning = stderr.find("warning[dev/flaky]: Value for undeclared variable").expect(&stderr);
    assert!(summary < warning, "warnings come after the summary: {stderr}");
    assert!(stderr.contains("1 warning (below)"), "{stderr}");
    assert!(stderr.contains("does not declare a variable named \"stray\""), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn destroy_lists_the_resolved_set_before_it_asks() {
    let dir = project("trust-destroy", "id");
    ok(&infra(&dir, &["apply", "--auto-approve", "--json"]));
    let output = on_a_terminal(&dir, "destroy 'dev/n*'", "n\n");
    let text = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    assert!(text.contains("infra will destroy 2 components, dependents first:"), "{text}");
    // The glob is expanded, the dependent is named, each with what its state holds.
    assert!(text.contains("  dev/net: 0 resources\n"), "{text}");
    assert!(text.contains("  dev/app: 0 resources — depends on a target\n"), "{text}");
    assert!(!text.contains("dev/flaky"), "{text}");
    assert!(text.contains("Nothing was destroyed."), "{text}");
    assert!(dir.join(".infra/records/dev/net.json").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_sensitive_upstream_output_reaches_its_reader_in_every_run_and_nothing_else() {
    let dir = scratch_dir("trust-sensitive");
    let _ = std::fs::remove_dir_all(&dir);
    // The password is made by Terraform (it is in no source file): `pw-` and the SHA-256 of
    // the cidr, so the test knows it and can look for it everywhere.
    write(
        &dir,
        "modules/db/main.tf",
        concat!(
            "variable \"cidr\" { type = string }\n",
            "output \"password\" {\n  value     = \"pw-${sha256(var.cidr)}\"\n  sensitive = true\n}\n",
        ),
    );
    write(
        &dir,
        "modules/app/main.tf",
        concat!(
            "variable \"password\" { type = string }\n",
            "variable \"replicas\" { type = number }\n",
            "output \"password_sha256\" { value = sha256(var.password) }\n",
            "output \"replicas\" { value = var.replicas }\n",
        ),
    );
    write(
        &dir,
        "main.infra",
        r#"let
  db = infra.component "db" { source = ./modules/db; inputs.cidr = "10.0.0.0/16"; };
  app = infra.component "app" { source = ./modules/app; inputs = { password = db.outputs.password; replicas = 1; }; };
in { dev = infra.stack "dev" { backend = infra.backend "local" { }; components = [ db app ]; }; }
"#,
    );
    let sha = |text: &str| {
        use sha2::Digest;
        sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let app_hash = |dir: &Path| {
        let output = infra(dir, &["output", "dev/app", "--json"]);
        let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        value["password_sha256"].as_str().unwrap_or_default().to_owned()
    };
    let password = |cidr: &str| format!("pw-{}", sha(cidr));
    let canary = password("10.0.0.0/16");
    let mut runs = vec![infra(&dir, &["apply", "--auto-approve", "--json"])];
    ok(&runs[0]);
    assert_eq!(app_hash(&dir), sha(&password("10.0.0.0/16")));
    // A later run that re-applies only the reader reads the value from the upstream's state.
    edit(&dir.join("main.infra"), "replicas = 1;", "replicas = 2;");
    runs.push(infra(&dir, &["apply", "--auto-approve", "--json"]));
    ok(&runs[1]);
    let statuses_now = statuses(&runs[1]);
    assert_eq!(statuses_now["dev/db"], "up-to-date");
    assert_eq!(statuses_now["dev/app"], "applied");
    assert_eq!(app_hash(&dir), sha(&password("10.0.0.0/16")));
    // `status` and `why` see the sensitive read as the run does (by its digest).
    let status = String::from_utf8_lossy(&infra(&dir, &["status"]).stdout).into_owned();
    assert!(status.contains("dev/app\tup-to-date"), "{status}");
    // A changed sensitive value re-plans its reader: pending while planning (its value is not
    // shown), applied with the new value.
    edit(&dir.join("main.infra"), "10.0.0.0/16", "10.9.0.0/16");
    runs.push(infra(&dir, &["plan", "--json"]));
    ok(&runs[2]);
    assert_eq!(statuses(&runs[2])["dev/app"], "pending");
    // The kept plan of the upstream holds no sensitive value (Terraform's `show -json` does).
    let show = infra(&dir, &["show", "--json", "dev/db"]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("output_changes"));
    let plans = files_containing(&dir.join(".infra/plans"), &password("10.9.0.0/16"));
    assert_eq!(plans, Vec::<PathBuf>::new());
    assert!(!String::from_utf8_lossy(&show.stdout).contains(&password("10.9.0.0/16")));
    runs.push(infra(&dir, &["apply", "--auto-approve", "--json"]));
    ok(&runs[3]);
    assert_eq!(statuses(&runs[3])["dev/app"], "applied");
    assert_eq!(app_hash(&dir), sha(&password("10.9.0.0/16")));
    runs.push(infra(&dir, &["apply", "--auto-approve", "--json"]));
    assert!(statuses(&runs[4]).values().all(|s| s == "up-to-date"));
    // One sensitive output asked for by name is refused: infra has no value of it to print.
    let sensitive = infra(&dir, &["output", "dev/db", "password"]);
    assert_eq!(sensitive.status.code(), Some(1));
    let refused = String::from_utf8_lossy(&sensitive.stderr).into_owned();
    assert!(refused.contains("infra::run::sensitive_output"), "{refused}");
    runs.push(sensitive);
    // The values are in the upstream's Terraform state and nowhere else infra writes.
    let state = dir.join(".infra/tfstate/dev/db.tfstate");
    assert!(
        files_containing(&dir, &password("10.9.0.0/16")).contains(&state),
        "the search finds it"
    );
    for value in [canary, password("10.9.0.0/16")] {
        for run in &runs {
            assert!(!String::from_utf8_lossy(&run.stdout).contains(&value));
            assert!(!String::from_utf8_lossy(&run.stderr).contains(&value));
        }
        let found: Vec<PathBuf> = files_containing(&dir, &value)
            .into_iter()
            .filter(|p| !p.starts_with(dir.join(".infra/tfstate/dev")))
            .collect();
        assert_eq!(found, Vec::<PathBuf>::new());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
