//! The `infra` binary: parse the command line, run the command, map the outcome to an exit code.

mod cache;
mod ci;
mod cli;
mod ctx;
mod error;
mod evalcache;
mod history;
mod io;
mod lsp;
mod output;
mod policy;
mod review;
mod runs;
mod sources;
mod timing;
mod ui;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: alloc_shim::Allocator = alloc_shim::Allocator;

fn main() -> ExitCode {
    // The main thread evaluates (`infra eval`, `plan`, …) and lives as long as the process.
    alloc_shim::keep_small_blocks();
    timing::mark("start");
    let cli = cli::Cli::parse();
    timing::mark("arguments");
    let entered = cli::enter_directory(&cli.global);
    let mut out = output::Output::new(&cli.global);
    let code = match entered.and_then(|()| cli::run(&mut out, &cli.global, &cli.command)) {
        Ok(code) => code,
        Err(err) => out.report_error(&err),
    };
    ctx::finish_background();
    timing::mark("done");
    code
}
