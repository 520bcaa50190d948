//! The executor of steps (`infra.step`) and readiness checks (`infra.wait`). The decision —
//! up to date, pending, run — is `component.rs`'s, as for every kind; this file only runs the
//! program: in the step's work directory (its `src`), with its inputs as `INFRA_INPUT_<NAME>`
//! (strings raw, anything else JSON), its `env`, secrets decrypted into the environment only
//! and scrubbed from the log, a time limit that kills the process group, retries on matching
//! output. The program may write a JSON object to `$INFRA_OUTPUTS`: those are its outputs,
//! recorded and read by other nodes exactly like a component's.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use evaluator::{Action, Check, HookWhen, Json, Step};

use super::{
    component::{Ctx, Prepared, Status},
    failure::{Failure, code},
    private::fetch_sensitive,
    secret_inputs::{collect_strings, decrypt, scrub_variants},
    steps::now,
};
use crate::{
    record::{RunRecord, mark_incomplete, read_record, remove_record, write_record},
    run::{ComponentResult, Done, Mode},
};

/// How much of a failed program's output a message quotes.
const TAIL: usize = 400;

/// A step that is not up to date: `drift` leaves it (a step has no reality to compare with),
/// `plan` says it would run (a `prePlan` hook runs: the plan may need what it makes), `apply`
/// runs it.
pub(crate) async fn run_mode(
    ctx: &mut Ctx<'_>,
    step: &Step,
    prepared: &Prepared,
    record: Option<RunRecord>,
) -> (ComponentResult, Done) {
    let at_plan = step.hook.as_ref().is_some_and(|h| h.when == HookWhen::PrePlan);
    match ctx.shared.options.mode {
        Mode::Drift => (
            ctx.result(Status::Changed, None, Some("not checked: a step".into())),
            Done::Ok(record.map(|r| r.outputs)),
        ),
        Mode::Plan if !at_plan => plan(ctx, step, prepared),
        Mode::Plan | Mode::Apply => apply(ctx, step, prepared).await,
        Mode::Destroy | Mode::Tool => {
            ctx.fail(Failure::new(code::INTERNAL, "destroy or tf reached the apply path"))
        }
    }
}

/// `infra plan` of a step that is not up to date: it would run (its readers wait for it).
/// `infra show` lists it.
pub(crate) fn plan(ctx: &mut Ctx<'_>, step: &Step, prepared: &Prepared) -> (ComponentResult, Done) {
    let what = match &step.action {
        Action::Run(argv) => format!("would run `{}`", short(&argv.join(" "))),
        Action::Wait { check, .. } => format!("would check {}", describe(check)),
    };
    let fingerprint = &prepared.fingerprint;
    let summary = crate::plan::PlanSummary::would_run(
        ctx.address,
        &what,
        fingerprint,
        &prepared.assumed,
        now(),
    );
    if let Err(e) = crate::plan::save(&ctx.shared.layout, &summary, "{}", None) {
        return ctx.fail(Failure::new(code::FILES, format!("cannot keep the plan: {e}")));
    }
    (ctx.result(Status::WouldRun, None, Some(what)), Done::WillRun)
}

/// `infra apply` of a step that is not up to date: runs it (or checks until ready) and records
/// its outputs.
pub(crate) async fn apply(
    ctx: &mut Ctx<'_>,
    step: &Step,
    prepared: &Prepared,
) -> (ComponentResult, Done) {
    match run(ctx, step, prepared).await {
        Ok(outputs) => {
            crate::plan::discard(&ctx.shared.layout, ctx.address);
            (ctx.result(Status::Applied, None, None), Done::Ok(Some(outputs)))
        }
        Err(failure) => ctx.fail(failure),
    }
}

async fn run(
    ctx: &mut Ctx<'_>,
    step: &Step,
    prepared: &Prepared,
) -> Result<BTreeMap<String, Json>, Failure> {
    let started = now();
    ctx.take_slot().await;
    let filled = environment(ctx, step, &prepared.values, &prepared.resolved).await?;
    prepare(ctx, step)?;
    let root = ctx.shared.options.root.clone();
    mark_incomplete(&root, ctx.address, &format!("a run began at {}", crate::time::utc(now())))
        .map_err(|e| Failure::new(code::FILES, format!("cannot mark the record: {e}")))?;
    // The outputs file lives in a private directory of its own, removed when done.
    let private = tempfile::Builder::new().prefix("infra-step-").tempdir().map_err(|e| {
        Failure::new(code::FILES, format!("cannot create a private directory: {e}"))
    })?;
    let outputs_file = private.path().join("outputs.json");
    let mut env = filled.env;
    env.push(("INFRA_OUTPUTS".to_owned(), outputs_file.display().to_string()));
    let timeout = step.timeout_ms.map(Duration::from_millis);
    let tool = match (&step.action, filled.action) {
        (Action::Run(_), Filled::Run(argv)) => {
            run_with_retries(ctx, step, &argv, &env, timeout).await?;
            argv.first().cloned().unwrap_or_default()
        }
        (Action::Wait { interval_ms, .. }, Filled::Check(check)) => {
            let interval = Duration::from_millis(*interval_ms);
            wait_until_ready(ctx, &check, &env, timeout, interval).await?;
            "wait".to_owned()
        }
        _ => return Err(Failure::new(code::INTERNAL, "a step's action changed while it ran")),
    };
    let outputs = read_outputs(ctx, &outputs_file)?;
    let missing: Vec<&String> =
        ctx.component.required_outputs.iter().filter(|n| !outputs.contains_key(*n)).collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
        return Err(Failure::new(
            code::OUTPUTS,
            format!("it wrote no required output {} to `$INFRA_OUTPUTS`", names.join(", ")),
        ));
    }
    let record =
        prepared.record(ctx, outputs.clone(), BTreeMap::new(), (tool, String::new()), started);
    write_record(&root, &record)
        .map_err(|e| Failure::new(code::FILES, format!("cannot write the record: {e}")))?;
    Ok(outputs)
}

/// What the step runs, with the upstream values, secrets and sensitive values filled in.
enum Filled {
    Run(Vec<String>),
    Check(Check),
}

struct Environment {
    env: Vec<(String, String)>,
    action: Filled,
}

/// The environment of a step (inputs, `env`, where it runs) and what it runs, filled in;
/// `ctx.scrub` gets every decrypted or sensitive value.
async fn environment(
    ctx: &mut Ctx<'_>,
    step: &Step,
    values: &BTreeMap<evaluator::OutputRef, Json>,
    resolved: &BTreeMap<String, Json>,
) -> Result<Environment, Failure> {
    let component = ctx.component;
    let secrets = if component.secrets.is_empty() {
        Vec::new()
    } else {
        decrypt(ctx.shared, component).map_err(|m| Failure::new(code::SECRET, m))?
    };
    // Sensitive upstream outputs, wherever a value reads one.
    let mut reading = resolved.clone();
    for (key, value) in &step.env {
        reading.insert(format!("env:{key}"), crate::resolve::substitute_values(value, values));
    }
    let sensitive = fetch_sensitive(ctx, &reading).await?;
    let fill = |template: &Json| {
        let value = crate::resolve::substitute_texts(template, &secrets);
        let value = crate::resolve::substitute_values(&value, values);
        crate::resolve::substitute_sensitive(&value, &sensitive)
    };
    let text = |value: Json| match value {
        Json::String(s) => s,
        other => other.to_string(),
    };
    let mut scrub = Vec::new();
    for (_, value) in &secrets {
        collect_strings(value, &mut scrub);
    }
    for value in sensitive.values() {
        collect_strings(value, &mut scrub);
    }
    ctx.scrub = scrub_variants(scrub);
    let (stack, name) = (&component.stack, &component.name);
    // A hook's component is its owner.
    let owner = step.hook.as_ref().map(|h| h.owner.rsplit('/').next().unwrap_or(&h.owner));
    let mut env = vec![
        ("INFRA_STACK".to_owned(), stack.clone()),
        ("INFRA_NODE".to_owned(), name.clone()),
        ("INFRA_COMPONENT".to_owned(), owner.unwrap_or(name).to_owned()),
        ("INFRA_WORKDIR".to_owned(), ctx.dir.display().to_string()),
        // Not part of the fingerprint: the same project in another directory is the same.
        ("INFRA_ROOT".to_owned(), ctx.shared.options.root.display().to_string()),
    ];
    for (key, template) in &component.inputs {
        env.push((format!("INFRA_INPUT_{}", key.to_ascii_uppercase()), text(fill(template))));
    }
    for (key, template) in &step.env {
        env.push((key.clone(), text(fill(template))));
    }
    // Arguments show in the process list and in the log's command line: a sensitive upstream
    // output has no place there.
    let sensitive_in = |texts: &[&String]| {
        texts.iter().any(|t| {
            crate::resolve::holds_sensitive(&crate::resolve::substitute_values(
                &Json::String((*t).clone()),
                values,
            ))
        })
    };
    let texts: Vec<&String> = match &step.action {
        Action::Run(argv) => argv.iter().collect(),
        Action::Wait { check: Check::Command(argv), .. } => argv.iter().collect(),
        Action::Wait { check: Check::Http(t) | Check::Tcp(t), .. } => vec![t],
    };
    if sensitive_in(&texts) {
        return Err(Failure::new(
            code::UPSTREAM,
            "a sensitive upstream output cannot be an argument or a check: pass it in `inputs` \
             or `env`",
        ));
    }
    let fill_all = |argv: &[String]| -> Vec<String> {
        argv.iter().map(|a| text(fill(&Json::String(a.clone())))).collect()
    };
    let action = match &step.action {
        Action::Run(argv) => Filled::Run(fill_all(argv)),
        Action::Wait { check, .. } => Filled::Check(match check {
            Check::Command(argv) => Check::Command(fill_all(argv)),
            Check::Http(url) => Check::Http(text(fill(&Json::String(url.clone())))),
            Check::Tcp(address) => Check::Tcp(text(fill(&Json::String(address.clone())))),
        }),
    };
    Ok(Environment { env, action })
}

/// The work directory, realised from the store: the step's `src`, or a hook's component's
/// files (its upstream inputs file, written by the component's run, left as it is).
fn prepare(ctx: &mut Ctx<'_>, step: &Step) -> Result<(), Failure> {
    let fail = |message: String| Failure::new(code::FILES, message);
    crate::build::realise_component(&ctx.shared.store, ctx.built)
        .map_err(|e| fail(e.to_string()))?;
    let upstream = match step.hook {
        Some(_) => crate::workdir::UpstreamFile::Keep,
        None => crate::workdir::UpstreamFile::Absent,
    };
    let built = ctx.built;
    crate::workdir::sync(&ctx.shared.store, &built.workdir, &built.files, upstream, &ctx.dir)
        .map_err(|e| {
            fail(format!("cannot prepare the work directory `{}`: {e}", ctx.dir.display()))
        })
}

/// A program named with a `/` runs from the work directory (`./build.sh`); a bare name is
/// looked up on `PATH`.
fn program(ctx: &Ctx<'_>, name: &str) -> PathBuf {
    let path = PathBuf::from(name);
    if name.contains('/') && path.is_relative() { ctx.dir.join(path) } else { path }
}

/// Runs the program; a failure is tried again while attempts remain and, with `retries.on`,
/// only when its output matches.
async fn run_with_retries(
    ctx: &mut Ctx<'_>,
    step: &Step,
    argv: &[String],
    env: &[(String, String)],
    timeout: Option<Duration>,
) -> Result<(), Failure> {
    let pattern = match &step.retries.on {
        Some(on) => Some(regex::Regex::new(on).map_err(|e| {
            Failure::new(code::INTERNAL, format!("`retries.on` is not a regular expression: {e}"))
        })?),
        None => None,
    };
    let attempts = step.retries.attempts.max(1);
    // A hook is shown as its commands, as written.
    let (shown, failed_code) = match &step.hook {
        Some(hook) => {
            let commands = if argv.len() == 3 { &argv[2..] } else { argv.get(4..).unwrap_or(&[]) };
            (format!("the {} hook `{}`", hook.when.name(), commands.join("; ")), code::HOOK)
        }
        None => (format!("`{}`", argv.join(" ")), code::STEP),
    };
    for attempt in 1..=attempts {
        let done =
            ctx.run_program("run", &program(ctx, &argv[0]), &argv[1..], env, timeout).await?;
        if done.success {
            if attempt > 1 {
                ctx.notes.push(format!("succeeded at attempt {attempt} of {attempts}"));
            }
            return Ok(());
        }
        let output = format!("{}{}", done.stdout, done.stderr);
        let retry = attempt < attempts && pattern.as_ref().is_none_or(|p| p.is_match(&output));
        let failure = if done.timed_out {
            let limit = timeout.map(|t| format!("{t:?}")).unwrap_or_default();
            Failure::new(
                code::TIMEOUT,
                format!("{shown} ran past its timeout of {limit}: its process group was killed"),
            )
        } else {
            let status = done.code.map_or("a signal".to_owned(), |c| format!("status {c}"));
            Failure::new(failed_code, format!("{shown} exited with {status}{}", tail(&output)))
        };
        if !retry {
            let mut failure = failure;
            if attempts > 1 {
                let why =
                    if attempt < attempts { ", its output did not match `retries.on`" } else { "" };
                failure.message.push_str(&format!(" (attempt {attempt} of {attempts}{why})"));
            }
            return Err(failure);
        }
        ctx.notes.push(format!("attempt {attempt} failed: {}", failure.message));
        tokio::time::sleep(Duration::from_millis(step.retries.delay_ms)).await;
    }
    Err(Failure::new(code::INTERNAL, "no attempt was made"))
}

/// A command line for one line of a message: up to its first line break, at most 80
/// characters.
fn short(command: &str) -> String {
    let line = command.lines().next().unwrap_or_default().trim_end();
    let cut: String = line.chars().take(80).collect();
    if cut.len() < command.trim_end().len() { format!("{cut}…") } else { cut }
}

/// The end of a program's output, for a message: its last lines, at most `TAIL` bytes.
fn tail(output: &str) -> String {
    let trimmed = output.trim_end();
    if trimmed.is_empty() {
        return String::new();
    }
    let mut start = trimmed.len().saturating_sub(TAIL);
    while !trimmed.is_char_boundary(start) {
        start += 1;
    }
    let shown = &trimmed[start..];
    let shown =
        if start > 0 { shown.split_once('\n').map_or(shown, |(_, rest)| rest) } else { shown };
    format!(":\n{shown}")
}

/// Repeats the check every `interval` until it succeeds; fails at the timeout.
async fn wait_until_ready(
    ctx: &mut Ctx<'_>,
    check: &Check,
    env: &[(String, String)],
    timeout: Option<Duration>,
    interval: Duration,
) -> Result<(), Failure> {
    if let Check::Http(url) = check
        && !url.starts_with("http://")
    {
        return Err(Failure::new(
            code::STEP,
            format!(
                "`{url}` is not an `http://` URL: check HTTPS with a command (`curl -fsS URL`)"
            ),
        ));
    }
    let limit = timeout.unwrap_or(Duration::from_secs(300));
    let deadline = tokio::time::Instant::now() + limit;
    let mut tries = 0;
    loop {
        tries += 1;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let outcome = match check {
            Check::Command(argv) => {
                let done = ctx
                    .run_program("check", &program(ctx, &argv[0]), &argv[1..], env, Some(left))
                    .await?;
                if done.success {
                    Ok(())
                } else {
                    Err(format!("`{}` failed{}", argv.join(" "), tail(&done.stderr)))
                }
            }
            Check::Http(url) => super::probe::http(url, left.min(Duration::from_secs(10))).await,
            Check::Tcp(address) => {
                super::probe::tcp(address, left.min(Duration::from_secs(10))).await
            }
        };
        match outcome {
            Ok(()) => {
                ctx.notes.push(format!(
                    "ready after {tries} check{}",
                    if tries == 1 { "" } else { "s" }
                ));
                return Ok(());
            }
            Err(why) => {
                if ctx.shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(Failure::new(code::STOPPED, "the run was stopped"));
                }
                if tokio::time::Instant::now() + interval >= deadline {
                    return Err(Failure::new(
                        code::TIMEOUT,
                        format!(
                            "{} was not ready after {limit:?} ({tries} checks); last: {why}",
                            describe(check)
                        ),
                    ));
                }
                tokio::time::sleep(interval).await;
            }
        }
    }
}

fn describe(check: &Check) -> String {
    match check {
        Check::Command(argv) => format!("`{}`", argv.join(" ")),
        Check::Http(url) => url.clone(),
        Check::Tcp(address) => format!("tcp {address}"),
    }
}

/// The JSON object the program wrote to `$INFRA_OUTPUTS` (none: no outputs). A value holding
/// a secret is refused: a step passes secrets on to nobody.
fn read_outputs(ctx: &Ctx<'_>, path: &std::path::Path) -> Result<BTreeMap<String, Json>, Failure> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(Failure::new(code::OUTPUTS, format!("cannot read `$INFRA_OUTPUTS`: {e}")));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(BTreeMap::new());
    }
    let outputs: BTreeMap<String, Json> = match serde_json::from_slice::<Json>(&bytes) {
        Ok(Json::Object(map)) => map.into_iter().collect(),
        Ok(_) | Err(_) => {
            return Err(Failure::new(
                code::OUTPUTS,
                "`$INFRA_OUTPUTS` holds something that is not a JSON object",
            ));
        }
    };
    for (name, value) in &outputs {
        let mut strings = Vec::new();
        collect_strings(value, &mut strings);
        if strings.iter().any(|text| ctx.scrub.iter().any(|s| text.contains(s.as_str()))) {
            return Err(Failure::new(
                code::OUTPUTS,
                format!(
                    "output `{name}` holds a secret: a step's outputs are recorded and shared, so \
                     read the secret with `infra.secret` where it is needed instead"
                ),
            ));
        }
    }
    Ok(outputs)
}

/// `infra destroy` of a step: its `destroy` program (if any) with its recorded outputs as
/// `INFRA_OUTPUT_<NAME>`, then its record is removed.
pub(crate) async fn destroy(ctx: &mut Ctx<'_>, step: &Step) -> (ComponentResult, Done) {
    let root = ctx.shared.options.root.clone();
    let Some(record) = read_record(&root, ctx.address) else {
        return (ctx.result(Status::UpToDate, None, Some("never applied".into())), Done::Ok(None));
    };
    if !step.destroy.is_empty() {
        let values = super::destroy::recorded_values(ctx);
        let resolved = crate::resolve::resolve_inputs(ctx.component, &values).unwrap_or_default();
        let filled = match environment(ctx, step, &values, &resolved).await {
            Ok(filled) => filled,
            Err(failure) => return ctx.fail(failure),
        };
        let mut env = filled.env;
        for (name, value) in &record.outputs {
            let text = match value {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            env.push((format!("INFRA_OUTPUT_{}", name.to_ascii_uppercase()), text));
        }
        if let Err(failure) = prepare(ctx, step) {
            return ctx.fail(failure);
        }
        if let Err(e) = mark_incomplete(
            &root,
            ctx.address,
            &format!("a destroy began at {}", crate::time::utc(now())),
        ) {
            return ctx.fail(Failure::new(code::FILES, format!("cannot mark the record: {e}")));
        }
        let argv = &step.destroy;
        let timeout = step.timeout_ms.map(Duration::from_millis);
        let program = program(ctx, &argv[0]);
        match ctx.run_program("destroy", &program, &argv[1..], &env, timeout).await {
            Ok(done) if done.success => {}
            Ok(done) => {
                let output = format!("{}{}", done.stdout, done.stderr);
                return ctx.fail(Failure::new(
                    code::DESTROY,
                    format!("`{}` failed{}", argv.join(" "), tail(&output)),
                ));
            }
            Err(failure) => return ctx.fail(failure),
        }
    }
    if let Err(e) = remove_record(&root, ctx.address) {
        return ctx.fail(Failure::new(code::FILES, format!("cannot remove the record: {e}")));
    }
    (ctx.result(Status::Destroyed, None, None), Done::Ok(None))
}
