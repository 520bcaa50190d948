//! The operation history: every plan, apply, destroy and drift check of every node, appended
//! as it happens to an embedded SQLite database (`.infra/history.db`, WAL, so a run killed in
//! the middle leaves a database that opens, with that run shown as interrupted). A run is
//! written when it starts (`running`, with its process id) and each node when it finishes;
//! the run's end closes it. `infra history` reads it.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use runner::{ComponentResult, Status};
use rusqlite::{Connection, params};

/// The schema, by version: each step runs once, in order, in one transaction.
const MIGRATIONS: &[&str] = &["
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        operation TEXT NOT NULL,
        user TEXT NOT NULL,
        git_commit TEXT,
        targets TEXT NOT NULL,
        started INTEGER NOT NULL,
        finished INTEGER,
        status TEXT NOT NULL,
        pid INTEGER NOT NULL,
        log_dir TEXT NOT NULL
    );
    CREATE TABLE nodes (
        run TEXT NOT NULL REFERENCES runs(id),
        address TEXT NOT NULL,
        status TEXT NOT NULL,
        input_hash TEXT,
        finished INTEGER NOT NULL,
        seconds REAL NOT NULL,
        adds INTEGER, changes INTEGER, destroys INTEGER,
        processes INTEGER NOT NULL,
        verdicts TEXT NOT NULL,
        code TEXT,
        message TEXT,
        log TEXT,
        PRIMARY KEY (run, address)
    );
    CREATE INDEX nodes_by_address ON nodes(address, finished);
"];

/// The history of one project.
pub(crate) struct History {
    db: Mutex<Connection>,
}

/// One run as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Run {
    pub(crate) id: String,
    pub(crate) operation: String,
    pub(crate) user: String,
    pub(crate) commit: Option<String>,
    pub(crate) targets: Vec<String>,
    pub(crate) started: i64,
    pub(crate) finished: Option<i64>,
    pub(crate) status: String,
    pub(crate) log_dir: String,
    pub(crate) nodes: Vec<Node>,
}

/// One node of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Node {
    pub(crate) address: String,
    pub(crate) status: String,
    pub(crate) input_hash: Option<String>,
    pub(crate) finished: i64,
    pub(crate) seconds: f64,
    pub(crate) changes: Option<(u32, u32, u32)>,
    pub(crate) processes: usize,
    pub(crate) verdicts: serde_json::Value,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) log: Option<String>,
}

fn sql(e: rusqlite::Error) -> String {
    format!("the history database: {e}")
}

impl History {
    /// Opens (creating and migrating) `.infra/history.db` of the project at `root`.
    pub(crate) fn open(root: &Path) -> Result<History, String> {
        let path = runner::Layout::new(root).history();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        }
        let mut db = Connection::open(&path).map_err(sql)?;
        db.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        db.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        migrate(&mut db)?;
        Ok(History { db: Mutex::new(db) })
    }

    /// A run begins.
    pub(crate) fn begin(
        &self,
        id: &str,
        operation: &str,
        user: &str,
        commit: Option<&str>,
        targets: &[String],
        log_dir: &Path,
    ) -> Result<(), String> {
        let db = self.db.lock().map_err(|_| "the history is poisoned".to_owned())?;
        db.execute(
            "INSERT OR REPLACE INTO runs (id, operation, user, git_commit, targets, started, status, pid, log_dir)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8)",
            params![
                id,
                operation,
                user,
                commit,
                serde_json::to_string(targets).unwrap_or_default(),
                now(),
                std::process::id(),
                log_dir.display().to_string()
            ],
        )
        .map_err(sql)?;
        Ok(())
    }

    /// A node of run `id` finished.
    pub(crate) fn node(&self, id: &str, result: &ComponentResult) -> Result<(), String> {
        let db = self.db.lock().map_err(|_| "the history is poisoned".to_owned())?;
        let (adds, changes, destroys) = match result.changes {
            Some((a, c, d)) => (Some(a), Some(c), Some(d)),
            None => (None, None, None),
        };
        db.execute(
            "INSERT OR REPLACE INTO nodes
             (run, address, status, input_hash, finished, seconds, adds, changes, destroys, processes, verdicts, code, message, log)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                id,
                result.address,
                crate::runs::status_name(result.status),
                result.input_hash,
                now(),
                result.seconds,
                adds,
                changes,
                destroys,
                result.processes as i64,
                serde_json::to_string(&result.verdicts).unwrap_or_default(),
                result.code,
                result.message,
                result.log.as_ref().map(|l| l.display().to_string()),
            ],
        )
        .map_err(sql)?;
        Ok(())
    }

    /// Run `id` ended with `status`.
    pub(crate) fn end(&self, id: &str, status: &str) -> Result<(), String> {
        let db = self.db.lock().map_err(|_| "the history is poisoned".to_owned())?;
        db.execute(
            "UPDATE runs SET finished = ?2, status = ?3 WHERE id = ?1",
            params![id, now(), status],
        )
        .map_err(sql)?;
        Ok(())
    }

    /// The runs, newest first (at most `limit`), those touching `targets` only when given
    /// (addresses or globs), each with its nodes.
    pub(crate) fn runs(&self, targets: &[String], limit: usize) -> Result<Vec<Run>, String> {
        let db = self.db.lock().map_err(|_| "the history is poisoned".to_owned())?;
        let mut statement = db
            .prepare(
                "SELECT id, operation, user, git_commit, targets, started, finished, status, pid, log_dir
                 FROM runs ORDER BY started DESC, rowid DESC",
            )
            .map_err(sql)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    Run {
                        id: row.get(0)?,
                        operation: row.get(1)?,
                        user: row.get(2)?,
                        commit: row.get(3)?,
                        targets: serde_json::from_str(&row.get::<_, String>(4)?)
                            .unwrap_or_default(),
                        started: row.get(5)?,
                        finished: row.get(6)?,
                        status: row.get(7)?,
                        log_dir: row.get(9)?,
                        nodes: Vec::new(),
                    },
                    row.get::<_, i64>(8)?,
                ))
            })
            .map_err(sql)?;
        let mut runs = Vec::new();
        for row in rows {
            let (mut run, pid) = row.map_err(sql)?;
            // A run whose process is gone without ending it was killed.
            if run.status == "running" && !alive(pid) {
                run.status = "interrupted".to_owned();
            }
            run.nodes = nodes(&db, &run.id)?;
            let wanted = targets.is_empty()
                || run.nodes.iter().any(|n| targets.iter().any(|t| matches(t, &n.address)));
            if wanted {
                runs.push(run);
            }
            if runs.len() >= limit {
                break;
            }
        }
        Ok(runs)
    }

    /// One run, by its id (or a unique prefix of it).
    pub(crate) fn run(&self, id: &str) -> Result<Option<Run>, String> {
        let found: Vec<Run> =
            self.runs(&[], usize::MAX)?.into_iter().filter(|r| r.id.starts_with(id)).collect();
        Ok(if found.len() == 1 { found.into_iter().next() } else { None })
    }
}

fn nodes(db: &Connection, run: &str) -> Result<Vec<Node>, String> {
    let mut statement = db
        .prepare(
            "SELECT address, status, input_hash, finished, seconds, adds, changes, destroys, processes, verdicts, code, message, log
             FROM nodes WHERE run = ?1 ORDER BY address",
        )
        .map_err(sql)?;
    let rows = statement
        .query_map([run], |row| {
            let counts: (Option<u32>, Option<u32>, Option<u32>) =
                (row.get(5)?, row.get(6)?, row.get(7)?);
            Ok(Node {
                address: row.get(0)?,
                status: row.get(1)?,
                input_hash: row.get(2)?,
                finished: row.get(3)?,
                seconds: row.get(4)?,
                changes: match counts {
                    (Some(a), Some(c), Some(d)) => Some((a, c, d)),
                    _ => None,
                },
                processes: row.get::<_, i64>(8)? as usize,
                verdicts: serde_json::from_str(&row.get::<_, String>(9)?).unwrap_or_default(),
                code: row.get(10)?,
                message: row.get(11)?,
                log: row.get(12)?,
            })
        })
        .map_err(sql)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql)
}

fn migrate(db: &mut Connection) -> Result<(), String> {
    let version: i64 =
        db.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(sql)?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = db.transaction().map_err(sql)?;
        tx.execute_batch(step).map_err(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether process `pid` still runs (Linux: `/proc/PID` exists and is not a zombie).
fn alive(pid: i64) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    matches!(state, Some(s) if s != 'Z' && s != 'X') && pid as u32 != 0
}

/// `dev/vpc`, `dev` (a stack), `*/vpc` (a glob).
fn matches(target: &str, address: &str) -> bool {
    if target == address || address.split('/').next() == Some(target) {
        return true;
    }
    glob(target.as_bytes(), address.as_bytes())
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text)
                || (!text.is_empty() && text[0] != b'/' && glob(pattern, &text[1..]))
        }
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// The git commit the project is at: the `.git` above `root` (a directory, or a file naming
/// one), `HEAD` followed through a branch ref or `packed-refs`. No git process.
pub(crate) fn git_commit(root: &Path) -> Option<String> {
    let mut dir = Some(root);
    let git = loop {
        let d = dir?;
        let candidate = d.join(".git");
        if candidate.is_dir() {
            break candidate;
        }
        if let Ok(text) = std::fs::read_to_string(&candidate)
            && let Some(path) = text.trim().strip_prefix("gitdir: ")
        {
            break d.join(path);
        }
        dir = d.parent();
    };
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref: ") else { return Some(head.to_owned()) };
    // A worktree's branches live in the common directory.
    let common: PathBuf = std::fs::read_to_string(git.join("commondir"))
        .map(|c| git.join(c.trim()))
        .unwrap_or_else(|_| git.clone());
    for base in [&git, &common] {
        if let Ok(text) = std::fs::read_to_string(base.join(reference)) {
            return Some(text.trim().to_owned());
        }
    }
    let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
    packed
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(_, name)| *name == reference)
        .map(|(hash, _)| hash.to_owned())
}

/// The status a run ends with.
pub(crate) fn outcome(results: &[ComponentResult], interrupted: bool) -> &'static str {
    if interrupted {
        "interrupted"
    } else if results
        .iter()
        .any(|r| matches!(r.status, Status::Failed | Status::Denied | Status::Skipped))
    {
        "failed"
    } else {
        "succeeded"
    }
}
