//! The one place that starts processes: Terraform/OpenTofu and steps' programs, always with an
//! explicit working directory, stdin closed, and output appended to the node's log file.
//! Stopping: `interrupt` sends SIGINT once to every running child, so Terraform saves its
//! state and releases its locks before it exits.

use std::{
    collections::BTreeSet,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
};

use tokio::{io::AsyncWriteExt, process::Command};

/// The process ids of running children.
#[derive(Clone, Default)]
pub(crate) struct Children(Arc<Mutex<BTreeSet<u32>>>);

impl Children {
    /// Sends SIGINT to every running child.
    pub(crate) fn interrupt(&self) {
        let pids: Vec<u32> =
            self.0.lock().map(|set| set.iter().copied().collect()).unwrap_or_default();
        for pid in pids {
            #[cfg(unix)]
            {
                use nix::{sys::signal, unistd::Pid};
                // Each child leads its own process group: interrupt the whole group, so the
                // command inside a `sh -c` hook gets it too.
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = signal::killpg(Pid::from_raw(pid), signal::Signal::SIGINT);
                }
            }
            #[cfg(not(unix))]
            let _ = pid;
        }
    }
}

/// What a finished process did.
pub(crate) struct Finished {
    pub(crate) success: bool,
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// It ran past its time limit and its process group was killed.
    pub(crate) timed_out: bool,
}

/// What of a process's output goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogMode {
    /// Everything, as printed.
    Full,
    /// Terraform's `-json` UI, rendered as text (messages, diagnostics with their detail).
    JsonUi,
    /// Only stderr (stdout is data, e.g. `show -json`).
    StderrOnly,
}

/// Runs `program args` in `cwd` with `env` added, appending its output to `log` (`mode` says
/// how).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(String, String)],
    scrub: &[String],
    log: &Path,
    mode: LogMode,
    children: &Children,
) -> std::io::Result<Finished> {
    run_limited(program, args, cwd, env, scrub, log, mode, children, None).await
}

/// How long a process killed with SIGTERM at its time limit has before SIGKILL.
const GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// `run`, and past `timeout` the process group gets SIGTERM, then SIGKILL after a grace
/// period.
#[allow(clippy::disallowed_methods, clippy::too_many_arguments)]
pub(crate) async fn run_limited(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(String, String)],
    scrub: &[String],
    log: &Path,
    mode: LogMode,
    children: &Children,
    timeout: Option<std::time::Duration>,
) -> std::io::Result<Finished> {
    let mut header = format!("$ {} {}\n", program.display(), args.join(" "));
    for secret in scrub {
        header = header.replace(secret.as_str(), "(secret)");
    }
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(cwd)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    if !scrub.is_empty() {
        // Terraform's debug logs would hold the variables unscrubbed.
        command.env_remove("TF_LOG").env_remove("TF_LOG_PATH").env_remove("TF_LOG_CORE");
    }
    // Its own process group: a Ctrl-C at the terminal reaches infra only, which passes it on
    // once (a second SIGINT makes Terraform abort without saving state).
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn()?;
    let pid = child.id();
    if let (Some(pid), Ok(mut set)) = (pid, children.0.lock()) {
        set.insert(pid);
    }
    // The pipes are read apart from the wait: a daemon the program leaves behind may hold
    // them open long after the program itself exited.
    let stdout = Drain::start(child.stdout.take());
    let stderr = Drain::start(child.stderr.take());
    let wait = child.wait();
    tokio::pin!(wait);
    let mut timed_out = false;
    let status = match timeout {
        None => wait.await,
        Some(limit) => tokio::select! {
            status = &mut wait => status,
            _ = tokio::time::sleep(limit) => {
                timed_out = true;
                kill_group(pid, false);
                tokio::select! {
                    status = &mut wait => status,
                    _ = tokio::time::sleep(GRACE) => {
                        kill_group(pid, true);
                        wait.await
                    }
                }
            }
        },
    };
    if let (Some(pid), Ok(mut set)) = (pid, children.0.lock()) {
        set.remove(&pid);
    }
    let status = status?;
    let (stdout, stderr) = (stdout.finish().await, stderr.finish().await);
    let output = std::process::Output { status, stdout, stderr };
    // Decrypted secrets never reach a log or a message.
    let clean = |bytes: &[u8]| {
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        for secret in scrub {
            text = text.replace(secret.as_str(), "(secret)");
        }
        text
    };
    let stdout = clean(&output.stdout);
    let stderr = clean(&output.stderr);
    match mode {
        LogMode::Full => header.push_str(&stdout),
        LogMode::JsonUi => header.push_str(&crate::tool_diagnostics::from_json_lines(&stdout).1),
        LogMode::StderrOnly => {}
    }
    header.push_str(&stderr);
    let limit = timeout.filter(|_| timed_out).map(|t| format!(", killed after {t:?}"));
    header.push_str(&format!(
        "[exit: {}{}]\n\n",
        output.status.code().map_or("signal".to_owned(), |c| c.to_string()),
        limit.unwrap_or_default()
    ));
    let mut options = tokio::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(log).await?;
    file.write_all(header.as_bytes()).await?;
    Ok(Finished {
        success: output.status.success() && !timed_out,
        code: output.status.code(),
        stdout,
        stderr,
        timed_out,
    })
}

/// How long the pipes are still read after the program exited (what a daemon it started and
/// left holding them writes later is not its output).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// One pipe of a child, read to its end by a task of its own.
struct Drain {
    buffer: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drain {
    fn start(pipe: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>) -> Drain {
        let buffer: Arc<Mutex<Vec<u8>>> = Arc::default();
        let task = pipe.map(|mut pipe| {
            let buffer = buffer.clone();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut chunk = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut buffer) = buffer.lock() {
                        buffer.extend_from_slice(&chunk[..n]);
                    }
                }
            })
        });
        Drain { buffer, task }
    }

    /// What was read: to the end of the pipe, or what came within `DRAIN` after the exit.
    async fn finish(mut self) -> Vec<u8> {
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(DRAIN, &mut task).await.is_err()
        {
            task.abort();
        }
        self.buffer.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default()
    }
}

/// Sends SIGTERM (or SIGKILL) to the process group led by `pid`.
fn kill_group(pid: Option<u32>, hard: bool) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        use nix::{sys::signal, unistd::Pid};
        let signal = if hard { signal::Signal::SIGKILL } else { signal::Signal::SIGTERM };
        let _ = signal::killpg(Pid::from_raw(pid), signal);
    }
    #[cfg(not(unix))]
    let _ = (pid, hard);
}

/// The standard output of `program args` run in `cwd`, for a quick question that touches no
/// state (`terraform version -json`); `None` if it could not run, failed, or took longer than
/// `limit` (then it is killed).
#[allow(clippy::disallowed_methods)]
pub(crate) fn output_of(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    limit: std::time::Duration,
) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut child = std::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Read apart from the wait: a full pipe would otherwise hold the child forever.
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < limit => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let bytes = reader.join().ok()?;
    status.success().then_some(bytes)
}

/// Runs the user's editor (`sh -c "$EDITOR \"$1\""`, so `EDITOR="code --wait"` works) on
/// `file`, on the terminal, and waits for it. A Ctrl-C meanwhile reaches the editor, not us:
/// the caller always gets control back to clean up. Returns whether the editor succeeded.
#[allow(clippy::disallowed_methods)]
pub fn run_editor(editor: &str, file: &Path) -> std::io::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        // Listening for Ctrl-C replaces the default action (exit) for this process.
        let interrupted = tokio::spawn(async { tokio::signal::ctrl_c().await });
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("editor")
            .arg(file)
            .status()
            .await;
        interrupted.abort();
        Ok(status?.success())
    })
}
