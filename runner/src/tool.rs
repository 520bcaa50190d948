//! Which program runs Terraform for a component: `INFRA_TF` (a name or a path) overrides all;
//! then the component's `tool`; then `tofu` if it is on `PATH`, else `terraform`. A tool that
//! cannot be found is an error that says how to install one.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use crate::error::{RunnerError, RunnerErrorKind};

/// What tool detection reads from the environment (the caller reads it: the runner does not).
#[derive(Debug, Clone, Default)]
pub struct ToolEnv {
    /// `PATH`.
    pub path: Option<OsString>,
    /// `INFRA_TF`.
    pub infra_tf: Option<String>,
}

/// The program for a component whose `tool` is `preferred`.
pub fn find_tool(env: &ToolEnv, preferred: Option<&str>) -> Result<PathBuf, RunnerError> {
    if let Some(tool) = env.infra_tf.as_deref().filter(|t| !t.is_empty()) {
        return lookup(env, tool).ok_or_else(|| missing(tool, "`INFRA_TF` names it"));
    }
    if let Some(tool) = preferred {
        return lookup(env, tool).ok_or_else(|| missing(tool, "the component's `tool` names it"));
    }
    lookup(env, "tofu")
        .or_else(|| lookup(env, "terraform"))
        .ok_or_else(|| missing("tofu", "neither `tofu` nor `terraform` is on `PATH`"))
}

/// A name on `PATH`, or a path.
fn lookup(env: &ToolEnv, tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let path = PathBuf::from(tool);
        return is_executable(&path).then_some(path);
    }
    let path = env.path.as_ref()?;
    std::env::split_paths(path).map(|dir| dir.join(tool)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    // Outside Unix there is no executable bit: any file will do.
    std::fs::metadata(path)
        .is_ok_and(|m| m.is_file() && (cfg!(not(unix)) || store::fsutil::is_executable(&m)))
}

fn missing(tool: &str, why: &str) -> RunnerError {
    RunnerError {
        address: None,
        kind: RunnerErrorKind::Tool(format!("cannot find `{tool}` ({why})")),
        help: Some(
            "install OpenTofu (https://opentofu.org/docs/intro/install/) or Terraform, or point \
             `INFRA_TF` at the binary"
                .to_owned(),
        ),
    }
}

/// What names a tool binary in `.infra/cache/tools.json`: its path, size and modification
/// time (a replaced binary is asked for its version again).
pub(crate) fn identity(program: &Path) -> String {
    std::fs::metadata(program)
        .map(|m| format!("{}:{}", program.display(), store::fsutil::stamp(&m)))
        .unwrap_or_default()
}

/// The version of `program` cached by an earlier run, if any.
pub(crate) fn cached_version(layout: &crate::layout::Layout, program: &Path) -> Option<String> {
    let cache: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(layout.tools_cache()).ok()?).ok()?;
    cache.get(&identity(program)).cloned()
}

/// The version of `program`: the cached one, else asked (`version -json`, which touches no
/// state) and cached for the next run. A checkout that never ran the tool (a CI machine with
/// a shared cache) would otherwise see every component as changed by an unknown version.
pub(crate) fn probed_version(layout: &crate::layout::Layout, program: &Path) -> Option<String> {
    if let Some(version) = cached_version(layout, program) {
        return Some(version);
    }
    // Asked once per process, an answer or not (`status` asks for every component).
    static ASKED: std::sync::Mutex<std::collections::BTreeMap<PathBuf, Option<String>>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let mut asked = ASKED.lock().ok()?;
    if let Some(answer) = asked.get(program) {
        return answer.clone();
    }
    let limit = std::time::Duration::from_secs(20);
    let version = crate::process::output_of(program, &["version", "-json"], layout.root(), limit)
        .and_then(|output| serde_json::from_slice::<serde_json::Value>(&output).ok())
        .and_then(|json| Some(json.get("terraform_version")?.as_str()?.to_owned()));
    asked.insert(program.to_path_buf(), version.clone());
    let version = version?;
    let path = layout.tools_cache();
    let mut cache: std::collections::BTreeMap<String, String> =
        std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    cache.insert(identity(program), version.clone());
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let bytes = serde_json::to_vec_pretty(&cache).unwrap_or_default();
    let _ = store::fsutil::write_atomic(&path, &bytes, false);
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefers_the_override_then_the_component_then_tofu() {
        let dir = tempfile::tempdir().expect("a directory");
        let make = |name: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, "#!/bin/sh\n").expect("write");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
            path
        };
        let terraform = make("terraform");
        let env = ToolEnv { path: Some(dir.path().into()), infra_tf: None };
        assert_eq!(find_tool(&env, None).ok(), Some(terraform.clone()));
        let tofu = make("tofu");
        assert_eq!(find_tool(&env, None).ok(), Some(tofu));
        assert_eq!(find_tool(&env, Some("terraform")).ok(), Some(terraform.clone()));
        let env = ToolEnv { infra_tf: Some(terraform.display().to_string()), ..env };
        assert_eq!(find_tool(&env, Some("tofu")).ok(), Some(terraform));
        let empty = ToolEnv { path: Some(OsString::new()), infra_tf: None };
        let error = find_tool(&empty, None).expect_err("nothing to find");
        assert!(error.help.unwrap_or_default().contains("install OpenTofu"));
    }
}
