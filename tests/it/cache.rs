//! Remote caches end to end: the backend contract against a real nginx (WebDAV PUT) on
//! loopback; two machines (two checkouts, two `.infra/`, one cache, a shared state directory
//! standing in for remote state); signed records; a cache that is down.

#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

use store::cache::{check_contract, open_cache};

use crate::support::{copy_tree, infra_with_terraform, root, scratch_dir};

/// nginx with WebDAV PUT on 127.0.0.1, in its own prefix; stopped on drop.
struct Nginx {
    child: Child,
    url: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx(dir: &Path) -> Nginx {
    let binary =
        ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().map(PathBuf::from).find(|p| p.exists());
    let binary =
        binary.expect("nginx is not installed: `bash tools/test` installs Debian's nginx-light");
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::create_dir_all(dir.join("tmp")).expect("mkdir");
    // The worker may run as another user (nginx started as root drops to `nobody`).
    #[cfg(unix)]
    for sub in ["data", "tmp"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(sub), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
             \x20 server {{\n    listen 127.0.0.1:{port};\n    root {d}/data;\n    client_max_body_size 0;\n\
             \x20   location / {{ dav_methods PUT DELETE; create_full_put_path on; dav_access user:rw group:rw all:r; }}\n  }}\n}}\n"
        ),
    )
    .expect("write nginx.conf");
    let child = Command::new(binary)
        .args(["-c", &dir.join("nginx.conf").to_string_lossy(), "-p", &dir.to_string_lossy()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Nginx { child, url: format!("http://127.0.0.1:{port}/cache") }
}

#[test]
fn the_http_backend_passes_the_contract_against_a_real_nginx() {
    let server = nginx(&scratch_dir("nginx-contract"));
    let cache = open_cache(&server.url).expect("open");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(check_contract(cache.as_ref())).expect("the HTTP backend keeps the contract");
    // Nothing listens: an error (a timeout at most), which a run turns into a warning.
    let down = open_cache("http://127.0.0.1:9/cache").expect("open");
    assert!(runtime.block_on(down.get("cas/abc")).is_err());
}

struct Machine {
    dir: PathBuf,
}

impl Machine {
    fn new(name: &str, state: &Path) -> Machine {
        let dir = scratch_dir(name);
        let _ = std::fs::remove_dir_all(&dir);
        copy_tree(&root().join("examples/quickstart"), &dir);
        std::fs::create_dir_all(dir.join(".infra")).expect("mkdir");
        // The shared state directory stands in for a remote backend.
        #[cfg(unix)]
        std::os::unix::fs::symlink(state, dir.join(".infra/tfstate")).expect("symlink");
        Machine { dir }
    }

    fn infra(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        infra_with_terraform(&self.dir, args, env)
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("main.infra");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from));
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }
}

/// Statuses, and the Terraform steps started (init, plan, apply; a fresh machine runs one
/// `version` to learn the tool's version, cached afterwards).
pub(crate) fn summary(output: &Output) -> (BTreeMap<String, String>, u64) {
    let mut statuses = BTreeMap::new();
    let mut steps = 0;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if event["event"] == "finished" {
            let address = event["address"].as_str().unwrap_or("").to_owned();
            statuses.insert(address, event["status"].as_str().unwrap_or("").to_owned());
        } else if event["event"] == "started" && event["step"] != "version" {
            steps += 1;
        }
    }
    (statuses, steps)
}

fn objects(output: &Output) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, p)| {
            (
                a.to_owned(),
                Path::new(p).file_name().unwrap_or_default().to_string_lossy().into_owned(),
            )
        })
        .collect()
}

#[test]
fn a_fresh_machine_plans_nothing_that_another_applied() {
    let base = scratch_dir("two-machines");
    let _ = std::fs::remove_dir_all(&base);
    let (state, cache_dir) = (base.join("state"), base.join("cache"));
    std::fs::create_dir_all(&state).expect("mkdir");
    let url = format!("file://{}", cache_dir.display());
    let a = Machine::new("two-machines-a", &state);
    let b = Machine::new("two-machines-b", &state);

    let applied = a.infra(&["apply", "--auto-approve", "--json", "--cache", &url], &[]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    // B starts empty: its records come from the cache, so nothing is planned.
    let plan = b.infra(&["plan", "--json", "--cache", &url], &[]);
    let (statuses, processes) = summary(&plan);
    assert_eq!(
        processes,
        0,
        "{}\n{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(statuses.values().all(|s| s == "up-to-date"));
    // The same project builds to the same objects on both machines, and the cache agrees.
    assert_eq!(objects(&a.infra(&["build"], &[])), objects(&b.infra(&["build"], &[])));
    let check = b.infra(&["build", "--check", "--cache", &url], &[]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    // B changes one component and applies exactly it; A, with the same change, is up to date.
    b.edit("team = \"platform\"", "team = \"networking\"");
    let change = b.infra(&["apply", "--auto-approve", "--json", "--cache", &url, "dev"], &[]);
    let (statuses, _) = summary(&change);
    assert_eq!(statuses["dev/network"], "applied");
    assert_eq!(statuses["dev/cluster"], "up-to-date");
    a.edit("team = \"platform\"", "team = \"networking\"");
    let seen = a.infra(&["plan", "--json", "--cache", &url, "dev"], &[]);
    let (statuses, processes) = summary(&seen);
    assert_eq!(processes, 0, "{statuses:?}");

    // A non-reproducible build is caught: a tampered realisation disagrees with ours.
    for entry in std::fs::read_dir(cache_dir.join("ac")).expect("ac") {
        let path = entry.expect("entry").path();
        std::fs::write(&path, "{\"object\":\"x\",\"digest\":\"00\"}").expect("tamper");
    }
    let check = a.infra(&["build", "--check", "--cache", &url], &[]);
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("infra::cache::mismatch"));

    // A cache that is down slows nothing beyond a timeout and fails nothing.
    let down = a.infra(&["plan", "--json", "--cache", "http://127.0.0.1:9/cache", "dev"], &[]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(String::from_utf8_lossy(&down.stderr).contains("infra::cache::unavailable"));
    let _ = std::fs::remove_dir_all(&base);
    let _ = std::fs::remove_dir_all(&a.dir);
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[test]
fn with_trusted_keys_forged_or_unsigned_records_are_ignored() {
    let base = scratch_dir("signed");
    let _ = std::fs::remove_dir_all(&base);
    let state = base.join("state");
    std::fs::create_dir_all(&state).expect("mkdir");
    let server = nginx(&base.join("nginx"));
    let a = Machine::new("signed-a", &state);
    let b = Machine::new("signed-b", &state);
    let key = base.join("signing.key");
    let keygen = a.infra(&["cache", "keygen", "-o", &key.to_string_lossy()], &[]);
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    for machine in [&a, &b] {
        std::fs::write(machine.dir.join(".infra-cache-keys"), &keygen.stdout)
            .expect("trusted keys");
    }
    let signing = [("INFRA_CACHE_SIGNING_KEY", key.to_str().unwrap_or(""))];
    let applied = a.infra(
        &["apply", "--auto-approve", "--json", "--cache", &server.url, "dev/network"],
        &signing,
    );
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    // Over HTTP, signed: B trusts it and plans nothing.
    let plan = b.infra(&["plan", "--json", "--cache", &server.url, "dev/network"], &[]);
    assert_eq!(summary(&plan).1, 0, "{}", String::from_utf8_lossy(&plan.stderr));
    // A forged record (edited after signing) is ignored with a warning: C plans for real.
    let record = base.join("nginx/data/cache/refs/dev/network");
    let text = std::fs::read_to_string(&record).expect("the record");
    std::fs::write(&record, text.replace("\"tool\":\"terraform\"", "\"tool\":\"terraform \""))
        .expect("forge");
    let c = Machine::new("signed-c", &state);
    std::fs::write(c.dir.join(".infra-cache-keys"), &keygen.stdout).expect("trusted keys");
    let plan = c.infra(&["plan", "--json", "--cache", &server.url, "dev/network"], &[]);
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert!(stderr.contains("signature does not match"), "{stderr}");
    assert!(summary(&plan).1 > 0, "an untrusted record must not make anything up to date");
    drop(server);
    for dir in [&base, &a.dir, &b.dir, &c.dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_cache_url_that_is_none_is_an_error_and_a_bare_path_a_directory() {
    let project = crate::support::example("quickstart", "cache-bad-url");
    let bad = crate::support::infra(&project, &["status", "--cache", "ftp://x/y"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stderr);
    assert!(
        text.contains("infra::cache::bad_url") && text.contains("`--cache` gives `ftp://x/y`"),
        "{text}"
    );
    let dir = crate::support::scratch_dir("cache-bare-path");
    let bare = crate::support::infra(&project, &["status", "--cache", &dir.display().to_string()]);
    assert!(bare.status.success(), "{}", String::from_utf8_lossy(&bare.stderr));
    assert!(!String::from_utf8_lossy(&bare.stderr).contains("infra::cache"), "a directory cache");
    let _ = std::fs::remove_dir_all(&project);
}
