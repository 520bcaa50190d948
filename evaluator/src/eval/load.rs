//! Loading source: `import` (files, once each, and the embedded standard library) and
//! turning a source text into a value (parse, lower, evaluate).

use alloc_shim::thin::RcStr;
use std::path::{Path, PathBuf};

use lang::Span;

use crate::{
    env::Env,
    error::{ErrorKind, EvalError, EvalResult, io_error},
    eval::Machine,
    io::Input,
    lower::{self, Lowerer},
    value::{Thunk, Value},
};

/// Where the embedded standard library lives in the path namespace: `<infra>` is this
/// directory and `<infra/lib>` is `lib.infra` in it. No real file is ever read there.
pub(crate) const STDLIB_ROOT: &str = "/<infra>";

/// `<infra>` → the library root, `<infra/NAME>` → its `NAME.infra`.
pub(super) fn stdlib_path(name: &str) -> Option<PathBuf> {
    match name.strip_prefix("infra") {
        Some("") => Some(PathBuf::from(STDLIB_ROOT)),
        Some(rest) => {
            let module = rest.strip_prefix('/')?;
            stdlib::module(module).map(|_| PathBuf::from(format!("{STDLIB_ROOT}/{module}.infra")))
        }
        None => None,
    }
}

impl Machine {
    /// `import path`: parse, lower and evaluate a file, once per path. Paths under
    /// `STDLIB_ROOT` are the embedded standard library, not files.
    pub(crate) fn import(&mut self, path: &Path, at: Option<Span>) -> EvalResult<Value> {
        self.import_in(path, at, None)
    }

    /// `scopedImport scope path`: `import`, with the names of `scope` bound around the file
    /// (they shadow globals, as in Nix); never cached (another scope, another value).
    pub(crate) fn scoped_import(
        &mut self,
        path: &Path,
        scope: std::rc::Rc<crate::value::Attrs>,
    ) -> EvalResult<Value> {
        self.import_in(path, None, Some(scope))
    }

    fn import_in(
        &mut self,
        path: &Path,
        at: Option<Span>,
        scope: Option<std::rc::Rc<crate::value::Attrs>>,
    ) -> EvalResult<Value> {
        if let Ok(rest) = path.strip_prefix(STDLIB_ROOT) {
            let name = rest.to_string_lossy();
            let name = name.strip_suffix(".infra").unwrap_or(&name);
            let name = if name.is_empty() { "default" } else { name };
            if let Some(value) = self.imports.get(path) {
                return Ok(value.clone());
            }
            let Some(module) = stdlib::module(name) else {
                return Err(io_error(path, "no such library module", at));
            };
            let shown =
                if name == "default" { "<infra>".to_owned() } else { format!("<infra/{name}>") };
            let value =
                self.eval_source(shown, module.source.to_owned(), PathBuf::from(STDLIB_ROOT))?;
            self.imports.insert(path.to_path_buf(), value.clone());
            return Ok(value);
        }
        // Both probes are inputs: creating `default.infra` later changes what is imported.
        let infra_default = path.join("default.infra");
        let nix_default = path.join("default.nix");
        self.record(Input::Exists(infra_default.clone()));
        let path = if self.io.path_exists(&infra_default).unwrap_or(false) {
            infra_default
        } else {
            self.record(Input::Exists(nix_default.clone()));
            if self.io.path_exists(&nix_default).unwrap_or(false) {
                nix_default
            } else {
                path.to_path_buf()
            }
        };
        if scope.is_none()
            && let Some(value) = self.imports.get(&path)
        {
            return Ok(value.clone());
        }
        self.record(Input::File(path.clone()));
        let bytes = self.io.read_file(&path).map_err(|err| io_error(&path, err, at))?;
        let text = String::from_utf8(bytes).map_err(|_| io_error(&path, "not valid UTF-8", at))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        let scoped = scope.is_some();
        let value = self.eval_source_in(path.display().to_string(), text, base_dir, scope)?;
        if !scoped {
            self.imports.insert(path, value.clone());
        }
        Ok(value)
    }

    /// A thunk of a short built-in expression (`import <infra>` for the `infra` global),
    /// lowered now and evaluated only when first forced.
    pub(crate) fn prelude_thunk(&mut self, text: &str) -> Thunk {
        let parse = lang::parse(text);
        debug_assert!(parse.errors().is_empty(), "the prelude expression parses");
        let file = self.sources.add("<prelude>".to_owned(), text.to_owned());
        let globals = &self.globals;
        let is_global = |name: &str| globals.slot(name);
        let strict_global = |slot: u32| globals.is_strict(slot);
        let base_dir = PathBuf::from(STDLIB_ROOT);
        let mut lowerer =
            Lowerer::new(&mut self.arena, file, base_dir, None, &is_global, &strict_global);
        let span = lower::file_span(file, text.len());
        let id = lowerer.expr(parse.tree().expr(), span);
        debug_assert!(lowerer.errors.is_empty(), "the prelude expression lowers");
        Thunk::suspended(id, Env::root())
    }

    /// What lowering `text` finds without evaluating it (undefined variables; a file that does
    /// not parse has its syntax errors reported by the parser instead).
    pub(crate) fn check_source(
        &mut self,
        name: String,
        text: String,
        base_dir: PathBuf,
    ) -> Vec<lang::Diagnostic> {
        let parse = lang::parse(&text);
        let len = text.len();
        let file = self.sources.add(name, text);
        let globals = &self.globals;
        let is_global = |name: &str| globals.slot(name);
        let strict_global = |slot: u32| globals.is_strict(slot);
        let mut lowerer =
            Lowerer::new(&mut self.arena, file, base_dir, None, &is_global, &strict_global);
        lowerer.expr(parse.tree().expr(), lower::file_span(file, len));
        lowerer.errors.iter().flat_map(|e| e.diagnostics()).collect()
    }

    pub(crate) fn eval_source(
        &mut self,
        name: String,
        text: String,
        base_dir: PathBuf,
    ) -> EvalResult<Value> {
        self.eval_source_in(name, text, base_dir, None)
    }

    /// `eval_source` with the names of `scope` bound around the text (`scopedImport`).
    fn eval_source_in(
        &mut self,
        name: String,
        text: String,
        base_dir: PathBuf,
        scope: Option<std::rc::Rc<crate::value::Attrs>>,
    ) -> EvalResult<Value> {
        let parse = lang::parse(&text);
        let len = text.len();
        let uses_home = text.contains("~/");
        let file = self.sources.add(name, text);
        if !parse.errors().is_empty() {
            let diagnostics = parse
                .errors()
                .iter()
                .map(|e| lang::Diagnostic::from_syntax_error(file, e))
                .collect();
            return Err(EvalError::new(ErrorKind::Parse(diagnostics), None));
        }
        // `~/…` paths read `HOME`: only then is it an input.
        let home = if uses_home {
            self.record(Input::Env("HOME".to_owned()));
            self.io.env_var("HOME")
        } else {
            None
        };
        let globals = &self.globals;
        let is_global = |name: &str| globals.slot(name);
        let strict_global = |slot: u32| globals.is_strict(slot);
        let mut lowerer =
            Lowerer::new(&mut self.arena, file, base_dir, home, &is_global, &strict_global);
        let root = parse.tree().expr();
        let span = lower::file_span(file, len);
        let names: Vec<RcStr> =
            scope.iter().flat_map(|s| s.iter().map(|(k, _)| k.clone())).collect();
        let id = match &scope {
            Some(_) => lowerer.with_frame(names, |l| l.expr(root, span)),
            None => lowerer.expr(root, span),
        };
        let mut errors = std::mem::take(&mut lowerer.errors);
        if !errors.is_empty() {
            // Every undefined variable at once, as one diagnostic list.
            let first = errors.remove(0);
            if errors.is_empty() {
                return Err(Box::new(first));
            }
            let mut diagnostics = first.diagnostics();
            for error in errors {
                diagnostics.extend(error.diagnostics());
            }
            return Err(EvalError::new(ErrorKind::Parse(diagnostics), first.span));
        }
        let env = match scope {
            Some(scope) => {
                let mut slots = crate::env::Slots::new();
                for (_, thunk) in scope.iter() {
                    slots.push(thunk.clone().into());
                }
                Env::from_slots(&Env::root(), slots)
            }
            None => Env::root(),
        };
        self.eval(id, &env)
    }
}
