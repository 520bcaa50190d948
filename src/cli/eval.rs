//! `infra eval`: evaluate a file, an expression or a project attribute path and print the value
//! as Nix prints it.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Args;
use evaluator::{Evaluator, PrintMode};

use crate::{ctx::Ctx, error::CliError, io::RealIo, output::Output};

/// Evaluate a file, an expression (`-E`) or an attribute path of the project, and print it.
///
/// The output is the same as `nix-instantiate --eval` (with `--strict`, as
/// `nix-instantiate --eval --strict`): unevaluated parts print as `<CODE>` unless `--strict`.
/// An argument that is not a file is an attribute path of the project's `main.infra`, where a
/// stack's component is reached by its name, placed in the stack: `infra eval dev.gke.inputs`.
#[derive(Debug, Args)]
// One of the two, so that a bare `infra eval` names both in its usage line.
#[group(skip)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["file", "expr"])))]
pub(crate) struct EvalArgs {
    /// The file to evaluate, or an attribute path of the project (`dev.gke.inputs`).
    file: Option<PathBuf>,
    /// Evaluate this expression instead of a file (relative paths are relative to the current
    /// directory).
    #[arg(short = 'E', long = "expr", value_name = "EXPR")]
    expr: Option<String>,
    /// Evaluate the whole value, not just its outermost layer.
    #[arg(long)]
    strict: bool,
    /// Print the value as JSON (evaluates all of it).
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(
    out: &mut Output,
    dir: Option<&Path>,
    args: &EvalArgs,
) -> Result<ExitCode, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::user("infra::io::cwd", format!("no current directory: {e}")))?;
    // Not dropped (nor the value below): the process ends right after, and freeing millions
    // of thunks one by one would only cost time (a third of a large evaluation).
    let mut evaluator = std::mem::ManuallyDrop::new(Evaluator::new(Box::new(RealIo::default())));
    let result = match (&args.expr, &args.file) {
        (Some(expr), _) => evaluator.eval_text("(expression)", expr, cwd),
        (None, Some(file)) if cwd.join(file).exists() || !is_attr_path(file) => {
            evaluator.eval_file(&cwd.join(file))
        }
        (None, Some(path)) => {
            let ctx = Ctx::discover(dir)?;
            let path: Vec<String> = path.to_string_lossy().split('.').map(str::to_owned).collect();
            evaluator.eval_project_path(&ctx.entry(), &path)
        }
        (None, None) => {
            return Err(CliError::user("infra::cli::usage", "nothing to evaluate".into()));
        }
    };
    let printed = result.and_then(|value| {
        let printed = if args.json {
            evaluator.to_json(&value)
        } else {
            let mode = if args.strict { PrintMode::Strict } else { PrintMode::Lazy };
            evaluator.print(&value, mode)
        };
        std::mem::forget(value);
        printed
    });
    match printed {
        Ok(text) => {
            out.data(&format!("{text}\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            let diagnostics = error.diagnostics();
            if diagnostics.is_empty() {
                let failure = CliError::user(error.kind.code(), error.to_string());
                return Err(match &error.help {
                    Some(help) => failure.with_hint(help.clone()),
                    None => failure,
                });
            }
            for diagnostic in &diagnostics {
                out.diagnostic_in(evaluator.sources(), diagnostic)?;
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `dev.gke.inputs`: names joined by dots, no slashes.
fn is_attr_path(arg: &Path) -> bool {
    let text = arg.to_string_lossy();
    !text.is_empty()
        && !text.contains('/')
        && !text.ends_with(".infra")
        && !text.ends_with(".nix")
        && text.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '\'')
        })
}
