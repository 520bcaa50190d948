//! `infra ci github|gitlab`: a CI pipeline that runs the nodes that are not up to date
//! according to the shared cache (`ci.rs` builds and writes it).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::ExitCode,
};

use clap::{Args, ValueEnum};
use runner::State;

use crate::{
    ci::{Pipeline, github, gitlab, jobs},
    ctx::{Ctx, runner_error},
    error::CliError,
    output::Output,
    runs::tool_env,
};

/// Write a CI pipeline (GitHub Actions or GitLab CI) that runs every node that is not up to
/// date, one job per node in the DAG's order, sharing the cache.
///
/// What is up to date is read from the cache (`--cache`, else `INFRA_CACHE`, else
/// `.infra-cache`): the records of what anyone applied. Jobs run `infra apply ADDR --only`
/// (with `--plan`, `infra plan`, keeping each plan as an artefact) in a fresh checkout, with
/// the cache URL and credentials from the CI's secrets (`INFRA_CACHE`, `AWS_*`,
/// `INFRA_CACHE_SIGNING_KEY`, `INFRA_AGE_KEY`); a last job prints `infra status`. The output
/// depends only on the project and the cache: the same inputs give the same bytes.
#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    /// `github` (a workflow for `.github/workflows/`) or `gitlab` (a child pipeline).
    #[arg(value_enum)]
    system: System,
    /// Stacks, components or globs (with what they depend on); all when none.
    targets: Vec<String>,
    /// Every selected node, up to date or not.
    #[arg(long)]
    all: bool,
    /// Jobs that plan (for pull requests) instead of applying.
    #[arg(long)]
    plan: bool,
    /// At most N node jobs: past it, independent nodes share a job per wave of the DAG
    /// (GitHub runs at most 256 jobs in a workflow).
    #[arg(long, value_name = "N", default_value_t = 250)]
    max_jobs: usize,
    /// The cache that says what is up to date.
    #[arg(long, value_name = "URL")]
    cache: Option<String>,
    /// The shell command that installs infra on a runner.
    #[arg(long, value_name = "COMMAND", default_value = "cargo install --locked infra")]
    install: String,
    /// GitHub's `runs-on` label (default `ubuntu-latest`); GitLab's `image`.
    #[arg(long, value_name = "NAME")]
    runner: Option<String>,
    /// Write the pipeline to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum System {
    Github,
    Gitlab,
}

pub(crate) fn run(out: &mut Output, ctx: &Ctx, args: &CiArgs) -> Result<ExitCode, CliError> {
    let Some(project) = ctx.project(out)? else { return Ok(ExitCode::FAILURE) };
    let targets = runner::select_components(&project, &args.targets).map_err(runner_error)?;
    let selected = crate::runs::close(&project, &targets, false);
    let deps: BTreeMap<String, BTreeSet<String>> =
        project.components().map(|c| (c.address(), c.depends_on.clone())).collect();
    let stale: BTreeSet<String> = if args.all {
        selected.iter().cloned().collect()
    } else {
        let store = ctx.store()?;
        let build = runner::build_with(&project, &selected, &store, false).map_err(runner_error)?;
        if let Some(url) = crate::cache::cache_url(ctx, args.cache.as_deref())? {
            let trust = crate::cache::trust(ctx)?;
            let pulled = runner::pull_refs(&url, &ctx.root, &selected, &trust);
            crate::cache::report(out, "pull from", &url, &pulled)?;
        }
        let states = runner::status(&project, &build, &ctx.root, &tool_env());
        let changed: Vec<String> = states
            .into_iter()
            .filter(|(_, state, _)| *state != State::UpToDate)
            .map(|(address, _, _)| address)
            .collect();
        // What reads a node that runs may see new outputs: it is in the pipeline too (its
        // job finds it up to date, and runs nothing, when the outputs did not change).
        let downstream = crate::runs::close(&project, &changed, true);
        downstream.into_iter().filter(|a| selected.contains(a)).collect()
    };
    let owner = |address: &str| -> String {
        project
            .component(address)
            .and_then(|c| c.step())
            .and_then(|s| s.hook.as_ref())
            .map_or_else(|| address.to_owned(), |h| h.owner.clone())
    };
    let pipeline = Pipeline {
        jobs: jobs(&stale, owner, &deps, Some(args.max_jobs)),
        workdir: repository_path(&ctx.root),
        plan: args.plan,
        install: args.install.clone(),
        runner: args.runner.clone(),
        secrets: project.components().any(|c| !c.secrets.is_empty()),
        all: args.all,
    };
    let text = match args.system {
        System::Github => github(&pipeline),
        System::Gitlab => gitlab(&pipeline),
    };
    match &args.output {
        Some(path) => {
            store::fsutil::write_atomic_shared(path, text.as_bytes(), true).map_err(|e| {
                CliError::user(
                    "infra::io::write",
                    format!("cannot write `{}`: {e}", path.display()),
                )
            })?;
            let jobs = pipeline.jobs.len();
            out.status(&format!(
                "wrote `{}`: {jobs} {} and a summary",
                path.display(),
                if jobs == 1 { "job" } else { "jobs" }
            ))?;
        }
        None => out.data(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The project's directory relative to the root of its git repository (empty when it is the
/// root, or not in a repository).
fn repository_path(root: &Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let Some(repository) = root.ancestors().find(|dir| dir.join(".git").exists()) else {
        return String::new();
    };
    root.strip_prefix(repository).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}
