//! The lazy evaluator: typed AST → a compact IR (`lower`) → values (`eval`), with Nix's
//! semantics on the shared core, Nix's printing (`print`) and diagnostics with codes.
//!
//! The evaluator is pure and synchronous: every effect (reading a file, an environment
//! variable) goes through `EvalIo`, and every input read is recorded, so that later layers can
//! key an evaluation cache on them.

mod builtins;
mod domain;
mod env;
mod error;
mod eval;
mod io;
mod ir;
mod lower;
mod print;
mod project;
mod suggest;
mod value;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use crate::{
    domain::{placeholder_text, secret_text},
    error::{ErrorKind, EvalError, EvalResult},
    io::{EvalIo, Input},
    print::PrintMode,
    project::{
        Action, Approval, Backend, Check, Component, File, GENERATED_FILES, Hook, HookWhen, Json,
        Kind, LocalModule, OutputRef, Project, Retries, SecretRef, SourceRewrite, Stack, Step,
        Terraform, Verdict, VerdictKind, siblings::MODULES_DIR,
    },
    suggest::did_you_mean,
    value::{Attrs, Closure, Context, NixString, PrimOp, PrimOpApp, Thunk, Value},
};
use crate::{eval::Machine, ir::Arena};

/// The domain the core is extended with: the builtins `<infra>` wraps (`__infraComponent`, …)
/// and `infra` itself, the lazily imported `<infra>`. The core (`eval`, `builtins`, `value`)
/// knows neither; `domain` and `project` are built on its public surface.
const DOMAIN: eval::Extensions =
    eval::Extensions { builtins: domain::PRIMOPS, globals: &[("infra", "import <infra>")] };

/// Evaluates programs of the infra language. One evaluator holds one import cache, one
/// source map and one record of inputs; evaluate many expressions with it to share them.
pub struct Evaluator {
    machine: Machine,
}

impl Evaluator {
    pub fn new(io: Box<dyn EvalIo>) -> Evaluator {
        Evaluator { machine: Machine::new(io, Arena::default(), &DOMAIN) }
    }

    /// Evaluates a file, like `nix-instantiate --eval FILE`.
    pub fn eval_file(&mut self, path: &Path) -> EvalResult<Value> {
        self.machine.import(path, None)
    }

    /// Evaluates `text` as if it were a file named `name` in `base_dir` (for `-E EXPR`).
    pub fn eval_text(&mut self, name: &str, text: &str, base_dir: PathBuf) -> EvalResult<Value> {
        self.machine.eval_source(name.to_owned(), text.to_owned(), base_dir)
    }

    /// Checks `text` (a file named `name` in `base_dir`) as far as it can be without evaluating
    /// it: every undefined variable (render with `sources()`).
    pub fn check_text(
        &mut self,
        name: &str,
        text: &str,
        base_dir: PathBuf,
    ) -> Vec<lang::Diagnostic> {
        self.machine.check_source(name.to_owned(), text.to_owned(), base_dir)
    }

    /// Evaluates a project's entry file (`main.infra`) into its stacks and components.
    pub fn eval_project(&mut self, entry: &Path) -> EvalResult<Project> {
        let root = self.eval_file(entry)?;
        let span = self.entry_span(entry);
        let project_root = entry.parent().unwrap_or(Path::new("/"));
        project::extract(&mut self.machine, &root, span, project_root)
    }

    /// `eval_project` for `infra check`: also every variable a component's module requires
    /// (no `default`) must have a value, which a run would only learn from Terraform.
    pub fn check_project(&mut self, entry: &Path) -> EvalResult<Project> {
        self.machine.require_inputs = true;
        let project = self.eval_project(entry);
        self.machine.require_inputs = false;
        project
    }

    /// The part of a project that `targets` (exact `STACK/NAME` addresses) and what they
    /// depend on make up, evaluating only their specs: what a run of those components needs.
    /// `Ok(None)` when a target or a dependency is not a declared component (e.g. a hook):
    /// evaluate the whole project instead.
    pub fn eval_project_upstream(
        &mut self,
        entry: &Path,
        targets: &[String],
    ) -> EvalResult<Option<Project>> {
        let root = self.eval_file(entry)?;
        let span = self.entry_span(entry);
        let project_root = entry.parent().unwrap_or(Path::new("/"));
        project::extract_upstream(&mut self.machine, &root, span, project_root, targets)
    }

    /// The verdicts of the policies of the component at `address` (its stack's, then its own)
    /// on `input` (what its plan would do; see `project/policy.rs`).
    pub fn check_policies(
        &mut self,
        entry: &Path,
        address: &str,
        input: &Json,
    ) -> EvalResult<Vec<Verdict>> {
        let root = self.eval_file(entry)?;
        let span = self.entry_span(entry);
        let policies = project::policies_of(&mut self.machine, &root, span, address)?;
        project::policy::check(&mut self.machine, policies, input, address, span)
    }

    /// The value at an attribute path of a project (`["dev", "gke", "inputs"]`): a stack's
    /// component is reached by its name and is its spec, placed in the stack.
    pub fn eval_project_path(&mut self, entry: &Path, path: &[String]) -> EvalResult<Value> {
        let root = self.eval_file(entry)?;
        let span = self.entry_span(entry);
        project::select(&mut self.machine, &root, path, span)
    }

    fn entry_span(&self, entry: &Path) -> lang::Span {
        let sources = self.machine.sources();
        let name = entry.display().to_string();
        let file = sources
            .find(&name)
            .or_else(|| sources.find(&entry.join("default.infra").display().to_string()));
        match file {
            Some(file) => sources.file_span(file),
            None => lang::Span {
                file: sources.find("<prelude>").expect("Invariant: the prelude is always loaded"),
                range: Default::default(),
            },
        }
    }

    /// Prints a value as `nix-instantiate --eval` does (`--strict` with `PrintMode::Strict`),
    /// forcing as much as the mode demands.
    pub fn print(&mut self, value: &Value, mode: PrintMode) -> EvalResult<String> {
        print::print(&mut self.machine, value, mode)
    }

    /// Prints a value as JSON (`--json`), forcing all of it.
    pub fn to_json(&mut self, value: &Value) -> EvalResult<String> {
        builtins::json::to_json_string(&mut self.machine, value)
    }

    /// Every source file seen so far, for rendering diagnostics.
    pub fn sources(&self) -> &lang::SourceMap {
        self.machine.sources()
    }

    /// Every file read and environment variable looked up so far.
    pub fn inputs(&self) -> Vec<Input> {
        self.machine.inputs()
    }
}
