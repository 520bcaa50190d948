//! The `infra` binary: parse the command line, run the command, map the outcome to an exit code.

mod cli;
mod error;
mod io;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let mut out = output::Output::new(&cli.global);
    match cli::run(&mut out, &cli.command) {
        Ok(code) => code,
        Err(err) => out.report_error(&err),
    }
}
