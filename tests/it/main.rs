//! The one integration-test binary of the workspace: the `infra` binary end to end, the real
//! Nix as the oracle for the syntax, and tidy checks over the whole tree.

mod build;
mod cache;
mod ci;
mod cli;
mod config;
mod conformance;
mod docs;
mod eval_oracle;
mod fmt;
mod history;
mod hostile;
mod lsp;
mod mutations;
mod nix_oracle;
mod policies;
mod project;
mod run;
mod s3;
mod secrets;
mod siblings;
mod steps;
mod support;
mod tidy;
mod trust;
mod ui;
mod walkthrough;
