//! The operation history: every plan, apply, destroy and drift check of every node, appended
//! as it happens. Embedded by default (SQLite, `.infra/history.db`, WAL, so a run killed in
//! the middle leaves a database that opens, with that run shown as interrupted); shared when
//! `--history postgres://…` (or `INFRA_HISTORY`) names a PostgreSQL database: the same schema
//! and migrations, in both dialects. A run is written when it starts (`running`, with its
//! process id) and each node when it finishes; the run's end closes it. A node that was up to
//! date is counted in its run's row, not given one of its own: a no-op plan of 10,000
//! components is one row, not 10,000 (2 MB a run). `infra history` and `infra ui` read it.

use std::{
    path::{Path, PathBuf},
    sync::Mutex,
};

use runner::{ComponentResult, Status};

/// The schema, by version: each step runs once, in order, in one transaction. `{INT}` and
/// `{REAL}` are the dialect's 64-bit integer and float.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        operation TEXT NOT NULL,
        username TEXT NOT NULL,
        git_commit TEXT,
        targets TEXT NOT NULL,
        started {INT} NOT NULL,
        finished {INT},
        status TEXT NOT NULL,
        pid {INT} NOT NULL,
        log_dir TEXT NOT NULL
    );
    CREATE TABLE nodes (
        run TEXT NOT NULL REFERENCES runs(id),
        address TEXT NOT NULL,
        status TEXT NOT NULL,
        input_hash TEXT,
        finished {INT} NOT NULL,
        seconds {REAL} NOT NULL,
        adds {INT}, changes {INT}, destroys {INT},
        processes {INT} NOT NULL,
        verdicts TEXT NOT NULL,
        code TEXT,
        message TEXT,
        log TEXT,
        PRIMARY KEY (run, address)
    );
    CREATE INDEX nodes_by_address ON nodes(address, finished);
",
    "
    ALTER TABLE runs ADD COLUMN up_to_date {INT} NOT NULL DEFAULT 0
",
];

/// A value going in or coming out.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            _ => None,
        }
    }
    fn text(&self) -> Option<String> {
        match self {
            Cell::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn real(&self) -> f64 {
        match self {
            Cell::Real(r) => *r,
            Cell::Int(i) => *i as f64,
            _ => 0.0,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }
}

impl From<Option<&str>> for Cell {
    fn from(text: Option<&str>) -> Cell {
        text.map_or(Cell::Null, Cell::from)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

impl From<Option<u32>> for Cell {
    fn from(n: Option<u32>) -> Cell {
        n.map_or(Cell::Null, |n| Cell::Int(i64::from(n)))
    }
}

impl From<f64> for Cell {
    fn from(x: f64) -> Cell {
        Cell::Real(x)
    }
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(ToSqlOutput::Owned(match self {
            Cell::Null => Value::Null,
            Cell::Int(i) => Value::Integer(*i),
            Cell::Real(r) => Value::Real(*r),
            Cell::Text(t) => Value::Text(t.clone()),
        }))
    }
}

/// A database of either dialect.
enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl Db {
    fn execute(&mut self, sql: &str, params: &[Cell]) -> Result<(), String> {
        match self {
            Db::Sqlite(db) => {
                // Cached: a run of 10,000 nodes inserts 10,000 rows with one statement.
                db.prepare_cached(&numbered(sql))
                    .and_then(|mut s| s.execute(rusqlite::params_from_iter(params.iter())))
                    .map_err(sqlite)?;
            }
            Db::Postgres(db) => {
                let boxed: Vec<Box<dyn postgres::types::ToSql + Sync>> =
                    params.iter().map(pg_param).collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref()).collect();
                db.execute(sql, &refs).map_err(pg)?;
            }
        }
        Ok(())
    }

    fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, String> {
        match self {
            Db::Sqlite(db) => {
                let mut statement = db.prepare(&numbered(sql)).map_err(sqlite)?;
                let columns = statement.column_count();
                let rows = statement
                    .query_map(rusqlite::params_from_iter(params.iter()), |row| {
                        (0..columns)
                            .map(|i| {
                                Ok(match row.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => Cell::Null,
                                    rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                                    rusqlite::types::ValueRef::Real(x) => Cell::Real(x),
                                    rusqlite::types::ValueRef::Text(t)
                                    | rusqlite::types::ValueRef::Blob(t) => {
                                        Cell::Text(String::from_utf8_lossy(t).into_owned())
                                    }
                                })
                            })
                            .collect::<rusqlite::Result<Vec<Cell>>>()
                    })
                    .map_err(sqlite)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sqlite)
            }
            Db::Postgres(db) => {
                let boxed: Vec<Box<dyn postgres::types::ToSql + Sync>> =
                    params.iter().map(pg_param).collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    boxed.iter().map(|b| b.as_ref()).collect();
                let rows = db.query(sql, &refs).map_err(pg)?;
                Ok(rows
                    .iter()
                    .map(|row| {
                        (0..row.len())
                            .map(|i| {
                                let ty = row.columns()[i].type_().clone();
                                if ty == postgres::types::Type::INT8 {
                                    row.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int)
                                } else if ty == postgres::types::Type::FLOAT8 {
                                    row.get::<_, Option<f64>>(i).map_or(Cell::Null, Cell::Real)
                                } else {
                                    row.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text)
                                }
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }

    fn migrate(&mut self) -> Result<(), String> {
        let (int, real) = match self {
            Db::Sqlite(_) => ("INTEGER", "REAL"),
            Db::Postgres(_) => ("BIGINT", "DOUBLE PRECISION"),
        };
        self.batch("CREATE TABLE IF NOT EXISTS infra_schema (version BIGINT NOT NULL)")?;
        let version = self.query("SELECT version FROM infra_schema", &[])?;
        let version = version.first().and_then(|r| r.first()).and_then(Cell::int);
        if version.is_none() {
            self.execute("INSERT INTO infra_schema (version) VALUES (0)", &[])?;
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version.unwrap_or(0) as usize) {
            let step = step.replace("{INT}", int).replace("{REAL}", real);
            let update = format!("UPDATE infra_schema SET version = {}", i + 1);
            self.batch(&format!("BEGIN; {step}; {update}; COMMIT;"))?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), String> {
        match self {
            Db::Sqlite(db) => db.execute_batch(sql).map_err(sqlite),
            Db::Postgres(db) => db.batch_execute(sql).map_err(pg),
        }
    }
}

/// PostgreSQL's `$1` as SQLite's `?1` (SQLite numbers `$NAME` parameters in order of
/// appearance, whatever the name says).
fn numbered(sql: &str) -> String {
    sql.replace('$', "?")
}

/// SQL's NULL for a column of any type (an `Option<T>`'s is typed, and PostgreSQL checks).
#[derive(Debug)]
struct PgNull;

impl postgres::types::ToSql for PgNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(postgres::types::IsNull::Yes)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_param(cell: &Cell) -> Box<dyn postgres::types::ToSql + Sync> {
    match cell {
        Cell::Null => Box::new(PgNull),
        Cell::Int(i) => Box::new(*i),
        Cell::Real(r) => Box::new(*r),
        Cell::Text(t) => Box::new(t.clone()),
    }
}

fn sqlite(e: rusqlite::Error) -> String {
    format!("the history database: {e}")
}

fn pg(e: postgres::Error) -> String {
    format!("the history database (PostgreSQL): {e}")
}

/// The history of one project.
pub(crate) struct History {
    db: Mutex<Db>,
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
    /// The nodes that did something (and, in runs recorded before the count, those that were
    /// up to date).
    pub(crate) nodes: Vec<Node>,
    /// How many nodes were up to date (not in `nodes`).
    pub(crate) up_to_date: usize,
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

impl History {
    /// Opens (creating and migrating) the history: `url` (`postgres://…`) when given, else
    /// `.infra/history.db` of the project at `root`.
    pub(crate) fn open(root: &Path, url: Option<&str>) -> Result<History, String> {
        let mut db = match url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let client = postgres::Client::connect(url, postgres::NoTls).map_err(pg)?;
                Db::Postgres(Box::new(client))
            }
            Some(other) => {
                return Err(format!(
                    "`{other}` is not a history database: give `postgres://USER@HOST/DB`"
                ));
            }
            None => {
                let path = runner::Layout::new(root).history();
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
                }
                let db = rusqlite::Connection::open(&path).map_err(sqlite)?;
                db.busy_timeout(std::time::Duration::from_secs(10)).map_err(sqlite)?;
                db.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
                db.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite)?;
                // The write-ahead log is copied into the database when it reaches 1,000 pages
                // (SQLite's automatic checkpoint), not at every close: a close's checkpoint
                // was two fsyncs at the end of every run (0.7 ms of a run of one component).
                // The log is the database's until then; readers see through it.
                db.set_db_config(
                    rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                    true,
                )
                .map_err(sqlite)?;
                Db::Sqlite(db)
            }
        };
        db.migrate()?;
        Ok(History { db: Mutex::new(db) })
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Db>, String> {
        self.db.lock().map_err(|_| "the history is poisoned".to_owned())
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
        let targets = serde_json::to_string(targets).unwrap_or_default();
        let log_dir = log_dir.display().to_string();
        self.db()?.execute(
            "INSERT INTO runs (id, operation, username, git_commit, targets, started, status, pid, log_dir)
             VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8)
             ON CONFLICT (id) DO UPDATE SET started = excluded.started, status = 'running', pid = excluded.pid",
            &[
                id.into(),
                operation.into(),
                user.into(),
                commit.into(),
                targets.as_str().into(),
                now().into(),
                i64::from(std::process::id()).into(),
                log_dir.as_str().into(),
            ],
        )
    }

    /// Node results, in one transaction (a run of 10,000 nodes was a transaction, and a WAL
    /// append, per node).
    pub(crate) fn nodes(&self, id: &str, results: &[ComponentResult]) -> Result<(), String> {
        let mut db = self.db()?;
        db.batch("BEGIN")?;
        match results.iter().try_for_each(|result| node_row(&mut db, id, result)) {
            Ok(()) => db.batch("COMMIT"),
            Err(e) => {
                let _ = db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// `count` more nodes of run `id` were up to date (they get no row of their own).
    pub(crate) fn up_to_date(&self, id: &str, count: usize) -> Result<(), String> {
        self.db()?.execute(
            "UPDATE runs SET up_to_date = up_to_date + $2 WHERE id = $1",
            &[id.into(), (count as i64).into()],
        )
    }

    /// Run `id` ended with `status`.
    pub(crate) fn end(&self, id: &str, status: &str) -> Result<(), String> {
        self.db()?.execute(
            "UPDATE runs SET finished = $2, status = $3 WHERE id = $1",
            &[id.into(), now().into(), status.into()],
        )
    }

    /// The runs, newest first (at most `limit`), those touching `targets` only when given
    /// (addresses or globs), each with its nodes.
    pub(crate) fn runs(&self, targets: &[String], limit: usize) -> Result<Vec<Run>, String> {
        let mut db = self.db()?;
        let rows = db.query(
            "SELECT id, operation, username, git_commit, targets, started, finished, status, pid, log_dir, up_to_date
             FROM runs ORDER BY started DESC, id DESC",
            &[],
        )?;
        let mut runs = Vec::new();
        for row in rows {
            if runs.len() >= limit {
                break;
            }
            let text = |i: usize| row.get(i).and_then(Cell::text).unwrap_or_default();
            let mut run = Run {
                id: text(0),
                operation: text(1),
                user: text(2),
                commit: row.get(3).and_then(Cell::text),
                targets: serde_json::from_str(&text(4)).unwrap_or_default(),
                started: row.get(5).and_then(Cell::int).unwrap_or(0),
                finished: row.get(6).and_then(Cell::int),
                status: text(7),
                log_dir: text(9),
                nodes: Vec::new(),
                up_to_date: row.get(10).and_then(Cell::int).unwrap_or(0).max(0) as usize,
            };
            // A run whose process is gone without ending it was killed.
            if run.status == "running" && !alive(row.get(8).and_then(Cell::int).unwrap_or(0)) {
                run.status = "interrupted".to_owned();
            }
            run.nodes = nodes(&mut db, &run.id)?;
            let wanted = targets.is_empty()
                || run.nodes.iter().any(|n| targets.iter().any(|t| matches(t, &n.address)));
            if wanted {
                runs.push(run);
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

/// One node result's row.
fn node_row(db: &mut Db, id: &str, result: &ComponentResult) -> Result<(), String> {
    let (adds, changes, destroys) = match result.changes {
        Some((a, c, d)) => (Some(a), Some(c), Some(d)),
        None => (None, None, None),
    };
    let verdicts = serde_json::to_string(&result.verdicts).unwrap_or_default();
    let log = result.log.as_ref().map(|l| l.display().to_string());
    db.execute(
        "INSERT INTO nodes
         (run, address, status, input_hash, finished, seconds, adds, changes, destroys, processes, verdicts, code, message, log)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (run, address) DO UPDATE SET status = excluded.status, finished = excluded.finished",
        &[
            id.into(),
            result.address.as_str().into(),
            crate::runs::status_name(result.status).into(),
            result.input_hash.as_deref().into(),
            now().into(),
            result.seconds.into(),
            adds.into(),
            changes.into(),
            destroys.into(),
            (result.processes as i64).into(),
            verdicts.as_str().into(),
            result.code.into(),
            result.message.as_deref().into(),
            log.as_deref().into(),
        ],
    )
}

fn nodes(db: &mut Db, run: &str) -> Result<Vec<Node>, String> {
    let rows = db.query(
        "SELECT address, status, input_hash, finished, seconds, adds, changes, destroys, processes, verdicts, code, message, log
         FROM nodes WHERE run = $1 ORDER BY address",
        &[run.into()],
    )?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let int = |i: usize| row.get(i).and_then(Cell::int);
            let text = |i: usize| row.get(i).and_then(Cell::text);
            let count = |i: usize| int(i).map(|n| n as u32);
            Node {
                address: text(0).unwrap_or_default(),
                status: text(1).unwrap_or_default(),
                input_hash: text(2),
                finished: int(3).unwrap_or(0),
                seconds: row.get(4).map(Cell::real).unwrap_or(0.0),
                changes: match (count(5), count(6), count(7)) {
                    (Some(a), Some(c), Some(d)) => Some((a, c, d)),
                    _ => None,
                },
                processes: int(8).unwrap_or(0) as usize,
                verdicts: serde_json::from_str(&text(9).unwrap_or_default()).unwrap_or_default(),
                code: text(10),
                message: text(11),
                log: text(12),
            }
        })
        .collect())
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

/// What a run's row says when it begins.
pub(crate) struct Begin {
    pub(crate) root: PathBuf,
    /// `--history` (or `INFRA_HISTORY`); `None`: SQLite under `.infra/`.
    pub(crate) url: Option<String>,
    pub(crate) id: String,
    pub(crate) operation: &'static str,
    pub(crate) user: String,
    pub(crate) targets: Vec<String>,
    pub(crate) log_dir: PathBuf,
}

enum Message {
    Node(Box<ComponentResult>),
    End { up_to_date: usize, status: &'static str },
}

/// One run's history, written on a thread of its own while the run goes on: the run's row
/// (opening the database and finding the git commit overlap the run's start), each node as it
/// finishes (what has arrived meanwhile in one transaction; a run killed halfway leaves what
/// it did), then the count of up-to-date nodes and the run's end. The run's tasks are async,
/// where a database client must not block (PostgreSQL's runs its own runtime).
pub(crate) struct Recorder {
    tx: std::sync::mpsc::Sender<Message>,
    handle: std::thread::JoinHandle<Vec<String>>,
}

impl Recorder {
    pub(crate) fn start(begin: Begin) -> Recorder {
        let (tx, rx) = std::sync::mpsc::channel::<Message>();
        let handle = std::thread::spawn(move || {
            let history = History::open(&begin.root, begin.url.as_deref()).and_then(|history| {
                let commit = git_commit(&begin.root);
                history
                    .begin(
                        &begin.id,
                        begin.operation,
                        &begin.user,
                        commit.as_deref(),
                        &begin.targets,
                        &begin.log_dir,
                    )
                    .map(|()| history)
            });
            let history = match history {
                Ok(history) => history,
                Err(e) => return vec![format!("this run is not in the history: {e}")],
            };
            let mut errors = Vec::new();
            while let Ok(first) = rx.recv() {
                let mut nodes = Vec::new();
                let mut end = None;
                for message in std::iter::once(first).chain(rx.try_iter()) {
                    match message {
                        Message::Node(result) => nodes.push(*result),
                        Message::End { up_to_date, status } => end = Some((up_to_date, status)),
                    }
                }
                if !nodes.is_empty()
                    && let Err(e) = history.nodes(&begin.id, &nodes)
                {
                    errors.push(format!("a node's result is not in the history: {e}"));
                }
                if let Some((up_to_date, status)) = end {
                    if up_to_date > 0
                        && let Err(e) = history.up_to_date(&begin.id, up_to_date)
                    {
                        errors.push(format!("a node's result is not in the history: {e}"));
                    }
                    if let Err(e) = history.end(&begin.id, status) {
                        errors.push(format!("the history could not close this run: {e}"));
                    }
                    break;
                }
            }
            errors
        });
        Recorder { tx, handle }
    }

    /// Records a finished node (up-to-date nodes are counted by the run instead).
    pub(crate) fn node(&self) -> impl Fn(&ComponentResult) + Send + Sync + use<> {
        let tx = std::sync::Mutex::new(self.tx.clone());
        move |result| {
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(Message::Node(Box::new(result.clone())));
            }
        }
    }

    /// Ends the run's row and waits for everything to be written: the problems, if any.
    pub(crate) fn finish(self, up_to_date: usize, status: &'static str) -> Vec<String> {
        let _ = self.tx.send(Message::End { up_to_date, status });
        drop(self.tx);
        self.handle.join().unwrap_or_default()
    }
}
