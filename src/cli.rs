//! The command line: global flags, the subcommand enum and dispatch. One file per subcommand.

mod apply;
mod approve;
mod build;
mod cache;
mod check;
mod ci;
mod completions;
mod destroy;
mod drift;
mod eval;
mod export;
mod fmt;
mod graph;
mod history;
mod init;
mod lsp;
mod output;
mod parse;
mod plan;
mod secrets;
mod show;
mod status;
mod store;
mod tf;
mod ui;
mod why;

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{ctx::Ctx, error::CliError, output::Output};

/// Describe a Terraform/OpenTofu estate in a small lazy language; build and apply it as a DAG,
/// running only what changed.
#[derive(Debug, Parser)]
#[command(name = "infra", version, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// How to print diagnostics: `human` (on stderr) or `json` (one object per line, on stdout).
    #[arg(long, global = true, value_enum, default_value_t = MessageFormat::Human)]
    pub(crate) message_format: MessageFormat,
    /// When to use colour: `auto` (a terminal, and `NO_COLOR` unset), `always` or `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    /// Run as if started in DIR (`cd DIR` first, as `git -C`): the project is DIR's or the
    /// nearest directory above it with a `main.infra`, and files named are found from DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub(crate) directory: Option<PathBuf>,
    /// Keep the operation history in this PostgreSQL database (`postgres://USER@HOST/DB`)
    /// instead of `.infra/history.db` (also `INFRA_HISTORY`).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) history: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MessageFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Init(init::InitArgs),
    Parse(parse::ParseArgs),
    Check(check::CheckArgs),
    Fmt(fmt::FmtArgs),
    Lsp(lsp::LspArgs),
    Eval(eval::EvalArgs),
    Build(build::BuildArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Approve(approve::ApproveArgs),
    Destroy(destroy::DestroyArgs),
    Show(show::ShowArgs),
    Drift(drift::DriftArgs),
    Output(output::OutputArgs),
    Status(status::StatusArgs),
    Why(why::WhyArgs),
    History(history::HistoryArgs),
    Ui(ui::UiArgs),
    Secrets(secrets::SecretsArgs),
    Cache(cache::CacheArgs),
    Ci(ci::CiArgs),
    Export(export::ExportArgs),
    Graph(graph::GraphArgs),
    Store(store::StoreArgs),
    Tf(tf::TfArgs),
    Completions(completions::CompletionsArgs),
    Man(completions::ManArgs),
}

/// `-C DIR` is `cd DIR` first, as git's and make's: the project, the files named on the
/// command line, the files written and the paths printed are all from there. Done before
/// anything else (the output relativises paths to the current directory).
pub(crate) fn enter_directory(global: &GlobalArgs) -> Result<(), CliError> {
    if let Some(dir) = &global.directory {
        std::env::set_current_dir(dir).map_err(|e| {
            CliError::user("infra::io::cwd", format!("cannot work in `{}`: {e}", dir.display()))
        })?;
    }
    Ok(())
}

pub(crate) fn run(
    out: &mut Output,
    global: &GlobalArgs,
    command: &Command,
) -> Result<ExitCode, CliError> {
    // `enter_directory` has made `-C DIR` the current directory.
    let dir: Option<&std::path::Path> = None;
    let with_history = |ctx: Ctx| Ctx { history: global.history.clone().or(ctx.history), ..ctx };
    match command {
        Command::Init(args) => init::run(out, args),
        Command::Parse(args) => parse::run(out, args),
        Command::Check(args) => check::run(out, dir, args),
        Command::Fmt(args) => fmt::run(out, args),
        Command::Lsp(args) => lsp::run(args),
        Command::Eval(args) => eval::run(out, dir, args),
        Command::Build(args) => build::run(out, &Ctx::discover(dir)?, args),
        Command::Plan(args) => plan::run(out, &with_history(Ctx::discover(dir)?), args),
        Command::Apply(args) => apply::run(out, &with_history(Ctx::discover(dir)?), args),
        Command::Destroy(args) => destroy::run(out, &with_history(Ctx::discover(dir)?), args),
        Command::Show(args) => show::run(out, &Ctx::discover(dir)?, args),
        Command::Drift(args) => drift::run(out, &with_history(Ctx::discover(dir)?), args),
        Command::Output(args) => output::run(out, &Ctx::discover(dir)?, args),
        Command::Status(args) => status::run(out, &Ctx::discover(dir)?, args),
        Command::Why(args) => why::run(out, &Ctx::discover(dir)?, args),
        Command::Approve(args) => approve::run(out, &Ctx::discover(dir)?, args),
        Command::History(args) => history::run(out, &with_history(Ctx::discover(dir)?), args),
        Command::Ui(args) => ui::run(out, &with_history(Ctx::discover(dir)?), args),
        Command::Secrets(args) => secrets::run(out, dir, args),
        Command::Cache(args) => {
            let ctx = Ctx::discover(dir).ok();
            cache::run(out, ctx.as_ref(), args)
        }
        Command::Ci(args) => ci::run(out, &Ctx::discover(dir)?, args),
        Command::Export(args) => export::run(out, &Ctx::discover(dir)?, args),
        Command::Graph(args) => graph::run(out, &Ctx::discover(dir)?, args),
        Command::Store(args) => store::run(out, &Ctx::discover(dir)?, args),
        Command::Tf(args) => tf::run(out, &Ctx::discover(dir)?, args),
        Command::Completions(args) => completions::run(out, args),
        Command::Man(args) => completions::man(out, args),
    }
}
