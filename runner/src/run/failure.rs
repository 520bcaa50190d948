//! Why a component failed, as a value: a stable code (listed in
//! `docs/reference/diagnostics.md`) and a message. Each step says which code its errors have;
//! `--json` events carry the code, the summary prints it.

/// A component's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }
}

/// The codes.
pub(crate) mod code {
    /// An upstream value is missing (never applied, no mock, no such output, unreadable state).
    pub(crate) const UPSTREAM: &str = "infra::run::upstream";
    /// A secret cannot be read or decrypted.
    pub(crate) const SECRET: &str = "infra::run::secret";
    /// infra's own files (work directory, records, kept plans) cannot be written.
    pub(crate) const FILES: &str = "infra::run::files";
    /// The tool cannot be started.
    pub(crate) const SPAWN: &str = "infra::run::spawn";
    pub(crate) const INIT: &str = "infra::run::init";
    pub(crate) const HOOK: &str = "infra::run::hook";
    pub(crate) const PLAN: &str = "infra::run::plan";
    pub(crate) const APPLY: &str = "infra::run::apply";
    /// The plan the user reviewed cannot be applied as it is (stale, or inputs changed).
    pub(crate) const REVIEWED_PLAN: &str = "infra::run::reviewed_plan";
    /// The outputs cannot be read, or a required one is missing.
    pub(crate) const OUTPUTS: &str = "infra::run::outputs";
    pub(crate) const DESTROY: &str = "infra::run::destroy";
    /// A step's program failed (after its retries).
    pub(crate) const STEP: &str = "infra::run::step";
    /// A step ran past its `timeout`, or a wait was not ready in time.
    pub(crate) const TIMEOUT: &str = "infra::run::timeout";
    /// The run was stopped (fail-fast, Ctrl-C) before this step.
    pub(crate) const STOPPED: &str = "infra::run::stopped";
    pub(crate) const INTERNAL: &str = "infra::run::internal";
    /// The command `infra tf` ran exited with a status other than 0.
    pub(crate) const TF: &str = "infra::run::tf";
    /// A policy denied the plan.
    pub(crate) const POLICY_DENY: &str = "infra::policy::deny";
    /// A policy could not be evaluated (it failed, or returned something else than verdicts).
    pub(crate) const POLICY_ERROR: &str = "infra::policy::error";
}

/// Gives a string error its code.
pub(crate) trait Coded<T> {
    fn code(self, code: &'static str) -> Result<T, Failure>;
}

impl<T> Coded<T> for Result<T, String> {
    fn code(self, code: &'static str) -> Result<T, Failure> {
        self.map_err(|message| Failure::new(code, message))
    }
}
