//! Every path under a project's `.infra/`, in one place.
//!
//! ```text
//! .infra/
//!   store/                     content-addressed objects (unless INFRA_STORE says otherwise)
//!   work/STACK/NAME/           a component's work directory (Terraform runs here)
//!   tfstate/STACK/NAME.tfstate local backend state
//!   records/STACK/NAME.json    the last successful apply (RunRecord)
//!   records/STACK/NAME.failed  the last run's failure, for `infra status`
//!   records/STACK/NAME.checked the last drift check, for `infra status`
//!   plans/STACK/NAME/          the saved plan of `infra plan` (plan.tfplan, plan.json, summary.json)
//!   approvals/STACK/NAME.json  who approved which kept plan (`infra approve`)
//!   history.db                 the operation history (SQLite; `infra history`)
//!   logs/RUN/                  one directory per run, one log per node
//!   cache/                     tools.json (tool versions), eval.json (evaluation cache)
//!   lock, lock.info            the project lock and who holds it
//! ```

use std::path::{Path, PathBuf};

/// The paths of one project.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(project_root: &Path) -> Self {
        Layout { root: project_root.to_path_buf() }
    }

    /// The project's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `.infra/` itself.
    pub fn dot(&self) -> PathBuf {
        self.root.join(".infra")
    }

    /// The store, unless `INFRA_STORE` names another.
    pub fn store(&self) -> PathBuf {
        self.dot().join("store")
    }

    /// The local backends' state files.
    pub fn tfstates(&self) -> PathBuf {
        self.dot().join("tfstate")
    }

    /// The work directory of `STACK/NAME`.
    pub fn work(&self, address: &str) -> PathBuf {
        self.dot().join("work").join(address)
    }

    /// The local backend's state file of `STACK/NAME` (unless the backend says otherwise).
    pub fn tfstate(&self, address: &str) -> PathBuf {
        self.tfstates().join(format!("{address}.tfstate"))
    }

    /// Every record, by stack: `records/STACK/NAME.json` (and `NAME.failed`).
    pub fn records(&self) -> PathBuf {
        self.dot().join("records")
    }

    pub fn record(&self, address: &str) -> PathBuf {
        self.dot().join("records").join(format!("{address}.json"))
    }

    pub fn failure(&self, address: &str) -> PathBuf {
        self.dot().join("records").join(format!("{address}.failed"))
    }

    pub fn checked(&self, address: &str) -> PathBuf {
        self.dot().join("records").join(format!("{address}.checked"))
    }

    /// The directory of `STACK/NAME`'s saved plan.
    pub fn plan_dir(&self, address: &str) -> PathBuf {
        self.dot().join("plans").join(address)
    }

    /// The approvals of `STACK/NAME`'s kept plan.
    pub fn approvals(&self, address: &str) -> PathBuf {
        self.dot().join("approvals").join(format!("{address}.json"))
    }

    /// The operation history (SQLite).
    pub fn history(&self) -> PathBuf {
        self.dot().join("history.db")
    }

    pub fn plans(&self) -> PathBuf {
        self.dot().join("plans")
    }

    pub fn logs(&self) -> PathBuf {
        self.dot().join("logs")
    }

    pub fn tools_cache(&self) -> PathBuf {
        self.dot().join("cache").join("tools.json")
    }

    pub fn eval_cache(&self) -> PathBuf {
        self.dot().join("cache").join("eval.json")
    }

    pub fn lock(&self) -> PathBuf {
        self.dot().join("lock")
    }

    pub fn lock_info(&self) -> PathBuf {
        self.dot().join("lock.info")
    }
}
