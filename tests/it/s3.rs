//! The S3 cache, the cache lock and Terraform's S3 state against a real S3-compatible server:
//! moto in server mode (PyPI), started on loopback for each test by `tools/install-ci-tools`'
//! program. The backend contract (plain and conditional writes) in process; then the `infra`
//! binary: two checkouts sharing nothing but the S3 cache and S3 state; two concurrent
//! applies taking turns on the lock; a lock holder killed with -9, taken over after its lease.

#![allow(clippy::disallowed_methods)]

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use store::cache::{RemoteCache, S3Cache, check_conditional_contract, check_contract};

use crate::support::{copy_tree, install, root, scratch_dir, terraform};

/// moto's S3 server on 127.0.0.1 (a real HTTP server speaking the S3 API); stopped on drop.
pub(crate) struct Moto {
    child: Child,
    pub(crate) endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub(crate) fn start(dir: &Path) -> Moto {
        let server = install("install-ci-tools").join("moto_server");
        std::fs::create_dir_all(dir).expect("mkdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let log = std::fs::File::create(dir.join("moto.log")).expect("log");
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start moto_server");
        let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// Creates a bucket (moto takes an unsigned `PUT /BUCKET`).
    pub(crate) fn bucket(&self, name: &str) {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        write!(
            stream,
            "PUT /{name} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        assert!(response.starts_with("HTTP/1.1 200"), "create bucket {name}: {response}");
    }

    /// The AWS environment of a client of this server (the S3 cache, Terraform's S3 backend).
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            // Terraform 1.0's S3 backend and `terraform_remote_state` read this one.
            ("AWS_S3_ENDPOINT", self.endpoint.clone()),
        ]
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[test]
fn the_s3_backend_keeps_the_contract_against_a_real_s3_server() {
    let dir = scratch_dir("s3-contract");
    let moto = Moto::start(&dir);
    moto.bucket("cache");
    let env = moto.env();
    let settings: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cache = S3Cache::configured("s3://cache/team/estate", &settings).expect("open");
    let runtime = runtime();
    runtime.block_on(check_contract(&cache)).expect("the S3 backend keeps the contract");
    runtime
        .block_on(check_conditional_contract(&cache))
        .expect("the S3 backend keeps the conditional contract");
    // The prefix is where the keys live: another prefix of the bucket sees none of them.
    runtime.block_on(cache.put("refs/dev/app", b"x".to_vec())).expect("put");
    let other = S3Cache::configured("s3://cache/other", &settings).expect("open");
    assert_eq!(runtime.block_on(other.get("refs/dev/app")), Ok(None));
    // A bucket that does not exist is an error naming the URL, not a miss.
    let missing = S3Cache::configured("s3://no-such-bucket", &settings).expect("open");
    let error = runtime.block_on(missing.get("refs/dev/app")).expect_err("no bucket");
    assert!(error.to_string().contains("s3://no-such-bucket"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A checkout of `examples/remote-state` whose stacks keep their state in the S3 bucket
/// `state` (Terraform's own S3 backend, against the same server).
pub(crate) struct Checkout {
    pub(crate) dir: PathBuf,
}

impl Checkout {
    pub(crate) fn new(name: &str) -> Checkout {
        let dir = scratch_dir(name);
        let _ = std::fs::remove_dir_all(&dir);
        copy_tree(&root().join("examples/remote-state"), &dir);
        let path = dir.join("main.infra");
        let text = std::fs::read_to_string(&path).expect("read");
        let backend = "let\n  backend = infra.backend \"s3\" {\n    bucket = \"state\";\n    region = \"us-east-1\";\n    force_path_style = true;\n    skip_credentials_validation = true;\n    skip_metadata_api_check = true;\n    skip_region_validation = true;\n  };\n";
        let text = text.replacen("let\n", backend, 1);
        let text =
            text.replace("infra.stack \"shared\" {", "infra.stack \"shared\" { inherit backend;");
        let text = text.replace("infra.stack \"dev\" {", "infra.stack \"dev\" { inherit backend;");
        let text =
            text.replace("infra.stack \"prod\" {", "infra.stack \"prod\" { inherit backend;");
        std::fs::write(&path, text).expect("write");
        Checkout { dir }
    }

    pub(crate) fn infra(&self, moto: &Moto, args: &[&str]) -> Output {
        infra_s3(&self.dir, moto, args)
    }

    pub(crate) fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("main.infra");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "{from}");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }
}

/// `infra ARGS` in `dir` with the real Terraform and the server's AWS environment.
fn infra_s3(dir: &Path, moto: &Moto, args: &[&str]) -> Output {
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::support::infra_with_terraform(dir, args, &env)
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn two_checkouts_share_only_an_s3_cache_and_s3_state() {
    let base = scratch_dir("s3-two-checkouts");
    let moto = Moto::start(&base.join("moto"));
    moto.bucket("cache");
    moto.bucket("state");
    let _ = terraform();
    let url = "s3://cache/estate";
    let a = Checkout::new("s3-checkout-a");
    let b = Checkout::new("s3-checkout-b");

    let applied = a.infra(&moto, &["apply", "--auto-approve", "--json", "--cache", url]);
    assert!(applied.status.success(), "{}", text(&applied));
    let (statuses, _) = crate::cache::summary(&applied);
    assert!(statuses.values().all(|s| s == "applied"), "{statuses:?}");
    // The state is in S3, not in the checkout.
    assert!(!a.dir.join(".infra/tfstate").exists(), "local state was written");
    // `app` read `dns`'s zone through Terraform's own remote state, from S3.
    let outputs = a.infra(&moto, &["output", "dev/app", "--json"]);
    assert!(text(&outputs).contains("zone_from_state"), "{}", text(&outputs));

    // B starts empty: its records come from the S3 cache, so nothing is planned.
    let plan = b.infra(&moto, &["plan", "--json", "--cache", url]);
    let (statuses, processes) = crate::cache::summary(&plan);
    assert_eq!(processes, 0, "{}", text(&plan));
    // One request: the records manifest names every component's record.
    assert!(
        text(&plan)
            .contains("cache pull from `s3://cache/estate`: 1 request, 0 uploaded, 3 downloaded"),
        "{}",
        text(&plan)
    );
    assert!(statuses.values().all(|s| s == "up-to-date"), "{statuses:?}");

    // B changes dev's app and applies exactly it (Terraform reads and writes the S3 state);
    // A, with the same change, then plans nothing.
    b.edit("name = \"${ctx.stack}-app\";", "name = \"${ctx.stack}-web\";");
    let change = b.infra(&moto, &["apply", "--auto-approve", "--json", "--cache", url, "dev"]);
    assert!(change.status.success(), "{}", text(&change));
    let (statuses, _) = crate::cache::summary(&change);
    assert_eq!(statuses.get("dev/app").map(String::as_str), Some("applied"), "{statuses:?}");
    assert_eq!(statuses.get("shared/dns").map(String::as_str), Some("up-to-date"));
    a.edit("name = \"${ctx.stack}-app\";", "name = \"${ctx.stack}-web\";");
    let seen = a.infra(&moto, &["plan", "--json", "--cache", url, "dev"]);
    let (statuses, processes) = crate::cache::summary(&seen);
    assert_eq!(processes, 0, "{statuses:?}\n{}", text(&seen));
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&a.dir);
    let _ = std::fs::remove_dir_all(&b.dir);
}

/// A project of one step that logs its start and end to `journal` and sleeps `seconds`.
fn slow_project(dir: &Path, journal: &Path, label: &str, seconds: u32) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("mkdir");
    let j = journal.display();
    std::fs::write(
        dir.join("main.infra"),
        format!(
            "{{\n  ops = infra.stack \"ops\" {{\n    components = [\n      (infra.step \"slow\" {{\n        run = [ \"sh\" \"-c\" \"echo start {label} >> {j}; sleep {seconds}; echo end {label} >> {j}\" ];\n      }})\n    ];\n  }};\n}}\n"
        ),
    )
    .expect("write");
}

fn start_infra(dir: &Path, moto: &Moto, args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(env!("CARGO_BIN_EXE_infra"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (key, value) in moto.env() {
        command.env(key, value);
    }
    command.spawn().expect("start infra")
}

fn wait_for_lock(moto: &Moto, url: &str) {
    let env = moto.env();
    let settings: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cache = S3Cache::configured(url, &settings).expect("open");
    let runtime = runtime();
    let deadline = Instant::now() + Duration::from_secs(60);
    // A lease that is held (a released one stays, expired).
    let held = || {
        let bytes = runtime.block_on(cache.get("locks/estate")).ok().flatten()?;
        let lease: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
        (lease["expires"].as_u64()? > now.as_secs()).then_some(())
    };
    while held().is_none() {
        assert!(Instant::now() < deadline, "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn runs_from_two_machines_take_turns_on_the_cache_lock() {
    let base = scratch_dir("s3-lock");
    let moto = Moto::start(&base.join("moto"));
    moto.bucket("cache");
    let url = "s3://cache/estate";
    let journal = base.join("journal");
    let (a, b) = (base.join("a"), base.join("b"));
    slow_project(&a, &journal, "a", 3);
    slow_project(&b, &journal, "b", 1);
    let args =
        ["apply", "--auto-approve", "--lock", "cache", "--lock-timeout", "120", "--cache", url];

    // A takes the lock; B, started while A runs, waits for it and runs after A.
    let first = start_infra(&a, &moto, &args);
    wait_for_lock(&moto, url);
    let second = start_infra(&b, &moto, &args);
    let (first, second) =
        (first.wait_with_output().expect("a"), second.wait_with_output().expect("b"));
    assert!(first.status.success(), "{}", text(&first));
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).contains("waiting for the estate lock in `s3://cache/estate`: held by"),
        "{}",
        text(&second)
    );
    let events = std::fs::read_to_string(&journal).expect("journal");
    assert_eq!(events, "start a\nend a\nstart b\nend b\n", "the runs overlapped");

    // A holder killed with -9 stops renewing; the next run takes the lock over after its lease.
    slow_project(&a, &journal, "a2", 60);
    let mut killed = start_infra(
        &a,
        &moto,
        &["apply", "--auto-approve", "--lock", "cache", "--lock-lease", "3", "--cache", url],
    );
    wait_for_lock(&moto, url);
    let group = format!("-{}", killed.id());
    let status = Command::new("kill").args(["-9", "--", &group]).status().expect("kill");
    assert!(status.success());
    let _ = killed.wait();
    slow_project(&b, &journal, "b2", 0);
    let started = Instant::now();
    let next = infra_s3(
        &b,
        &moto,
        &["apply", "--auto-approve", "--lock", "cache", "--lock-timeout", "60", "--cache", url],
    );
    assert!(next.status.success(), "{}", text(&next));
    assert!(text(&next).contains("took over the estate lock of"), "{}", text(&next));
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    // Released at the end: a third run takes it at once.
    let third = infra_s3(&b, &moto, &["plan", "--lock", "cache", "--cache", url]);
    assert!(third.status.success(), "{}", text(&third));
    assert!(!text(&third).contains("waiting for the estate lock"), "{}", text(&third));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn a_run_that_loses_the_cache_lock_stops() {
    let base = scratch_dir("s3-lock-lost");
    let mut moto = Moto::start(&base.join("moto"));
    moto.bucket("cache");
    let url = "s3://cache/estate";
    let journal = base.join("journal");
    let dir = base.join("a");
    slow_project(&dir, &journal, "a", 60);
    let run = start_infra(
        &dir,
        &moto,
        &["apply", "--auto-approve", "--lock", "cache", "--lock-lease", "3", "--cache", url],
    );
    wait_for_lock(&moto, url);
    // And the run knows it holds it (its step started): the lease object can be on the
    // server before the answer to its PUT is back, and a cache gone in between is a lock
    // never taken, not one lost.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&journal).unwrap_or_default() != "start a\n" {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The cache goes away: the lease cannot be renewed, and once it has run out another
    // machine could take it, so the run must stop rather than go on applying.
    let _ = moto.child.kill();
    let _ = moto.child.wait();
    let started = Instant::now();
    let output = run.wait_with_output().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(!output.status.success());
    let shown = text(&output);
    assert!(shown.contains("error[infra::lock::lost]"), "{shown}");
    let events = std::fs::read_to_string(&journal).unwrap_or_default();
    assert_eq!(events, "start a\n", "the step was not stopped");
    let _ = std::fs::remove_dir_all(&base);
}
