//! Steps and waits as nodes, with real programs: the lifecycle example (tar, a registry
//! directory, a real HTTP server, a pointer switch, an HTTP readiness check) re-running only
//! what changed; time limits that kill the process group; retries only on matching output;
//! a real `ansible-playbook` over an inventory made from a Terraform component's outputs.

#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use crate::support::{copy_tree, infra_with_terraform, root, scratch_dir};

/// The `finished` events of a `--json` run: address → status, and the summary's process
/// count.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (BTreeMap<String, String>, u64, Output) {
    let mut all = args.to_vec();
    all.push("--json");
    let output = infra_with_terraform(dir, &all, env);
    let mut statuses = BTreeMap::new();
    let mut processes = u64::MAX;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        match event["event"].as_str() {
            Some("finished") => {
                let address = event["address"].as_str().unwrap_or_default().to_owned();
                statuses.insert(address, event["status"].as_str().unwrap_or_default().to_owned());
            }
            Some("summary") => processes = event["processes"].as_u64().unwrap_or(u64::MAX),
            _ => {}
        }
    }
    (statuses, processes, output)
}

fn expect(statuses: &BTreeMap<String, String>, want: &[(&str, &str)]) {
    let want: BTreeMap<String, String> =
        want.iter().map(|(a, s)| ((*a).to_owned(), (*s).to_owned())).collect();
    assert_eq!(statuses, &want);
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "`{from}` not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The body of `GET path` on 127.0.0.1:port.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// Stops the example's server even when an assertion failed.
struct Server(PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("server.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).stderr(Stdio::null()).status();
        }
    }
}

#[test]
fn the_lifecycle_example_runs_only_what_changed() {
    let dir = scratch_dir("steps-lifecycle");
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&root().join("examples/lifecycle"), &dir);
    let _server = Server(dir.clone());
    let port = free_port().to_string();
    let env = [("LIFECYCLE_PORT", port.as_str())];
    let apply = |env: &[(&str, &str)]| run(&dir, &["apply", "--auto-approve"], env);
    let port: u16 = port.parse().expect("a port");

    // `infra plan` of a fresh project: build would run, the rest waits for it.
    let (planned, processes, _) = run(&dir, &["plan"], &env);
    assert_eq!(processes, 0);
    assert_eq!(planned["app/build"], "would-run");
    assert_eq!(planned["app/release"], "pending");
    let show = infra_with_terraform(&dir, &["show"], &env);
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("app/build: would run `sh -c"), "{show}");
    assert!(show.contains("app/registry: pending — re-plans after `app/build` runs"), "{show}");

    let (first, processes, output) = apply(&env);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let all_applied = [
        ("app/build", "applied"),
        ("app/deploy", "applied"),
        ("app/healthy", "applied"),
        ("app/registry", "applied"),
        ("app/release", "applied"),
    ];
    expect(&first, &all_applied);
    assert_eq!(processes, 4, "four phases; the HTTP check starts no process");
    assert_eq!(http_get(port, "/version.txt").as_deref(), Some("1.0.0\n"));
    let archives = std::fs::read_dir(dir.join("registry")).expect("registry").count();
    assert_eq!(archives, 1);

    // Nothing changed: nothing runs, not even the check.
    let (second, processes, _) = apply(&env);
    assert!(second.values().all(|s| s == "up-to-date"), "{second:?}");
    assert_eq!(processes, 0);

    // A source change the archive leaves out: build runs, its digest is the same, and the
    // chain stops there (the check is repeated: a node before it ran).
    std::fs::write(dir.join("app/NOTES.md"), "edited\n").expect("write");
    let (cutoff, processes, _) = apply(&env);
    expect(
        &cutoff,
        &[
            ("app/build", "applied"),
            ("app/deploy", "up-to-date"),
            ("app/healthy", "applied"),
            ("app/registry", "up-to-date"),
            ("app/release", "up-to-date"),
        ],
    );
    assert_eq!(processes, 1);

    // A real change runs all four phases and goes live.
    std::fs::write(dir.join("app/version.txt"), "2.0.0\n").expect("write");
    let (changed, processes, _) = apply(&env);
    expect(&changed, &all_applied);
    assert_eq!(processes, 4);
    assert_eq!(http_get(port, "/version.txt").as_deref(), Some("2.0.0\n"));

    // A failing deploy skips release (and the check); the fixed rerun resumes at deploy.
    let deploy = dir.join("phases/deploy/run.sh");
    edit(&deploy, "set -eu\n", "set -eu\necho 'the cluster is full' >&2; exit 3\n");
    std::fs::write(dir.join("app/version.txt"), "3.0.0\n").expect("write");
    let (failed, _, output) = apply(&env);
    assert!(!output.status.success());
    expect(
        &failed,
        &[
            ("app/build", "applied"),
            ("app/deploy", "failed"),
            ("app/healthy", "skipped"),
            ("app/registry", "applied"),
            ("app/release", "skipped"),
        ],
    );
    let events = String::from_utf8_lossy(&output.stdout);
    assert!(events.contains("\"code\":\"infra::run::step\""), "{events}");
    assert!(events.contains("the cluster is full"), "the message quotes the output: {events}");
    assert_eq!(http_get(port, "/version.txt").as_deref(), Some("2.0.0\n"), "still the old one");
    edit(&deploy, "echo 'the cluster is full' >&2; exit 3\n", "");
    let (resumed, processes, _) = apply(&env);
    expect(
        &resumed,
        &[
            ("app/build", "up-to-date"),
            ("app/deploy", "applied"),
            ("app/healthy", "applied"),
            ("app/registry", "up-to-date"),
            ("app/release", "applied"),
        ],
    );
    assert_eq!(processes, 2);
    assert_eq!(http_get(port, "/version.txt").as_deref(), Some("3.0.0\n"));

    // `status`, `why` and `graph` treat steps like components.
    let status = infra_with_terraform(&dir, &["status"], &env);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.lines().all(|l| l.ends_with("up-to-date")), "{status}");
    std::fs::write(dir.join("app/version.txt"), "4.0.0\n").expect("write");
    let why = infra_with_terraform(&dir, &["why", "app/build"], &env);
    let why = String::from_utf8_lossy(&why.stdout);
    assert!(why.contains("file `version.txt` changed"), "{why}");
    let graph = infra_with_terraform(&dir, &["graph", "--format", "json"], &env);
    let graph: serde_json::Value = serde_json::from_slice(&graph.stdout).expect("graph json");
    let kinds: Vec<&str> = graph["components"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["step", "step", "wait", "step", "step"]);

    // `destroy` runs deploy's `destroy` program: the server stops.
    let (destroyed, _, output) = run(&dir, &["destroy", "app", "--auto-approve"], &env);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(destroyed.values().all(|s| s == "destroyed"), "{destroyed:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(http_get(port, "/version.txt"), None, "the server is gone");
}

/// A project of steps only, in a fresh directory.
fn steps_project(name: &str, main: &str) -> PathBuf {
    let dir = scratch_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("main.infra"), main).expect("write");
    dir
}

/// Whether the process runs (a zombie waiting for its new parent to reap it does not).
fn alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // `PID (NAME) STATE …`
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    matches!(state, Some(s) if s != 'Z' && s != 'X')
}

#[test]
fn timeouts_kill_the_process_group_and_retries_follow_the_output() {
    let port = free_port();
    let dir = steps_project(
        "steps-limits",
        &format!(
            r#"{{
  dev = infra.stack "dev" {{
    components = [
      (infra.step "slow" {{
        run = [ "sh" "-c" "sleep 60 & echo $! > child.pid; sleep 60" ];
        timeout = 1;
      }})
      (infra.step "flaky" {{
        run = [ "sh" "-c" "n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; if [ $n -lt 3 ]; then echo 'connection refused'; exit 1; fi; echo \"{{\\\"tries\\\": $n}}\" > $INFRA_OUTPUTS" ];
        retries = {{ attempts = 4; delay = 0.1; on = "refused"; }};
      }})
      (infra.step "picky" {{
        run = [ "sh" "-c" "n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count; echo 'permission denied'; exit 1" ];
        retries = {{ attempts = 4; delay = 0.1; on = "refused"; }};
      }})
      (infra.step "daemon" {{
        run = [ "sh" "-c" "sleep 60 & echo $! > daemon.pid; echo started" ];
        timeout = 20;
      }})
      (infra.wait "closed" {{ check = {{ tcp = "127.0.0.1:{port}"; }}; timeout = 1; interval = 0.2; }})
    ];
  }};
}}
"#
        ),
    );
    let started = std::time::Instant::now();
    let (statuses, _, output) = run(&dir, &["apply", "--auto-approve"], &[]);
    let events = String::from_utf8_lossy(&output.stdout);
    expect(
        &statuses,
        &[
            ("dev/closed", "failed"),
            ("dev/daemon", "applied"),
            ("dev/flaky", "applied"),
            ("dev/picky", "failed"),
            ("dev/slow", "failed"),
        ],
    );
    // A program that leaves a process holding its output is done when it exits.
    let daemon =
        std::fs::read_to_string(dir.join(".infra/work/dev/daemon/daemon.pid")).expect("pid");
    assert!(alive(&daemon), "the daemon runs on");
    let _ = Command::new("kill").arg(daemon.trim()).status();
    assert!(started.elapsed().as_secs() < 30, "the 60 s sleeps were cut short");
    // The whole process group was killed, the background child too.
    let child = std::fs::read_to_string(dir.join(".infra/work/dev/slow/child.pid")).expect("pid");
    assert!(!alive(&child), "the background child {child} survived");
    assert!(events.contains("ran past its timeout of 1s"), "{events}");
    assert_eq!(events.matches("\"code\":\"infra::run::timeout\"").count(), 2, "{events}");
    // Retried while the output matched; its outputs came from the third attempt.
    let count =
        |name: &str| std::fs::read_to_string(dir.join(format!(".infra/work/dev/{name}/count")));
    assert_eq!(count("flaky").expect("count").trim(), "3");
    let flaky = infra_with_terraform(&dir, &["output", "dev/flaky", "--json"], &[]);
    let flaky: serde_json::Value = serde_json::from_slice(&flaky.stdout).expect("outputs");
    assert_eq!(flaky["tries"], 3);
    // Output that does not match `retries.on` is not retried.
    assert_eq!(count("picky").expect("count").trim(), "1");
    assert!(events.contains("did not match `retries.on`"), "{events}");
}

/// `tools/install-ansible`: the real ansible-playbook, from PyPI, under target/tools/bin.
fn install_ansible() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        crate::support::install("install-ansible");
    });
}

#[test]
fn a_playbook_runs_again_only_when_the_outputs_it_reads_change() {
    crate::support::terraform();
    install_ansible();
    let dir = scratch_dir("steps-ansible");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("modules/vm")).expect("mkdir");
    std::fs::create_dir_all(dir.join("playbooks")).expect("mkdir");
    std::fs::write(
        dir.join("modules/vm/main.tf"),
        "variable \"port\" {\n  type = number\n}\n\
         output \"host\" {\n  value = \"127.0.0.1\"\n}\n\
         output \"port\" {\n  value = var.port\n}\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("playbooks/site.yml"),
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - copy:\n        \
         dest: \"{{ lookup('env', 'INFRA_ROOT') }}/{{ inventory_hostname }}.conf\"\n        \
         content: \"listen {{ ansible_host }}:{{ port }} as {{ role }}\\n\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("main.infra"),
        r#"let
  vm = infra.component "vm" {
    source = ./modules/vm;
    inputs.port = 8080;
    requiredOutputs = [ "host" "port" ];
  };
  platform = infra.lib.ansible.playbook "platform" {
    src = ./playbooks;
    playbook = "site.yml";
    inventory.all.hosts.web = {
      ansible_connection = "local";
      ansible_python_interpreter = "{{ ansible_playbook_python }}";
      ansible_host = vm.outputs.host;
      port = vm.outputs.port;
    };
    extraVars.role = "web";
    env.LC_ALL = "C.UTF-8";
  };
in
{ dev = infra.stack "dev" { components = [ vm platform ]; }; }
"#,
    )
    .expect("write");
    let apply = || run(&dir, &["apply", "--auto-approve"], &[]);
    let (first, _, output) = apply();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    expect(&first, &[("dev/platform", "applied"), ("dev/vm", "applied")]);
    let conf = || std::fs::read_to_string(dir.join("web.conf")).unwrap_or_default();
    assert_eq!(conf(), "listen 127.0.0.1:8080 as web\n");
    let (second, processes, _) = apply();
    assert!(second.values().all(|s| s == "up-to-date"), "{second:?}");
    assert_eq!(processes, 0);
    // The component's output changes: the playbook runs again with it.
    edit(&dir.join("main.infra"), "inputs.port = 8080;", "inputs.port = 9090;");
    let (third, _, _) = apply();
    expect(&third, &[("dev/platform", "applied"), ("dev/vm", "applied")]);
    assert_eq!(conf(), "listen 127.0.0.1:9090 as web\n");
}

/// Stops the phased example's application even when an assertion failed.
struct App(PathBuf);

impl Drop for App {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.0.join("app.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).stderr(Stdio::null()).status();
        }
    }
}

#[test]
fn the_phased_example_runs_infrastructure_platform_and_application_in_order() {
    crate::support::terraform();
    install_ansible();
    let dir = scratch_dir("steps-phased");
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&root().join("examples/phased"), &dir);
    let _app = App(dir.clone());
    let port = free_port();
    let port_text = port.to_string();
    let env = [("PHASED_PORT", port_text.as_str())];
    let apply = || run(&dir, &["apply", "--auto-approve"], &env);
    let (first, _, output) = apply();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(first.len(), 6);
    assert!(first.values().all(|s| s == "applied"), "{first:?}");
    assert_eq!(http_get(port, "/").as_deref(), Some("<p>Hello from app1</p>\n"));
    let conf = std::fs::read_to_string(dir.join("srv/app1/app.conf")).expect("rendered");
    assert_eq!(conf, format!("listen=127.0.0.1:{port}\ngreeting=Hello\n"));
    let (second, processes, _) = apply();
    assert!(second.values().all(|s| s == "up-to-date"), "{second:?}");
    assert_eq!(processes, 0);
    // A platform change: the playbook, the health check after it and the verification run;
    // the infrastructure and the running service are left alone.
    edit(&dir.join("main.infra"), "greeting = \"Hello\";", "greeting = \"Bonjour\";");
    let (third, _, _) = apply();
    expect(
        &third,
        &[
            ("prod/healthy", "applied"),
            ("prod/network", "up-to-date"),
            ("prod/platform", "applied"),
            ("prod/setup", "up-to-date"),
            ("prod/verify", "applied"),
            ("prod/vm", "up-to-date"),
        ],
    );
    assert_eq!(http_get(port, "/").as_deref(), Some("<p>Bonjour from app1</p>\n"));
    let (destroyed, _, _) = run(&dir, &["destroy", "prod", "--auto-approve"], &env);
    assert!(destroyed.values().all(|s| s == "destroyed"), "{destroyed:?}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(http_get(port, "/"), None, "the application was stopped");
}

/// A project whose `app` component has a `prePlan` hook writing a variables file the plan
/// needs (`greeting`), and reads `net`'s output.
fn hooked_project(name: &str) -> PathBuf {
    let dir = steps_project(
        name,
        r#"let
  net = infra.component "net" { source = ./net; inputs.cidr = "10.0.0.0/16"; };
  app = infra.component "app" {
    source = ./app;
    inputs.network = net.outputs.id;
    hooks.prePlan = [ "printf '{\"greeting\": \"hello\"}' > hook.auto.tfvars.json; date +%s%N >> runs" ];
  };
  after = infra.step "after" { run = [ "sh" "-c" "date +%s%N >> runs" ]; rerunAfter = [ "net" ]; };
in {
  dev = infra.stack "dev" { components = [ net app after ]; };
}
"#,
    );
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "net/main.tf",
        "variable \"cidr\" { type = string }\noutput \"id\" { value = \"net-${var.cidr}\" }\n",
    );
    write(
        "app/main.tf",
        concat!(
            "variable \"network\" { type = string }\n",
            "variable \"greeting\" { type = string }\n",
            "output \"said\" { value = \"${var.greeting} from ${var.network}\" }\n",
        ),
    );
    dir
}

/// `app`'s recorded output `said`.
fn said(dir: &Path) -> String {
    let output = infra_with_terraform(dir, &["output", "dev/app", "--json"], &[]);
    let outputs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    outputs["said"].as_str().unwrap_or_default().to_owned()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0)
}

#[test]
fn hooks_are_steps_of_the_graph_and_run_only_when_their_component_would() {
    let dir = hooked_project("steps-hooks");
    let runs = dir.join(".infra/work/dev/app/runs");
    // `plan` runs the prePlan hook (the plan needs its file), then plans with it.
    let (plan, _, output) = run(&dir, &["plan"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    expect(
        &plan,
        &[
            ("dev/net", "planned"),
            ("dev/app.prePlan", "applied"),
            ("dev/app", "planned"),
            ("dev/after", "would-run"),
        ],
    );
    assert_eq!(lines(&runs), 1);
    // `apply` applies the kept plans; the hook does not run again.
    let (applied, _, output) = run(&dir, &["apply", "--auto-approve"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(applied["dev/app.prePlan"], "up-to-date");
    assert_eq!(applied["dev/app"], "applied");
    assert_eq!(applied["dev/after"], "applied");
    assert_eq!(lines(&runs), 1);
    assert_eq!(said(&dir), "hello from net-10.0.0.0/16");
    let (again, processes, _) = run(&dir, &["apply", "--auto-approve"], &[]);
    assert!(again.values().all(|s| s == "up-to-date"), "{again:?}");
    assert_eq!(processes, 0);
    // A new hook command: the hook runs, and its component plans again with what it made.
    edit(&dir.join("main.infra"), "\\\"hello\\\"", "\\\"hi\\\"");
    let (changed, _, output) = run(&dir, &["apply", "--auto-approve"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(changed["dev/app.prePlan"], "applied");
    assert_eq!(changed["dev/app"], "applied");
    assert_eq!(changed["dev/net"], "up-to-date");
    assert_eq!(changed["dev/after"], "up-to-date");
    assert_eq!(said(&dir), "hi from net-10.0.0.0/16");
    // `net` changes: the hook (it reads what `app` reads, here a value `net`'s plan knows)
    // runs at plan with it; `after` (`rerunAfter`) would run after `net` does.
    edit(&dir.join("main.infra"), "10.0.0.0/16", "10.1.0.0/16");
    let (plan, _, _) = run(&dir, &["plan"], &[]);
    expect(
        &plan,
        &[
            ("dev/net", "planned"),
            ("dev/app.prePlan", "applied"),
            ("dev/app", "planned"),
            ("dev/after", "would-run"),
        ],
    );
    let (applied, _, output) = run(&dir, &["apply", "--auto-approve"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    expect(
        &applied,
        &[
            ("dev/net", "applied"),
            ("dev/app.prePlan", "up-to-date"),
            ("dev/app", "applied"),
            ("dev/after", "applied"),
        ],
    );
    assert_eq!(lines(&runs), 3);
    assert_eq!(said(&dir), "hi from net-10.1.0.0/16");
    // `rerunAfter`: the step runs after every run of `net`, even one that changes no output.
    let after_runs = dir.join(".infra/work/dev/after/runs");
    let before = lines(&after_runs);
    let (forced, _, _) =
        run(&dir, &["apply", "--auto-approve", "--force", "dev/net", "--only"], &[]);
    assert_eq!(forced["dev/net"], "applied");
    let (after, _, _) = run(&dir, &["apply", "--auto-approve"], &[]);
    assert_eq!(after["dev/after"], "applied", "{after:?}");
    assert_eq!(after["dev/app"], "up-to-date", "{after:?}");
    assert_eq!(lines(&after_runs), before + 1);
    // `why` names the hook's run as the reason its component planned again.
    let graph = infra_with_terraform(&dir, &["graph", "--format", "json"], &[]);
    let graph: serde_json::Value = serde_json::from_slice(&graph.stdout).expect("graph JSON");
    let text = graph.to_string();
    assert!(text.contains("\"dev/app.prePlan\""), "{text}");
    assert!(text.contains("\"hook\""), "{text}");
}
