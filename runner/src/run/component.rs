//! One component's part of a run: wait for what it depends on, compute its input hash, and —
//! unless it is up to date — sync its work directory, `init` if needed, `plan`, and `apply`
//! the saved plan (or `destroy`), then record the outputs.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use evaluator::{Component, Json, OutputRef};
use store::Digest;

use crate::{
    build::{BuiltComponent, canonical_json},
    process,
    record::{RECORD_VERSION, RunRecord, read_record, remove_record, write_record},
    resolve::resolve_inputs,
    run::secret_inputs::{collect_strings, decrypt_inputs, secret_fingerprints},
    run::{ComponentResult, Done, Event, Mode, Shared, log_path, terraform},
    tool::find_tool,
    work_dir, workdir,
};

/// How a component ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Its input hash equals its last successful apply's: nothing ran.
    UpToDate,
    /// Planned with these changes (`infra plan`).
    Planned,
    /// Applied (or nothing to apply, and recorded).
    Applied,
    Destroyed,
    Failed,
    /// Not run: something it depends on failed, or the run was stopped.
    Skipped,
}

/// The plan file and the input hash it was made for.
const PLAN_FILE: &str = "infra.tfplan";
const PLAN_HASH_FILE: &str = ".infra-plan-hash";
const INIT_HASH_FILE: &str = ".infra-init-hash";

struct Ctx<'a> {
    shared: &'a Shared,
    address: &'a str,
    started: Instant,
    processes: usize,
    log: PathBuf,
    /// The process slot, taken at the first process and held until the component is done:
    /// handing it back between plan and apply would let a lower-priority step take it.
    slot: Option<super::slots::Slot>,
    /// Extra environment for the tool (`TF_VAR_…` of secret inputs).
    env: Vec<(String, String)>,
    /// Decrypted values to remove from everything the tool prints.
    scrub: Vec<String>,
}

impl Ctx<'_> {
    fn result(
        &self,
        status: Status,
        changes: Option<(u32, u32, u32)>,
        message: Option<String>,
    ) -> ComponentResult {
        ComponentResult {
            address: self.address.to_owned(),
            status,
            changes,
            processes: self.processes,
            message,
            log: (self.processes > 0).then(|| self.log.clone()),
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }

    fn fail(&self, message: String) -> (ComponentResult, Done) {
        (self.result(Status::Failed, None, Some(message)), Done::Failed)
    }

    /// Before a process: refuse once the run is stopping, take the component's slot (kept
    /// until it is done), announce the step, count it.
    async fn begin(&mut self, step: &'static str) -> Result<(), String> {
        if self.shared.stop.load(Ordering::SeqCst) {
            return Err("the run was stopped".to_owned());
        }
        if self.slot.is_none() {
            let priority = self.shared.priority.get(self.address).copied().unwrap_or(1);
            self.slot = Some(self.shared.slots.acquire(priority).await);
        }
        (self.shared.events)(Event::Started { address: self.address.to_owned(), step });
        self.processes += 1;
        self.shared.processes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Runs the tool with `args` in `dir`.
    async fn tool(
        &mut self,
        program: &Path,
        step: &'static str,
        args: &[&str],
        dir: &Path,
    ) -> Result<process::Finished, String> {
        self.begin(step).await?;
        process::run(program, args, dir, &self.env, &self.scrub, &self.log, &self.shared.children)
            .await
            .map_err(|e| format!("cannot run `{}`: {e}", program.display()))
    }
}

pub(crate) async fn run_component(
    shared: &Shared,
    address: &str,
    upstream: &BTreeMap<String, Done>,
) -> (ComponentResult, Done) {
    let mut ctx = Ctx {
        shared,
        address,
        started: Instant::now(),
        processes: 0,
        log: log_path(&shared.options.log_dir, address),
        slot: None,
        env: Vec::new(),
        scrub: Vec::new(),
    };
    let (Some(component), Some(built)) = (
        shared.project.component(address),
        shared.build.components.iter().find(|b| b.address == address),
    ) else {
        return ctx.fail("not in the project".to_owned());
    };
    if shared.stop.load(Ordering::SeqCst) {
        return (
            ctx.result(Status::Skipped, None, Some("the run was stopped".into())),
            Done::Failed,
        );
    }
    if let Some((dependency, _)) = upstream.iter().find(|(_, done)| matches!(done, Done::Failed)) {
        let why = if shared.options.mode == Mode::Destroy {
            "depends on it and was not destroyed"
        } else {
            "failed or was skipped"
        };
        return (
            ctx.result(Status::Skipped, None, Some(format!("`{dependency}` {why}"))),
            Done::Failed,
        );
    }
    let program = match find_tool(&shared.options.tool_env, component.tool.as_deref()) {
        Ok(program) => program,
        Err(e) => {
            return ctx.fail(format!(
                "{e}{}",
                e.help.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()
            ));
        }
    };
    let root = shared.options.root.clone();
    let dir = root.join(work_dir(&component.stack, &component.name));
    if shared.options.mode == Mode::Destroy {
        return destroy(&mut ctx, component, built, &program, &dir).await;
    }
    let values = match upstream_values(shared, component, upstream) {
        Ok(values) => values,
        Err(message) => return ctx.fail(message),
    };
    let resolved = match resolve_inputs(component, &values) {
        Ok(resolved) => resolved,
        Err(missing) => {
            let names: Vec<String> =
                missing.iter().map(|r| format!("`{}.outputs.{}`", r.address, r.output)).collect();
            return ctx.fail(format!("no value for {}", names.join(", ")));
        }
    };
    let version = tool_version(&mut ctx, &program).await;
    let tool_name =
        program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fingerprints = match secret_fingerprints(component) {
        Ok(fingerprints) => fingerprints,
        Err(message) => return ctx.fail(message),
    };
    let (input_hash, inputs) =
        input_hash(component, built, &values, &resolved, &fingerprints, &tool_name, &version);
    let record = read_record(&root, address);
    if !shared.options.force && record.as_ref().is_some_and(|r| r.input_hash == input_hash) {
        let outputs = record.map(|r| r.outputs);
        return (ctx.result(Status::UpToDate, None, None), Done::Ok(outputs));
    }
    // Secrets are decrypted now, in memory, only for a component that runs; they reach
    // Terraform as `TF_VAR_…` in its environment, never in a file.
    let (secret_env, scrub) = match decrypt_inputs(shared, component, &values) {
        Ok(decrypted) => decrypted,
        Err(message) => return ctx.fail(message),
    };
    ctx.env = secret_env;
    ctx.scrub = scrub;
    let file_inputs: serde_json::Map<String, Json> = resolved
        .iter()
        .filter(|(_, v)| !crate::resolve::holds_secret(component, v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let upstream_file =
        (!file_inputs.is_empty()).then(|| canonical_json(&Json::Object(file_inputs)));
    // A plan file holds variable values: with secrets, it lives in a private temporary
    // directory (0700) that is removed when this component is done.
    let private = if component.secrets.is_empty() {
        None
    } else {
        match tempfile::Builder::new().prefix("infra-plan-").tempdir() {
            Ok(dir) => Some(dir),
            Err(e) => {
                return ctx.fail(format!("cannot create a private directory for the plan: {e}"));
            }
        }
    };
    let plan_file = match &private {
        Some(dir) => dir.path().join(PLAN_FILE).display().to_string(),
        None => PLAN_FILE.to_owned(),
    };
    if let Err(e) = crate::build::realise_component(&shared.store, built) {
        return ctx.fail(e.to_string());
    }
    if let Err(e) =
        workdir::sync(&shared.store, &built.workdir, &built.files, upstream_file.as_deref(), &dir)
    {
        return ctx.fail(format!("cannot prepare the work directory `{}`: {e}", dir.display()));
    }
    if let Err(message) = init_if_needed(&mut ctx, built, &program, &dir).await {
        return ctx.fail(message);
    }
    if let Err(message) = hooks(&mut ctx, &component.hooks.pre_plan, "prePlan", &dir).await {
        return ctx.fail(message);
    }
    let plan = match ctx
        .tool(
            &program,
            "plan",
            &[
                "plan",
                "-input=false",
                "-no-color",
                "-detailed-exitcode",
                &format!("-out={plan_file}"),
            ],
            &dir,
        )
        .await
    {
        Ok(plan) => plan,
        Err(message) => return ctx.fail(message),
    };
    let changes = match plan.code {
        Some(0) => Some((0, 0, 0)),
        Some(2) => Some(terraform::plan_counts(&plan.stdout).unwrap_or((0, 0, 0))),
        _ => return ctx.fail(format!("`plan` failed: {}", first_error(&plan))),
    };
    let _ = std::fs::write(dir.join(PLAN_HASH_FILE), &input_hash);
    if shared.options.mode == Mode::Plan {
        // Dependents plan with the outputs as they are now (the last apply's).
        let outputs = record.map(|r| r.outputs);
        return (ctx.result(Status::Planned, changes, None), Done::Ok(outputs));
    }
    // Apply exactly the saved plan, and only if it was made for these inputs.
    if std::fs::read_to_string(dir.join(PLAN_HASH_FILE)).ok().as_deref()
        != Some(input_hash.as_str())
    {
        return ctx.fail("the saved plan was made for other inputs; plan again".to_owned());
    }
    if plan.code == Some(2) {
        match ctx
            .tool(&program, "apply", &["apply", "-input=false", "-no-color", &plan_file], &dir)
            .await
        {
            Ok(apply) if apply.success => {}
            Ok(apply) => return ctx.fail(format!("`apply` failed: {}", first_error(&apply))),
            Err(message) => return ctx.fail(message),
        }
    }
    let _ = std::fs::remove_file(dir.join(PLAN_FILE));
    // The local backend's state file holds the outputs: read it rather than start a process.
    let local_state = (component.backend.ty == "local").then(|| {
        let path = component.backend.config.get("path").and_then(Json::as_str).map(str::to_owned);
        dir.join(path.unwrap_or_else(|| {
            format!("../../../tfstate/{}/{}.tfstate", component.stack, component.name)
        }))
    });
    let from_state =
        local_state.and_then(|path| terraform::state_outputs(&std::fs::read(path).ok()?));
    let (plain, sensitive) = match from_state {
        Some(outputs) => outputs,
        None => {
            let output = match ctx.tool(&program, "output", &["output", "-json"], &dir).await {
                Ok(output) if output.success => output,
                Ok(output) => {
                    return ctx.fail(format!("`output` failed: {}", first_error(&output)));
                }
                Err(message) => return ctx.fail(message),
            };
            match terraform::outputs(&output.stdout) {
                Some(outputs) => outputs,
                None => {
                    return ctx
                        .fail("`output -json` printed something that is not JSON".to_owned());
                }
            }
        }
    };
    // An output that shows a decrypted secret is kept as a hash only, like a sensitive one.
    let (plain, sensitive) = {
        let (mut plain, mut sensitive) = (plain, sensitive);
        let leaked: Vec<String> = plain
            .iter()
            .filter(|(_, v)| {
                let mut strings = Vec::new();
                collect_strings(v, &mut strings);
                strings.iter().any(|text| ctx.scrub.iter().any(|s| text.contains(s.as_str())))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for name in leaked {
            if let Some(value) = plain.remove(&name) {
                sensitive.insert(name, value);
            }
        }
        (plain, sensitive)
    };
    let missing: Vec<&String> = component
        .required_outputs
        .iter()
        .filter(|o| !plain.contains_key(*o) && !sensitive.contains_key(*o))
        .collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|o| format!("`{o}`")).collect();
        return ctx.fail(format!(
            "the module does not produce the required output(s) {}",
            names.join(", ")
        ));
    }
    let now = seconds_since_epoch();
    let record = RunRecord {
        version: RECORD_VERSION,
        address: address.to_owned(),
        input_hash,
        inputs,
        workdir: built.workdir.to_string(),
        files: built.files.iter().map(|(k, v)| (k.clone(), v.to_hex())).collect(),
        outputs: plain.clone(),
        sensitive_outputs: sensitive
            .iter()
            .map(|(k, v)| (k.clone(), Digest::of(v.to_string().as_bytes()).to_hex()))
            .collect(),
        tool: tool_name,
        tool_version: version,
        started: now.saturating_sub(ctx.started.elapsed().as_secs()),
        finished: now,
    };
    if let Err(e) = write_record(&root, &record) {
        return ctx.fail(format!("applied, but the run record could not be written: {e}"));
    }
    if let Err(message) = hooks(&mut ctx, &component.hooks.post_apply, "postApply", &dir).await {
        // The apply stands (and is recorded); the hook's failure is reported.
        return ctx.fail(message);
    }
    // Only non-sensitive outputs flow to dependents (sensitive ones would land in their
    // records, variable files and logs); a reader of a sensitive output gets a clear error.
    let _ = sensitive;
    (ctx.result(Status::Applied, changes, None), Done::Ok(Some(plain)))
}

/// Runs hook commands (`sh -c`) in the work directory, each with its own log file, with
/// `INFRA_STACK`, `INFRA_COMPONENT` and `INFRA_WORKDIR` set.
async fn hooks(
    ctx: &mut Ctx<'_>,
    commands: &[String],
    step: &'static str,
    dir: &Path,
) -> Result<(), String> {
    for (i, command) in commands.iter().enumerate() {
        ctx.begin(step).await?;
        let log = ctx
            .shared
            .options
            .log_dir
            .join(format!("{}.{step}-{i}.log", ctx.address.replace('/', ".")));
        let (stack, name) = ctx.address.split_once('/').unwrap_or(("", ctx.address));
        let env = [
            ("INFRA_STACK".to_owned(), stack.to_owned()),
            ("INFRA_COMPONENT".to_owned(), name.to_owned()),
            ("INFRA_WORKDIR".to_owned(), dir.display().to_string()),
        ];
        let done = process::run(
            Path::new("/bin/sh"),
            &["-c", command],
            dir,
            &env,
            &ctx.scrub,
            &log,
            &ctx.shared.children,
        )
        .await
        .map_err(|e| format!("cannot run the {step} hook `{command}`: {e}"))?;
        if !done.success {
            return Err(format!("the {step} hook `{command}` failed (see `{}`)", log.display()));
        }
    }
    Ok(())
}

/// The input hash of a component and what went into it (kept in the record for `infra why`):
/// the work-directory derivation (every file, generated ones included), each input value as
/// it will be passed, each upstream output read, and the tool with its version.
pub(crate) fn input_hash(
    component: &Component,
    built: &BuiltComponent,
    values: &BTreeMap<OutputRef, Json>,
    resolved: &BTreeMap<String, Json>,
    fingerprints: &BTreeMap<String, String>,
    tool_name: &str,
    version: &str,
) -> (String, BTreeMap<String, String>) {
    let mut inputs = BTreeMap::new();
    inputs.insert("workdir".to_owned(), built.derivation.to_hex());
    inputs.insert("tool".to_owned(), format!("{tool_name} {version}"));
    for (key, value) in &component.inputs {
        let value = resolved.get(key).unwrap_or(value);
        inputs.insert(format!("input:{key}"), value.to_string());
    }
    for (read, value) in values {
        inputs.insert(format!("output:{}#{}", read.address, read.output), value.to_string());
    }
    // A secret counts by the hash of its file's ciphertext: rotating it re-plans its users.
    for (secret, fingerprint) in fingerprints {
        inputs.insert(format!("secret:{secret}"), fingerprint.clone());
    }
    let hash = Digest::of(&serde_json::to_vec(&inputs).unwrap_or_default()).to_hex();
    (hash, inputs)
}

/// The values of the upstream outputs a component reads: from this run, else from records,
/// else (planning only) from the upstream's `mockOutputs`.
fn upstream_values(
    shared: &Shared,
    component: &Component,
    upstream: &BTreeMap<String, Done>,
) -> Result<BTreeMap<OutputRef, Json>, String> {
    let mut values = BTreeMap::new();
    for read in &component.reads {
        let current = match upstream.get(&read.address) {
            Some(Done::Ok(Some(outputs))) => Some(outputs.clone()),
            _ => read_record(&shared.options.root, &read.address).map(|r| r.outputs),
        };
        let value = match current {
            Some(outputs) => outputs.get(&read.output).cloned(),
            None => None,
        };
        let value = match value {
            Some(value) => value,
            None if shared.options.mode == Mode::Plan => {
                match shared
                    .project
                    .component(&read.address)
                    .and_then(|u| u.mock_outputs.get(&read.output))
                {
                    Some(mock) => mock.clone(),
                    None => {
                        return Err(format!(
                            "`{}` has no value for `{}` yet: apply it first, or give it `mockOutputs.{}` to plan with",
                            read.address, read.output, read.output
                        ));
                    }
                }
            }
            None if read_record(&shared.options.root, &read.address).is_none()
                && !shared.selected.contains(&read.address) =>
            {
                return Err(format!(
                    "`{}` has never been applied: apply it first (or select it too)",
                    read.address
                ));
            }
            None => {
                let sensitive = read_record(&shared.options.root, &read.address)
                    .is_some_and(|r| r.sensitive_outputs.contains_key(&read.output));
                if sensitive {
                    return Err(format!(
                        "`{}.outputs.{}` is sensitive, and infra does not pass sensitive outputs \
                         between components: read it in the module with `infra.remoteState`",
                        read.address, read.output
                    ));
                }
                return Err(format!("`{}` has no output `{}`", read.address, read.output));
            }
        };
        values.insert(read.clone(), value);
    }
    Ok(values)
}

/// `init`, when `.terraform/` is missing or what init depends on (everything but the
/// variable files) changed since the last init.
async fn init_if_needed(
    ctx: &mut Ctx<'_>,
    built: &BuiltComponent,
    program: &Path,
    dir: &Path,
) -> Result<(), String> {
    let relevant: BTreeMap<&String, String> = built
        .files
        .iter()
        .filter(|(name, _)| !name.ends_with(".tfvars.json"))
        .map(|(k, v)| (k, v.to_hex()))
        .collect();
    let init_hash = Digest::of(&serde_json::to_vec(&relevant).unwrap_or_default()).to_hex();
    let current = std::fs::read_to_string(dir.join(INIT_HASH_FILE)).ok();
    if dir.join(".terraform").is_dir() && current.as_deref() == Some(init_hash.as_str()) {
        return Ok(());
    }
    let init = ctx.tool(program, "init", &["init", "-input=false", "-no-color"], dir).await?;
    if !init.success {
        return Err(format!("`init` failed: {}", first_error(&init)));
    }
    let _ = std::fs::write(dir.join(INIT_HASH_FILE), init_hash);
    Ok(())
}

async fn destroy(
    ctx: &mut Ctx<'_>,
    component: &Component,
    built: &BuiltComponent,
    program: &Path,
    dir: &Path,
) -> (ComponentResult, Done) {
    let root = ctx.shared.options.root.clone();
    let record = read_record(&root, ctx.address);
    if record.is_none() && !dir.join(".terraform").is_dir() {
        return (ctx.result(Status::UpToDate, None, Some("never applied".into())), Done::Ok(None));
    }
    // Destroy with the inputs of the last apply where known: upstream values from records.
    let values: BTreeMap<OutputRef, Json> = component
        .reads
        .iter()
        .map(|r| {
            let value = read_record(&root, &r.address)
                .and_then(|u| u.outputs.get(&r.output).cloned())
                .or_else(|| {
                    ctx.shared
                        .project
                        .component(&r.address)
                        .and_then(|u| u.mock_outputs.get(&r.output).cloned())
                })
                .unwrap_or(Json::String(String::new()));
            (r.clone(), value)
        })
        .collect();
    let resolved = resolve_inputs(component, &values).unwrap_or_default();
    // Destroying needs the same variables, secrets included.
    match decrypt_inputs(ctx.shared, component, &values) {
        Ok((env, scrub)) => {
            ctx.env = env;
            ctx.scrub = scrub;
        }
        Err(message) => return ctx.fail(message),
    }
    let file_inputs: serde_json::Map<String, Json> =
        resolved.into_iter().filter(|(_, v)| !crate::resolve::holds_secret(component, v)).collect();
    let upstream_file =
        (!file_inputs.is_empty()).then(|| canonical_json(&Json::Object(file_inputs)));
    if let Err(e) = crate::build::realise_component(&ctx.shared.store, built) {
        return ctx.fail(e.to_string());
    }
    if let Err(e) = workdir::sync(
        &ctx.shared.store,
        &built.workdir,
        &built.files,
        upstream_file.as_deref(),
        dir,
    ) {
        return ctx.fail(format!("cannot prepare the work directory `{}`: {e}", dir.display()));
    }
    if let Err(message) = init_if_needed(ctx, built, program, dir).await {
        return ctx.fail(message);
    }
    match ctx
        .tool(program, "destroy", &["destroy", "-input=false", "-no-color", "-auto-approve"], dir)
        .await
    {
        Ok(done) if done.success => {}
        Ok(done) => return ctx.fail(format!("`destroy` failed: {}", first_error(&done))),
        Err(message) => return ctx.fail(message),
    }
    if let Err(e) = remove_record(&root, ctx.address) {
        return ctx.fail(format!("destroyed, but the run record could not be removed: {e}"));
    }
    (ctx.result(Status::Destroyed, None, None), Done::Ok(None))
}

/// The tool's version, from `.infra/cache/tools.json` keyed by the binary's path, size and
/// modification time (so an up-to-date run starts no process), else `version -json`.
async fn tool_version(ctx: &mut Ctx<'_>, program: &Path) -> String {
    let shared = ctx.shared;
    let mut versions = shared.versions.lock().await;
    if let Some(version) = versions.get(program) {
        return version.clone();
    }
    let cache_path = ctx.shared.options.root.join(".infra").join("cache").join("tools.json");
    let identity = std::fs::metadata(program)
        .map(|m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("{}:{}:{modified}", program.display(), m.len())
        })
        .unwrap_or_default();
    let mut cache: BTreeMap<String, String> = std::fs::read(&cache_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let version = match cache.get(&identity) {
        Some(version) => version.clone(),
        None => {
            let dir = ctx.shared.options.root.clone();
            let version = match ctx.tool(program, "version", &["version", "-json"], &dir).await {
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
            let _ =
                std::fs::write(&cache_path, serde_json::to_vec_pretty(&cache).unwrap_or_default());
            version
        }
    };
    versions.insert(program.to_path_buf(), version.clone());
    version
}

/// The first `Error:` line Terraform printed, or the last line.
fn first_error(done: &process::Finished) -> String {
    let text = format!("{}\n{}", done.stderr, done.stdout);
    let line = text
        .lines()
        .map(|l| l.trim_start_matches(['│', ' ', '╷', '╵']).trim())
        .find(|l| l.starts_with("Error:"))
        .or_else(|| text.lines().rev().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("no output");
    line.to_owned()
}

fn seconds_since_epoch() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
