//! The web view in a real browser: `infra ui --allow-approve` on a free loopback port, driven
//! by headless Chromium through chromedriver (Debian's `chromium` and `chromium-driver`,
//! installed by tools/test) over the WebDriver protocol. The graph page lists every node with
//! its state; a node's page shows its kept plan's resource addresses; its approve button
//! records an approval of that plan and the node moves on, and `infra apply` then applies it.
//! A screenshot is saved under `target/test-artifacts/`. A secret's canary is in no page.

#![allow(clippy::disallowed_methods)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::support::{infra_with_terraform, root, scratch_dir, terraform, test_provider_rc};

const CANARY: &str = "canary-7f3e9b1c-in-the-browser";

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request on loopback; the response's status and body.
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    // chromedriver keeps the connection open: read the head, then `Content-Length` bytes.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).expect("read the body");
        }
        None => {
            reader.read_to_end(&mut body).expect("read the body");
        }
    }
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A form POST; the status and body.
fn form(port: u16, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let (head, page) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), page.to_owned())
}

/// A WebDriver command; its `value`.
fn wd(port: u16, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    let body = if method == "GET" || method == "DELETE" { String::new() } else { body.to_string() };
    let (status, text) = http(port, method, path, &body);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(status, 200, "WebDriver {method} {path}: {text}");
    json["value"].clone()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn project(dir: &Path, identity: &Path) {
    std::fs::create_dir_all(dir.join("modules/db")).expect("mkdir");
    std::fs::create_dir_all(dir.join("secrets")).expect("mkdir");
    std::fs::write(
        dir.join("modules/db/main.tf"),
        concat!(
            "terraform {\n  required_providers {\n",
            "    infratest = { source = \"infra.test/infra/infratest\" }\n  }\n}\n",
            "variable \"password\" {\n  type      = string\n  sensitive = true\n}\n",
            "resource \"infratest_thing\" \"db\" {\n  name  = \"db\"\n  value = sha256(var.password)\n}\n",
            "output \"id\" { value = infratest_thing.db.id }\n",
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("main.infra"),
        r#"let
  db = infra.component "db" {
    source = ./modules/db;
    inputs.password = infra.secret ./secrets/dev.age "db.password";
  };
in {
  dev = infra.stack "dev" { components = [ db ]; };
  prod = infra.stack "prod" { components = [ db ]; approval = { required = true; minApprovers = 1; }; };
}
"#,
    )
    .expect("write");
    let env = [("INFRA_AGE_IDENTITY", identity.to_str().unwrap_or_default())];
    let keygen = infra_with_terraform(dir, &["secrets", "keygen"], &env);
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    std::fs::write(dir.join(".infra-recipients"), &keygen.stdout).expect("recipients");
    let plain = dir.parent().expect("parent").join(format!("ui-plain-{}.json", std::process::id()));
    std::fs::write(&plain, format!("{{\"db\": {{\"password\": \"{CANARY}\"}}}}")).expect("write");
    let out = dir.join("secrets/dev.age");
    let encrypt = infra_with_terraform(
        dir,
        &[
            "secrets",
            "encrypt",
            plain.to_str().unwrap_or_default(),
            "-o",
            out.to_str().unwrap_or_default(),
        ],
        &env,
    );
    let _ = std::fs::remove_file(&plain);
    assert!(encrypt.status.success(), "{}", String::from_utf8_lossy(&encrypt.stderr));
}

#[test]
fn the_web_view_shows_states_and_plans_and_approves_in_a_real_browser() {
    let chromedriver = Path::new("/usr/bin/chromedriver");
    assert!(
        chromedriver.exists() && Path::new("/usr/bin/chromium").exists(),
        "Chromium and chromedriver are needed (tools/test installs Debian's chromium and chromium-driver)"
    );
    let dir = scratch_dir("ui");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let identity =
        dir.parent().expect("parent").join(format!("ui-{}-identity.txt", std::process::id()));
    let _ = std::fs::remove_file(&identity);
    project(&dir, &identity);
    let rc = test_provider_rc();
    let env = [
        ("INFRA_AGE_IDENTITY", identity.to_str().unwrap_or_default()),
        ("TF_CLI_CONFIG_FILE", rc.to_str().unwrap_or_default()),
        ("INFRA_USER", "carol"),
    ];
    let first = infra_with_terraform(&dir, &["apply", "--auto-approve", "--json"], &env);
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("\"awaiting-approval\""),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    // The view, on a free loopback port.
    let bin = terraform().parent().map(Path::to_path_buf).unwrap_or_default();
    let mut ui = Command::new(env!("CARGO_BIN_EXE_infra"));
    ui.args(["ui", "--listen", "127.0.0.1:0", "--allow-approve"])
        .current_dir(&dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        ui.env(k, v);
    }
    let mut ui = Running(ui.spawn().expect("start infra ui"));
    let mut line = String::new();
    BufReader::new(ui.0.stderr.take().expect("stderr")).read_line(&mut line).expect("the address");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("a URL").to_owned();
    let port: u16 =
        url.trim_end_matches('/').rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");

    // No page holds the secret.
    for path in ["/", "/node/dev/db", "/node/prod/db", "/history"] {
        let (status, page) = http(port, "GET", path, "");
        assert_eq!(status, 200, "{path}");
        assert!(!page.contains(CANARY), "the canary is in {path}");
    }

    // A real browser.
    let driver_port = free_port();
    let _driver = Running(
        Command::new(chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", driver_port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().expect("a profile directory");
    let session = wd(
        driver_port,
        "POST",
        "/session",
        serde_json::json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        } } }),
    );
    let id = session["sessionId"].as_str().expect("a session").to_owned();
    let go = |path: &str| {
        wd(
            driver_port,
            "POST",
            &format!("/session/{id}/url"),
            serde_json::json!({ "url": format!("{url}{}", path.trim_start_matches('/')) }),
        );
        wd(driver_port, "GET", &format!("/session/{id}/source"), serde_json::Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // The graph page: every node with its state.
    let graph = go("/");
    assert!(graph.contains("<svg id=\"graph\""), "{graph}");
    for (address, state) in [("dev/db", "up-to-date"), ("prod/db", "awaiting-approval")] {
        let row =
            graph.split("<tr data-address=\"").find(|r| r.starts_with(address)).unwrap_or_default();
        assert!(
            row.contains(&format!("data-state=\"{state}\"")),
            "{address} is not {state}: {row}"
        );
    }

    // The node page: the kept plan's resources; approve it.
    let page = go("/node/prod/db");
    assert!(page.contains("infratest_thing.db"), "{page}");
    assert!(page.contains("approved: 0 of 1"), "{page}");
    let button = wd(
        driver_port,
        "POST",
        &format!("/session/{id}/element"),
        serde_json::json!({ "using": "css selector", "value": "#approve" }),
    );
    let element = button
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|v| v.as_str())
        .expect("the button")
        .to_owned();
    wd(
        driver_port,
        "POST",
        &format!("/session/{id}/element/{element}/click"),
        serde_json::json!({}),
    );
    let started = Instant::now();
    let after = loop {
        let source =
            wd(driver_port, "GET", &format!("/session/{id}/source"), serde_json::Value::Null);
        let source = source.as_str().unwrap_or_default().to_owned();
        if source.contains("approved: 1 of 1") {
            break source;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no approval shown: {source}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(after.contains("approved: 1 of 1 (carol)"), "{after}");
    assert!(after.contains("data-state=\"planned\""), "the node moved on: {after}");
    let shot =
        wd(driver_port, "GET", &format!("/session/{id}/screenshot"), serde_json::Value::Null);
    let png = decode_base64(shot.as_str().unwrap_or_default());
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("mkdir");
    std::fs::write(artifacts.join("ui-node.png"), &png).expect("write the screenshot");
    wd(driver_port, "DELETE", &format!("/session/{id}"), serde_json::Value::Null);
    // An approval of a plan that is not the kept one is refused, and says so.
    let (status, page) = form(port, "/approve/prod/db", "plan=0123456789abcdef&user=mallory");
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("is no longer the kept plan"), "{page}");
    drop(ui);

    // The approval is the CLI's: `infra apply` applies the approved plan.
    let applied = infra_with_terraform(&dir, &["apply", "--auto-approve", "--json"], &env);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stdout));
    let text = String::from_utf8_lossy(&applied.stdout);
    assert!(text.contains("approved by carol"), "{text}");
    let _ = std::fs::remove_file(&identity);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Standard base64 (the screenshot).
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
