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
