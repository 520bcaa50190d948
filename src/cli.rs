//! The command line: global flags, the subcommand enum and dispatch. One file per subcommand.

mod check;
mod eval;
mod parse;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{error::CliError, output::Output};

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
    Parse(parse::ParseArgs),
    Check(check::CheckArgs),
    Eval(eval::EvalArgs),
}

pub(crate) fn run(out: &mut Output, command: &Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Parse(args) => parse::run(out, args),
        Command::Check(args) => check::run(out, args),
        Command::Eval(args) => eval::run(out, args),
    }
}
