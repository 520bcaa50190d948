//! The evaluated project: stacks of placed components, as plain data. `extract` reads the
//! tagged sets the domain builtins made (`infra.stack`, `infra.component`, …) into these types,
//! applying component functions to their placement context, converting inputs to JSON, and
//! checking references (unknown components, duplicates, cycles) with spans, and the names of
//! inputs and outputs against the variables and outputs the modules declare (`names`).
//!
//! Nothing here is hashed or written: `runner::build` turns a `Project` into derivations.

mod extract;
mod graph;
mod json;
mod module;
mod names;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

pub use self::extract::GENERATED_FILES;
pub(crate) use self::extract::{extract, select};

/// A JSON value (objects keep their keys sorted: `serde_json`'s map is ordered).
pub type Json = serde_json::Value;

/// Every stack of a project, in name order.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub stacks: Vec<Stack>,
}

/// One stack: its components, in name order.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub name: String,
    pub components: Vec<Component>,
}

/// A component placed in a stack, with everything its work directory is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub stack: String,
    pub name: String,
    /// The module's directory (absolute), copied into the work directory.
    pub source: Option<PathBuf>,
    /// Variable values. Output placeholders appear in strings as their text, with absolute
    /// addresses (`<infra-output:dev/vpc:network_id>`); `reads` lists them.
    pub inputs: BTreeMap<String, Json>,
    /// Provider configurations, by provider name (the stack's, merged with the component's).
    pub providers: BTreeMap<String, Json>,
    pub backend: Backend,
    /// Extra files of the work directory, by relative path.
    pub files: BTreeMap<String, File>,
    /// Components that must be applied first (addresses): placeholders, `dependsOn`,
    /// `infra.remoteState`.
    pub depends_on: BTreeSet<String>,
    /// The upstream outputs the inputs read.
    pub reads: BTreeSet<OutputRef>,
    /// The secrets the inputs hold (their text is `SecretRef::text`).
    pub secrets: BTreeSet<SecretRef>,
    pub required_outputs: BTreeSet<String>,
    /// Values to plan with while this component has never been applied.
    pub mock_outputs: BTreeMap<String, Json>,
    pub hooks: Hooks,
    /// `"tofu"`, `"terraform"` or another command; `None`: detect.
    pub tool: Option<String>,
    /// The files of `files` rendered by `infra.template`, with their template (absolute).
    pub templates: BTreeMap<String, PathBuf>,
}

/// A Terraform backend: its type and configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub ty: String,
    pub config: BTreeMap<String, Json>,
}

/// An extra file of a work directory.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutputRef {
    pub address: String,
    pub output: String,
}

/// A value inside an age-encrypted JSON or YAML file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// Commands run around Terraform, as nodes of the run graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hooks {
    pub pre_plan: Vec<String>,
    pub post_apply: Vec<String>,
}

impl Project {
    /// Every component, stack by stack.
    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.stacks.iter().flat_map(|s| s.components.iter())
    }

    /// The component at `STACK/NAME`.
    pub fn component(&self, address: &str) -> Option<&Component> {
        let (stack, name) = address.split_once('/')?;
        let stack = self.stacks.iter().find(|s| s.name == stack)?;
        stack.components.iter().find(|c| c.name == name)
    }
}

impl Component {
    /// `STACK/NAME`.
    pub fn address(&self) -> String {
        format!("{}/{}", self.stack, self.name)
    }
}
