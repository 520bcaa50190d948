//! `infra completions SHELL` and `infra man`: the shell completion script (clap_complete) and
//! the manual page (clap_mangen, roff), both made from the same command definitions as the
//! help, printed on stdout.
//!
//!     infra completions bash > ~/.local/share/bash-completion/completions/infra
//!     infra man > ~/.local/share/man/man1/infra.1

use std::process::ExitCode;

use clap::{Args, CommandFactory, ValueEnum};

use crate::{error::CliError, output::Output};

/// Print the completion script for a shell.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

/// Print the manual page (roff), for `man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {}

pub(crate) fn run(out: &mut Output, args: &CompletionsArgs) -> Result<ExitCode, CliError> {
    use clap_complete::Shell as S;
    let shell = match args.shell {
        Shell::Bash => S::Bash,
        Shell::Zsh => S::Zsh,
        Shell::Fish => S::Fish,
        Shell::Powershell => S::PowerShell,
        Shell::Elvish => S::Elvish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "infra", &mut script);
    out.data(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn man(out: &mut Output, _: &ManArgs) -> Result<ExitCode, CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut page)
        .map_err(|e| CliError::user("infra::cli::io", format!("cannot render the page: {e}")))?;
    out.data(&String::from_utf8_lossy(&page))?;
    Ok(ExitCode::SUCCESS)
}
