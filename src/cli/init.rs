//! `infra init [DIR]`: a project that works at once — `main.infra` with two stacks (`dev`,
//! `prod`) of one component each, the module they use (plain Terraform, no provider, so the
//! first `plan` needs no network), configuration layers read with `lib.loadHierarchy`, and a
//! `.gitignore` for `.infra/` — then the commands to run next. An existing `main.infra` is
//! never overwritten.

use std::{path::PathBuf, process::ExitCode};

use clap::Args;

use crate::{error::CliError, output::Output};

/// Create a new project: main.infra, a module, configuration layers and a .gitignore.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Where (created if missing; the current directory by default).
    dir: Option<PathBuf>,
}

const FILES: &[(&str, &str)] = &[
    (
        "main.infra",
        r#"# Two stacks of one component each. Each component's inputs are its configuration
# layers merged: config/*.yaml, then config/env=STACK/*.yaml (later wins, null deletes).
let
  app = infra.component "app" (ctx: {
    source = ./modules/app;
    inputs = (infra.lib.loadHierarchy ./config "env=${ctx.stack}").app // {
      name = "${ctx.stack}-app";
    };
  });
in
{
  dev = infra.stack "dev" { components = [ app ]; };
  prod = infra.stack "prod" { components = [ app ]; };
}
"#,
    ),
    (
        "modules/app/main.tf",
        r#"# A module like any other: its variables are the component's inputs.
variable "name" {
  type = string
}

variable "replicas" {
  type = number
}

variable "labels" {
  type = map(string)
}

output "summary" {
  value = "${var.name}: ${var.replicas} replica(s), labels ${jsonencode(var.labels)}"
}
"#,
    ),
    (
        "config/defaults.yaml",
        "# Settings every stack starts from.\napp:\n  replicas: 1\n  labels:\n    team: platform\n",
    ),
    ("config/env=dev/env.yaml", "app:\n  labels:\n    env: dev\n"),
    ("config/env=prod/env.yaml", "app:\n  replicas: 3\n  labels:\n    env: prod\n"),
    (
        ".gitignore",
        "# infra's work directories, store, records and logs. Local Terraform state lives in\n\
         # .infra/tfstate/ too: use a remote backend (infra.backend) before you share the project.\n\
         .infra/\n",
    ),
];

pub(crate) fn run(out: &mut Output, args: &InitArgs) -> Result<ExitCode, CliError> {
    let io = |e: std::io::Error| CliError::user("infra::init::io", format!("cannot write: {e}"));
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from("."));
    if dir.join("main.infra").exists() {
        return Err(CliError::user(
            "infra::init::exists",
            format!("`{}` already has a main.infra", dir.display()),
        )
        .with_hint("infra init writes a new project; it never replaces one".into()));
    }
    // A project inside another is allowed (an example beside its estate), but said: commands
    // run in it no longer see the outer one.
    let absolute = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
    let outer = absolute.ancestors().skip(1).find(|a| a.join("main.infra").is_file());
    let mut kept = Vec::new();
    for (name, text) in FILES {
        let path = dir.join(name);
        if *name == ".gitignore"
            && let Ok(existing) = std::fs::read_to_string(&path)
        {
            // The user's own: kept, with infra's directory added when it is not ignored yet.
            let ignored = existing.lines().any(|l| {
                matches!(
                    l.trim(),
                    ".infra" | ".infra/" | "/.infra/" | "/.infra" | ".infra/*" | "/.infra/*"
                )
            });
            if !ignored {
                let separator =
                    if existing.is_empty() || existing.ends_with('\n') { "" } else { "\n" };
                let text = format!("{existing}{separator}{text}");
                store::fsutil::write_atomic_shared(&path, text.as_bytes(), false).map_err(io)?;
            }
            continue;
        }
        if path.exists() {
            kept.push(format!("`{name}`"));
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        store::fsutil::write_atomic_shared(&path, text.as_bytes(), false).map_err(io)?;
    }
    let cd = match &args.dir {
        Some(dir) => format!("  cd {}\n", dir.display()),
        None => String::new(),
    };
    if !kept.is_empty() {
        out.status(&format!(
            "note: kept what was already there, not replaced: {} (the new main.infra may \
             expect other contents: `infra check` tells)",
            kept.join(", ")
        ))?;
    }
    if let Some(outer) = outer {
        out.status(&format!(
            "note: this project is inside the project at `{}`; commands run in it use its own \
             main.infra, not that one's",
            outer.display()
        ))?;
    }
    out.status(&format!(
        "Created a project with the stacks `dev` and `prod` (main.infra, modules/app, config/).\n\
         Next:\n{cd}  infra build          # the files Terraform will see\n  \
         infra plan           # what apply would do\n  \
         infra apply          # run it\n  \
         infra output         # what it produced"
    ))?;
    Ok(ExitCode::SUCCESS)
}
