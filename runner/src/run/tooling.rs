//! Running things around Terraform's main steps: `init` when needed, the tool's
//! version (cached), and the message of a failed step.

use std::collections::BTreeMap;

use evaluator::Json;
use store::Digest;

use crate::{
    process::LogMode,
    run::component::Ctx,
    run::failure::{Failure, code},
    tool_diagnostics::{self, Severity},
};

/// The hash of what `init` depended on at the last init, in the work directory.
const INIT_HASH_FILE: &str = ".infra-init-hash";

/// The Terraform/OpenTofu program of the component (`INFRA_TF`, its `tool`, `tofu`,
/// `terraform`), into `ctx.program`.
pub(crate) fn find_program(
    ctx: &mut Ctx<'_>,
    terraform: &evaluator::Terraform,
) -> Result<(), Failure> {
    let found = ctx.shared.programs.lock().ok().and_then(|p| p.get(&terraform.tool).cloned());
    if let Some(program) = found {
        ctx.program = program;
        return Ok(());
    }
    let env = &ctx.shared.options.tool_env;
    ctx.program = crate::tool::find_tool(env, terraform.tool.as_deref()).map_err(|e| {
        let help = e.help.as_ref().map(|h| format!(" ({h})")).unwrap_or_default();
        Failure::new(e.code(), format!("{e}{help}"))
    })?;
    if let Ok(mut programs) = ctx.shared.programs.lock() {
        programs.insert(terraform.tool.clone(), ctx.program.clone());
    }
    Ok(())
}

/// `init`, when `.terraform/` is missing or what init depends on (everything but the
/// variable files) changed since the last init.
pub(crate) async fn init_if_needed(ctx: &mut Ctx<'_>) -> Result<(), Failure> {
    let relevant: BTreeMap<&String, String> = ctx
        .built
        .files
        .iter()
        .filter(|(name, _)| !name.ends_with(".tfvars.json"))
        .map(|(k, v)| (k, v.to_hex()))
        .collect();
    let init_hash = Digest::of(&serde_json::to_vec(&relevant).unwrap_or_default()).to_hex();
    let current = std::fs::read_to_string(ctx.dir.join(INIT_HASH_FILE)).ok();
    if ctx.dir.join(".terraform").is_dir() && current.as_deref() == Some(init_hash.as_str()) {
        return Ok(());
    }
    let init =
        ctx.tool_logged("init", &["init", "-input=false", "-no-color"], LogMode::Full).await?;
    if !init.success {
        let mut found = tool_diagnostics::from_text(&init.stderr);
        if found.is_empty() {
            found = tool_diagnostics::from_text(&init.stdout);
        }
        if found.iter().any(|d| d.summary == "Backend configuration changed") {
            let dir = ctx.dir.strip_prefix(&ctx.shared.options.root).unwrap_or(&ctx.dir);
            ctx.notes.push(format!(
                "its backend changed since the last init: move its state with `terraform init -migrate-state` in `{}` (or start from the new backend's state with `-reconfigure`)",
                dir.display()
            ));
        }
        let root = ctx.shared.options.root.clone();
        tool_diagnostics::map_files(&mut found, ctx.component, &root, &ctx.dir);
        ctx.diagnostics.extend(found);
        return Err(Failure::new(code::INIT, failed(ctx, "init")));
    }
    let _ = std::fs::write(ctx.dir.join(INIT_HASH_FILE), init_hash);
    Ok(())
}

/// The message of a failed step: its first error in Terraform's words (every diagnostic is
/// in the result).
pub(crate) fn failed(ctx: &Ctx<'_>, step: &str) -> String {
    match ctx.diagnostics.iter().find(|d| d.severity == Severity::Error) {
        Some(d) => format!("`{step}` failed: {}", d.headline()),
        None => format!("`{step}` failed (see the log)"),
    }
}

/// The tool's version, from `.infra/cache/tools.json` keyed by the binary's path, size and
/// modification time (so an up-to-date run starts no process), else `version -json`.
pub(crate) async fn tool_version(ctx: &mut Ctx<'_>) -> String {
    let shared = ctx.shared;
    let program = ctx.program.clone();
    let mut versions = shared.versions.lock().await;
    if let Some(version) = versions.get(&program) {
        return version.clone();
    }
    let cache_path = shared.layout.tools_cache();
    let identity = crate::tool::identity(&program);
    let mut cache: BTreeMap<String, String> = std::fs::read(&cache_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let version = match cache.get(&identity) {
        Some(version) => version.clone(),
        None => {
            let root = shared.options.root.clone();
            let version = match ctx.version_probe(&root).await {
                Ok(done) => serde_json::from_str::<Json>(&done.stdout)
                    .ok()
                    .and_then(|j| {
                        j.get("terraform_version").and_then(Json::as_str).map(str::to_owned)
                    })
                    .unwrap_or_else(|| "unknown".to_owned()),
                Err(_) => "unknown".to_owned(),
            };
            if version == "unknown" {
                // Not cached: the next run asks again.
                return version;
            }
            cache.insert(identity, version.clone());
            if let Some(dir) = cache_path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = store::fsutil::write_atomic(
                &cache_path,
                &serde_json::to_vec_pretty(&cache).unwrap_or_default(),
                false,
            );
            version
        }
    };
    versions.insert(program, version.clone());
    version
}
