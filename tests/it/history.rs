//! The operation history, with real runs: after a sequence of runs `infra history --json`
//! lists them newest first with their operations, statuses, per-node results and the git
//! commit the project was at; `kill -9` of a run in the middle leaves a history that opens
//! and shows that run as interrupted, with the nodes it finished.

#![allow(clippy::disallowed_methods)]

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::support::{infra_with_terraform, scratch_dir};

const MAIN: &str = r#"{
  dev = infra.stack "dev" {
    components = [
      (infra.step "quick" { run = [ "sh" "-c" "echo '{\"n\": 1}' > $INFRA_OUTPUTS" ]; })
      (infra.step "slow" { run = [ "sh" "-c" "echo $$ > slow.pid; exec sleep SECONDS" ]; dependsOn = [ "quick" ]; })
    ];
  };
}
"#;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=infra", "-c", "user.email=infra@example.invalid"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn history(dir: &Path, db: &[(&str, &str)]) -> serde_json::Value {
    let output = infra_with_terraform(dir, &["history", "--json"], db);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("history JSON")
}

#[test]
fn the_history_lists_every_run_and_survives_a_kill() {
    check("history", &[]);
}

/// The same runs and assertions with the history in a real PostgreSQL server the test starts
/// (Debian's `postgresql`, which tools/test installs).
#[test]
fn the_history_in_postgresql_says_the_same() {
    let server = Postgres::start();
    let url = server.url();
    check("history-pg", &[("INFRA_HISTORY", url.as_str())]);
}

/// A throwaway PostgreSQL cluster on a free loopback port, stopped (immediately) on drop.
/// Started through `pg_ctl -w -l LOG` so that the server's output goes to a file: a server
/// that inherited the test's pipes would keep `Command::output` waiting for ever.
struct Postgres {
    dir: std::path::PathBuf,
    port: u16,
    bin: std::path::PathBuf,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("pg_ctl").exists())
            .max()
            .expect("PostgreSQL is needed (tools/test installs Debian's postgresql)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        // Outside the checkout: the server's user must be able to reach it.
        let dir = std::env::temp_dir().join(format!("infra-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let server = Postgres { dir, port, bin };
        if Self::as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.dir)
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let data = server.dir.join("data");
        server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "infra".as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            server.port,
            server.dir.display()
        );
        server.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                server.dir.join("server.log").as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "start".as_ref(),
            ],
        );
        server
    }

    fn as_root() -> bool {
        Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
    }

    /// Runs one of the server's programs, as `postgres` when the test runs as root (the
    /// server refuses root), with no pipe left behind.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let path = self.bin.join(program);
        let mut command = if Self::as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let log = self.dir.join(format!("{program}.out"));
        let out = std::fs::File::create(&log).expect("log file");
        let status = command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .status()
            .expect("run a PostgreSQL program");
        let server_log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        assert!(
            status.success(),
            "{program} failed: {}\n{server_log}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn url(&self) -> String {
        format!("postgres://infra@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let mut command = if Self::as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = command
            .args(["-m", "immediate", "-w", "stop", "-D"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs, a failure, a second commit, a kill; what the history says of them (`db`: where it
/// is kept).
fn check(name: &str, db: &[(&str, &str)]) {
    let dir = scratch_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("main.infra"), MAIN.replace("SECONDS", "0")).expect("write");
    std::fs::write(dir.join(".gitignore"), ".infra/\n").expect("write");
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "first"]);
    let first_commit = git(&dir, &["rev-parse", "HEAD"]);

    let with = |user: &'static str| -> Vec<(&str, &str)> {
        let mut env = vec![("INFRA_USER", user)];
        env.extend_from_slice(db);
        env
    };
    let applied = infra_with_terraform(&dir, &["apply", "--auto-approve"], &with("alice"));
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let planned = infra_with_terraform(&dir, &["plan"], &with("bob"));
    assert!(planned.status.success());
    // A failing run, at a second commit.
    std::fs::write(dir.join("main.infra"), MAIN.replace("exec sleep SECONDS", "exit 1"))
        .expect("write");
    git(&dir, &["commit", "-q", "-am", "second"]);
    let second_commit = git(&dir, &["rev-parse", "HEAD"]);
    let failed = infra_with_terraform(&dir, &["apply", "--auto-approve"], &with("alice"));
    assert!(!failed.status.success());

    let runs = history(&dir, db);
    let runs = runs.as_array().expect("a list");
    assert_eq!(runs.len(), 3, "{runs:?}");
    let field = |i: usize, key: &str| runs[i][key].clone();
    assert_eq!((field(0, "operation"), field(0, "status")), ("apply".into(), "failed".into()));
    assert_eq!((field(1, "operation"), field(1, "status")), ("plan".into(), "succeeded".into()));
    assert_eq!((field(2, "operation"), field(2, "status")), ("apply".into(), "succeeded".into()));
    assert_eq!(field(0, "commit"), serde_json::json!(second_commit));
    assert_eq!(field(2, "commit"), serde_json::json!(first_commit));
    assert_eq!((field(1, "user"), field(2, "user")), ("bob".into(), "alice".into()));
    let node = |i: usize, address: &str| {
        runs[i]["nodes"]
            .as_array()
            .and_then(|n| n.iter().find(|n| n["address"] == address).cloned())
    };
    assert_eq!(node(2, "dev/slow").map(|n| n["status"].clone()), Some("applied".into()));
    let failed_node = node(0, "dev/slow").expect("the failed node");
    assert_eq!(failed_node["status"], "failed");
    assert_eq!(failed_node["code"], "infra::run::step");
    assert!(failed_node["log"].as_str().is_some_and(|l| l.ends_with("dev.slow.log")));
    assert!(failed_node["input_hash"].as_str().is_some_and(|h| h.len() == 64), "{failed_node}");
    // `history show` of one run, by a prefix of its id, names the log.
    let id = runs[0]["id"].as_str().unwrap_or_default().to_owned();
    let show = infra_with_terraform(&dir, &["history", "show", &id], db);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("dev/slow  failed") && text.contains("log: "), "{text}");

    // Killed in the middle: `quick` ran, `slow` was running.
    std::fs::write(
        dir.join("main.infra"),
        MAIN.replace("SECONDS", "60").replace("{\\\"n\\\": 1}", "{\\\"n\\\": 2}"),
    )
    .expect("write");
    let bin = crate::support::terraform().parent().map(Path::to_path_buf).unwrap_or_default();
    let mut child = Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(["apply", "--auto-approve"])
        .current_dir(&dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .envs(db.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start infra");
    let started = Instant::now();
    loop {
        let runs = history(&dir, db);
        let quick = runs[0]["nodes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|n| n["address"] == "dev/quick"));
        if runs[0]["status"] == "running" && quick {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the run never got going: {runs}");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let runs = history(&dir, db);
    assert_eq!(runs[0]["status"], "interrupted", "{}", runs[0]);
    assert_eq!(runs.as_array().map(Vec::len), Some(4));
    let nodes = runs[0]["nodes"].as_array().cloned().unwrap_or_default();
    assert!(
        nodes.iter().any(|n| n["address"] == "dev/quick" && n["status"] == "applied"),
        "{nodes:?}"
    );
    // Kept where it was told: in the server, or in `.infra/history.db`.
    assert_eq!(dir.join(".infra/history.db").exists(), db.is_empty());
    // The sleep the killed run started outlives it (its group was not signalled): stop it.
    let pid =
        std::fs::read_to_string(dir.join(".infra/work/dev/slow/slow.pid")).unwrap_or_default();
    if let Ok(pid) = pid.trim().parse::<i32>() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
