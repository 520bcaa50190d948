//! The evaluated project: stacks of placed components, as plain data. `extract` reads the
//! tagged sets the domain builtins made (`infra.stack`, `infra.component`, …) into these types,
//! applying component functions to their placement context, converting inputs to JSON, and
//! checking references (unknown components, duplicates, cycles) with spans, and the names of
//! inputs and outputs against the variables and outputs the modules declare (`names`).
//!
//! Nothing here is hashed or written: `runner::build` turns a `Project` into derivations.

mod extract;
mod graph;
mod hooks;
mod json;
mod module;
mod names;
mod placement;
pub(crate) mod policy;
mod select;
pub(crate) mod siblings;
mod step;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use serde::{Deserialize, Serialize};

pub use self::extract::GENERATED_FILES;
pub(crate) use self::policy::read_approval;
pub use self::policy::{Verdict, VerdictKind};
pub(crate) use self::{
    extract::{extract, extract_upstream, policies_of},
    select::select,
};

/// A JSON value (objects keep their keys sorted: `serde_json`'s map is ordered).
pub type Json = serde_json::Value;

/// Every stack of a project, in name order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub stacks: Vec<Stack>,
}

/// One stack: its components, in name order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    pub name: String,
    pub components: Vec<Component>,
}

/// A node of the graph placed in a stack: what every kind has (its address, the values it is
/// given, what it reads from other nodes, its secrets, the outputs it must produce) and its
/// kind — a Terraform component or a step. The runner's decision (up to date, pending, run)
/// uses the common parts only; each kind has one executor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub stack: String,
    pub name: String,
    /// Input values. Output placeholders appear in strings as their text, with absolute
    /// addresses (`<infra-output:dev/vpc:network_id>`); `reads` lists them.
    pub inputs: BTreeMap<String, Json>,
    /// Nodes that must be applied first (addresses): placeholders, `dependsOn`,
    /// `infra.remoteState`.
    pub depends_on: BTreeSet<String>,
    /// The upstream outputs the inputs read.
    pub reads: BTreeSet<OutputRef>,
    /// The secrets the inputs hold (their text is `SecretRef::text`).
    pub secrets: BTreeSet<SecretRef>,
    pub required_outputs: BTreeSet<String>,
    /// Values to plan with while this node has never been applied.
    pub mock_outputs: BTreeMap<String, Json>,
    /// Nodes (addresses, also in `depends_on`) after whose every run this one runs again,
    /// even when nothing it reads changed (`rerunAfter`; a `postApply` hook's owner).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub rerun_after: BTreeSet<String>,
    #[serde(flatten)]
    pub kind: Kind,
    /// Where it is declared (the `infra.component` call); not part of what is built or hashed.
    #[serde(skip)]
    pub span: Option<lang::Span>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Kind {
    /// `infra.component`: a Terraform/OpenTofu root module.
    Terraform(Terraform),
    /// `infra.step` or `infra.wait`: a program run in its own work directory.
    Step(Step),
}

/// A Terraform component: everything its work directory is built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Terraform {
    /// The module's directory (absolute), copied into the work directory.
    pub source: Option<PathBuf>,
    /// Provider configurations, by provider name (the stack's, merged with the component's).
    pub providers: BTreeMap<String, Json>,
    pub backend: Backend,
    /// Extra files of the work directory, by relative path.
    pub files: BTreeMap<String, File>,
    /// `"tofu"`, `"terraform"` or another command; `None`: detect.
    pub tool: Option<String>,
    /// The files of `files` rendered by `infra.template`, with their template (absolute).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, PathBuf>,
    /// How many policies (its stack's and its own) check its plans before an apply.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub policies: usize,
    /// Approvals its plans need before an apply (its own `approval`, else its stack's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// Module directories its files call outside its own (`source = "../shared"`), shipped
    /// in the work directory under `.infra-modules/PATH` (see `project/siblings.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siblings: Vec<LocalModule>,
    /// The calls in its module's files rewritten to point there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<SourceRewrite>,
}

/// A module directory of the project shipped with a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalModule {
    /// Its path relative to the project (`modules/shared`), `/`-separated.
    pub path: String,
    /// Where it is (absolute).
    pub dir: PathBuf,
}

/// One `source = "…"` of a module's file, rewritten in the work directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRewrite {
    /// The file, relative to the module (the work directory).
    pub file: String,
    /// The byte range of the string literal (quotes included) and what it holds now.
    pub start: usize,
    pub end: usize,
    pub was: String,
    /// The literal that replaces it.
    pub source: String,
}

/// `approval = { required = true; minApprovers = 2; approvers = [ … ]; }`: `infra apply`
/// stops the component at `awaiting-approval` until that many different people ran
/// `infra approve` on its plan; when `approvers` is given, only those people count (a group
/// is a list in the language: `approvers = platform ++ sre;`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub min_approvers: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
}

impl Approval {
    /// Whether `user`'s approval counts.
    pub fn allows(&self, user: &str) -> bool {
        self.approvers.is_empty() || self.approvers.iter().any(|a| a == user)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A step: a program (never a shell unless the program is one), or a readiness check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub action: Action,
    /// A directory (absolute) whose content is copied into the step's work directory.
    pub src: Option<PathBuf>,
    /// Extra environment variables (strings raw, anything else as JSON; may hold
    /// placeholders and secrets like `inputs`).
    pub env: BTreeMap<String, Json>,
    /// Kill the process group after this many milliseconds.
    pub timeout_ms: Option<u64>,
    pub retries: Retries,
    /// Run by `infra destroy` (program and arguments; empty: nothing to run).
    pub destroy: Vec<String>,
    /// A component's hook (`hooks.prePlan`, `hooks.postApply`): it runs in that component's
    /// work directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<Hook>,
}

/// The component a hook step belongs to, and when it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    /// The component's address.
    pub owner: String,
    pub when: HookWhen,
}

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HookWhen {
    /// Before its component plans: `infra plan` runs it too (the plan may need what it
    /// makes), whenever the component's files or the upstream values it reads changed; the
    /// component plans again after each of its runs.
    PrePlan,
    /// After each apply of its component.
    PostApply,
}

impl HookWhen {
    /// `prePlan` or `postApply`, as written.
    pub fn name(self) -> &'static str {
        match self {
            HookWhen::PrePlan => "prePlan",
            HookWhen::PostApply => "postApply",
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// `infra.step`: program and arguments.
    Run(Vec<String>),
    /// `infra.wait`: repeat the check until it succeeds (or the timeout).
    #[serde(rename_all = "camelCase")]
    Wait { check: Check, interval_ms: u64 },
}

/// A readiness check of `infra.wait`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Check {
    /// A program that exits 0 when ready.
    Command(Vec<String>),
    /// An `http://` URL that answers with a 2xx or 3xx status.
    Http(String),
    /// `HOST:PORT` accepting a TCP connection.
    Tcp(String),
}

/// When a failed run of a step is tried again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retries {
    /// Runs in all (0 or 1: no retry).
    pub attempts: u32,
    pub delay_ms: u64,
    /// Retry only when the output (stdout and stderr) matches this regular expression.
    pub on: Option<String>,
}

/// A Terraform backend: its type and configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    #[serde(rename = "type")]
    pub ty: String,
    pub config: BTreeMap<String, Json>,
}

/// An extra file of a work directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum File {
    /// Text written as it is (`infra.writeText`, `infra.template`, a string).
    Text(String),
    /// JSON, written canonically (`infra.writeJSON`).
    Json(Json),
    /// A file copied from the project (a path).
    Copy(PathBuf),
    /// A `terraform_remote_state` data source reading this component's state (an address).
    RemoteState(String),
}

/// An output of a component, read by another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutputRef {
    pub address: String,
    pub output: String,
}

/// A value inside an age-encrypted JSON or YAML file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SecretRef {
    /// The file, relative to the project root (`secrets/dev.age`): names it in texts and
    /// fingerprints the same way on every machine.
    pub name: String,
    /// `db.password`.
    pub key: String,
    /// The file's absolute path on this machine.
    pub file: PathBuf,
}

impl SecretRef {
    /// The text standing for it in input strings.
    pub fn text(&self) -> String {
        crate::domain::secret_text(&self.name, &self.key)
    }
}

impl Project {
    /// Every component, stack by stack.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.stacks.iter().flat_map(|s| s.components.iter())
    }

    /// The component at `STACK/NAME`: a binary search, as extraction sorts stacks and their
    /// components by name (a linear one for a project built otherwise).
    pub fn component(&self, address: &str) -> Option<&Component> {
        let (stack, name) = address.split_once('/')?;
        let stack = match self.stacks.binary_search_by(|s| s.name.as_str().cmp(stack)) {
            Ok(at) => &self.stacks[at],
            Err(_) => self.stacks.iter().find(|s| s.name == stack)?,
        };
        match stack.components.binary_search_by(|c| c.name.as_str().cmp(name)) {
            Ok(at) => Some(&stack.components[at]),
            Err(_) => stack.components.iter().find(|c| c.name == name),
        }
    }
}

impl Component {
    /// `STACK/NAME`.
    pub fn address(&self) -> String {
        format!("{}/{}", self.stack, self.name)
    }

    /// Its Terraform parts, if it is a Terraform component.
    pub fn terraform(&self) -> Option<&Terraform> {
        match &self.kind {
            Kind::Terraform(t) => Some(t),
            Kind::Step(_) => None,
        }
    }

    /// Its step parts, if it is a step.
    pub fn step(&self) -> Option<&Step> {
        match &self.kind {
            Kind::Step(s) => Some(s),
            Kind::Terraform(_) => None,
        }
    }

    /// The directory copied into its work directory: a component's module, a step's `src`.
    pub fn source_dir(&self) -> Option<&std::path::Path> {
        match &self.kind {
            Kind::Terraform(t) => t.source.as_deref(),
            Kind::Step(s) => s.src.as_deref(),
        }
    }

    /// The upstream nodes whose whole state it reads (`infra.remoteState`).
    pub fn state_reads(&self) -> impl Iterator<Item = &String> {
        self.terraform().into_iter().flat_map(|t| t.files.values()).filter_map(|f| match f {
            File::RemoteState(address) => Some(address),
            _ => None,
        })
    }

    /// The work directory it runs in (an address): its own, or its owner's for a hook.
    pub fn workdir_of(&self) -> String {
        match &self.kind {
            Kind::Step(Step { hook: Some(hook), .. }) => hook.owner.clone(),
            _ => self.address(),
        }
    }

    /// What kind of node it is, for people: `component`, `step` or `wait`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            Kind::Terraform(_) => "component",
            Kind::Step(Step { hook: Some(_), .. }) => "hook",
            Kind::Step(Step { action: Action::Run(_), .. }) => "step",
            Kind::Step(Step { action: Action::Wait { .. }, .. }) => "wait",
        }
    }
}
