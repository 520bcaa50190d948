//! The project a command works on: its root (the nearest directory with a `main.infra`,
//! from `-C DIR` or the current directory up), its store (`.infra/store`, or `INFRA_STORE`),
//! and its evaluation, with diagnostics reported the same way for every command.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use evaluator::{EvalError, Evaluator, Project};
use store::Store;

use crate::{error::CliError, io::RealIo, output::Output};

/// The entry file of a project.
pub(crate) const ENTRY: &str = "main.infra";

pub(crate) struct Ctx {
    pub(crate) root: PathBuf,
    /// The history database: `--history URL`, else `INFRA_HISTORY`, else `None` (SQLite
    /// under `.infra/`).
    pub(crate) history: Option<String>,
}

impl Ctx {
    /// Finds the project from `dir` (or the current directory) upwards.
    pub(crate) fn discover(dir: Option<&Path>) -> Result<Ctx, CliError> {
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::user("infra::io::cwd", format!("no current directory: {e}")))?;
        let start = match dir {
            Some(dir) => cwd.join(dir),
            None => cwd,
        };
        let mut current = Some(start.as_path());
        while let Some(dir) = current {
            if dir.join(ENTRY).is_file() {
                #[allow(clippy::disallowed_methods)]
                let history = std::env::var("INFRA_HISTORY").ok().filter(|h| !h.is_empty());
                return Ok(Ctx { root: dir.to_path_buf(), history });
            }
            current = dir.parent();
        }
        Err(CliError::user(
            "infra::project::not_found",
            format!("no `{ENTRY}` in `{}` or any directory above it", start.display()),
        )
        .with_hint(format!(
            "run in a project, or pass `-C DIR`; a project starts with a `{ENTRY}`"
        )))
    }

    pub(crate) fn entry(&self) -> PathBuf {
        self.root.join(ENTRY)
    }

    /// The project's store: `INFRA_STORE`, or `.infra/store`.
    #[allow(clippy::disallowed_methods)]
    pub(crate) fn store(&self) -> Result<Store, CliError> {
        let root = match std::env::var_os("INFRA_STORE") {
            Some(dir) if !dir.is_empty() => self.root.join(dir),
            _ => runner::Layout::new(&self.root).store(),
        };
        Store::open(&root).map_err(|e| {
            CliError::user("infra::store::open", format!("cannot open the store: {e}"))
        })
    }

    /// The project, from the evaluation cache when nothing it read has changed, else
    /// evaluated (and cached). `Ok(None)`: evaluation failed and its diagnostics are printed
    /// (the command exits with 1).
    pub(crate) fn project(&self, out: &mut Output) -> Result<Option<Arc<Project>>, CliError> {
        Ok(self.project_cached(out)?.map(|(project, _)| project))
    }

    /// What a run of `targets` needs: when every target is a component's exact address, only
    /// they and what they depend on are evaluated (every other component is only declared),
    /// else the whole project (as `project`). A run of one component of 10,000 in CI then
    /// evaluates a few specs, not 10,000.
    pub(crate) fn project_for(
        &self,
        out: &mut Output,
        targets: &[String],
    ) -> Result<Option<Arc<Project>>, CliError> {
        if targets.is_empty() {
            return self.project(out);
        }
        let mut evaluator = Evaluator::new(Box::new(RealIo::default()));
        match evaluator.eval_project_upstream(&self.entry(), targets) {
            Ok(Some(project)) => Ok(Some(Arc::new(project))),
            Ok(None) => self.project(out),
            Err(error) => {
                report(out, &evaluator, &error)?;
                Ok(None)
            }
        }
    }

    /// The project, and whether it came from the evaluation cache.
    pub(crate) fn project_cached(
        &self,
        out: &mut Output,
    ) -> Result<Option<(Arc<Project>, bool)>, CliError> {
        let path = crate::evalcache::eval_cache_path(&self.root);
        let key = cache_key(&self.entry());
        if let Some(project) = crate::evalcache::load_evaluation(&path, &key, &env_var) {
            crate::timing::mark("evaluation cache read");
            return Ok(Some((Arc::new(project), true)));
        }
        crate::timing::mark("evaluation cache stale");
        let io = RealIo::default();
        let mut evaluator = Evaluator::new(Box::new(io.clone()));
        let project = match evaluator.eval_project(&self.entry()) {
            Ok(project) => project,
            Err(error) => {
                report(out, &evaluator, &error)?;
                return Ok(None);
            }
        };
        crate::timing::mark("evaluated the project");
        let read = io.read.lock().map(|r| r.clone()).unwrap_or_default();
        let project = Arc::new(project);
        // Written while the command goes on (serialising 10,000 components is 50 ms); the
        // process waits for it before it exits (`finish_background`).
        let (saved, inputs) = (project.clone(), evaluator.inputs());
        let writer = std::thread::spawn(move || {
            crate::evalcache::save_evaluation(&path, &key, &inputs, &read, &env_var, &saved);
        });
        if let Ok(mut background) = BACKGROUND.lock() {
            background.push(writer);
        }
        Ok(Some((project, false)))
    }
}

/// Work a command left running in the background (the evaluation cache's write).
static BACKGROUND: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Waits for the work left in the background; `main` calls it before the process exits.
pub(crate) fn finish_background() {
    let pending = BACKGROUND.lock().map(|mut b| std::mem::take(&mut *b)).unwrap_or_default();
    for handle in pending {
        let _ = handle.join();
    }
}

/// Prints an evaluation error's diagnostics.
pub(crate) fn report(
    out: &mut Output,
    evaluator: &Evaluator,
    error: &EvalError,
) -> Result<(), CliError> {
    let diagnostics = error.diagnostics();
    if diagnostics.is_empty() {
        return Err(CliError::user(error.kind.code(), error.to_string()));
    }
    for diagnostic in &diagnostics {
        out.diagnostic_in(evaluator.sources(), diagnostic)?;
    }
    Ok(())
}

/// The error for a command's address that names no component of the project, with the
/// nearest address as a suggestion.
pub(crate) fn not_a_component(project: &Project, address: &str) -> CliError {
    CliError::user(
        "infra::build::unknown_target",
        format!("`{address}` is not a component of the project"),
    )
    .with_hint(runner::unknown_component_help(project, address))
}

/// A runner error as a CLI error.
pub(crate) fn runner_error(error: runner::RunnerError) -> CliError {
    let help = error.help.clone();
    let mut cli = CliError::user(error.code(), error.to_string());
    if let Some(help) = help {
        cli = cli.with_hint(help);
    }
    cli
}

#[allow(clippy::disallowed_methods)]
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What a cached evaluation depends on besides its inputs: this binary (its version, size and
/// modification time, so that a rebuilt binary never trusts an older one's result) and the entry.
fn cache_key(entry: &Path) -> String {
    let binary = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| store::fsutil::stamp(&m))
        .unwrap_or_default();
    format!("infra {} {binary} {}", env!("CARGO_PKG_VERSION"), entry.display())
}
