//! What a plan will do, for people: per component its resource changes (deletions and
//! replacements marked), its output changes, what its policies said, and the components
//! pending on an upstream's apply; Terraform's diagnostics in full. Used by `plan`, `apply` (before it asks), `show`
//! and `drift`.

use runner::{
    ComponentResult, Status,
    plan::{Action, OutputChange, PlanChanges},
    tool_diagnostics::{Severity, ToolDiagnostic},
};

/// Paints text when colour is on.
#[derive(Clone, Copy)]
pub(crate) struct Paint(pub(crate) bool);

impl Paint {
    fn code(self, code: &str, text: &str) -> String {
        if self.0 { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    pub(crate) fn red(self, text: &str) -> String {
        self.code("31", text)
    }

    pub(crate) fn green(self, text: &str) -> String {
        self.code("32", text)
    }

    pub(crate) fn yellow(self, text: &str) -> String {
        self.code("33", text)
    }

    pub(crate) fn bold(self, text: &str) -> String {
        self.code("1", text)
    }
}

/// The changes of one plan, indented under its component's line.
pub(crate) fn changes(plan: &PlanChanges, paint: Paint) -> String {
    let mut text = String::new();
    for resource in &plan.resources {
        let line = format!(
            "    {:>3} {} ({})",
            resource.action.sign(),
            resource.address,
            resource.action.name()
        );
        let line = match resource.action {
            Action::Delete => paint.red(&line),
            Action::Replace => paint.red(&format!("{line}  ← replaced")),
            Action::Create => paint.green(&line),
            Action::Update => paint.yellow(&line),
            Action::Read => line,
        };
        text.push_str(&line);
        text.push('\n');
    }
    for output in &plan.outputs {
        text.push_str(&format!(
            "    {:>3} output {}\n",
            output.action.sign(),
            describe_output(output)
        ));
    }
    text
}

fn describe_output(output: &OutputChange) -> String {
    let value =
        |v: &Option<serde_json::Value>| v.as_ref().map_or("null".to_owned(), ToString::to_string);
    if output.sensitive {
        return format!("{} (sensitive)", output.name);
    }
    let after =
        if output.unknown { "(known after apply)".to_owned() } else { value(&output.after) };
    match output.action {
        Action::Create => format!("{} = {after}", output.name),
        Action::Delete => format!("{} (removed)", output.name),
        _ => format!("{} = {} → {after}", output.name, value(&output.before)),
    }
}

/// `+1 ~0 -1, 2 outputs` or `no changes`.
pub(crate) fn counts(plan: &PlanChanges) -> String {
    if plan.is_empty() {
        return "no changes".to_owned();
    }
    let (add, change, destroy) = plan.counts();
    let mut text = format!("+{add} ~{change} -{destroy}");
    let outputs = plan.outputs.len();
    if outputs > 0 {
        text.push_str(&format!(", {outputs} output{}", if outputs == 1 { "" } else { "s" }));
    }
    text
}

/// The review of a plan run: every component that would change or waits, with its changes.
pub(crate) fn review(results: &[ComponentResult], paint: Paint) -> String {
    let mut text = String::new();
    for r in results {
        match (r.status, &r.plan) {
            (Status::Planned | Status::Drifted | Status::Denied | Status::Waiting, Some(plan))
                if !plan.is_empty() =>
            {
                let destroys = if plan.destroys() {
                    paint.red(" (destroys or replaces)")
                } else {
                    String::new()
                };
                let judged = match r.status {
                    Status::Denied => paint.red(" — denied by policy"),
                    Status::Waiting => paint.yellow(" — waiting"),
                    _ => String::new(),
                };
                text.push_str(&format!(
                    "{}: {}{destroys}{judged}\n",
                    paint.bold(&r.address),
                    counts(plan)
                ));
                text.push_str(&changes(plan, paint));
                text.push_str(&verdicts(&r.verdicts, paint));
                for note in &r.notes {
                    text.push_str(&format!("    note: {note}\n"));
                }
            }
            (Status::Planned, _) if r.unfinished.is_some() => {
                let why = r.unfinished.as_deref().unwrap_or_default();
                text.push_str(&format!(
                    "{}: no changes, but its last apply did not finish ({why}): `infra apply` finishes it\n",
                    paint.bold(&r.address)
                ));
            }
            (Status::WouldRun, _) => {
                let what = r.message.as_deref().unwrap_or("would run");
                text.push_str(&format!("{}: {what}\n", paint.bold(&r.address)));
            }
            (Status::Pending, _) => {
                let why = r.message.as_deref().unwrap_or("waits for an upstream's apply");
                text.push_str(&format!("{}: pending — {why}\n", paint.bold(&r.address)));
            }
            _ => {}
        }
    }
    text
}

/// What the policies said, one line each (`deny` red, `wait` and `warn` yellow).
pub(crate) fn verdicts(verdicts: &[evaluator::Verdict], paint: Paint) -> String {
    let mut text = String::new();
    for v in verdicts {
        let at = v.address.as_ref().map(|a| format!(" ({a})")).unwrap_or_default();
        let line = format!("    {} (policy {}): {}{at}", v.kind.name(), v.policy, v.message);
        let line = match v.kind {
            evaluator::VerdictKind::Deny => paint.red(&line),
            _ => paint.yellow(&line),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// Terraform's errors and warnings of every component, in full (warnings after errors).
pub(crate) fn diagnostics(results: &[ComponentResult], paint: Paint) -> String {
    let mut text = String::new();
    for severity in [Severity::Error, Severity::Warning] {
        for r in results {
            for d in r.diagnostics.iter().filter(|d| d.severity == severity) {
                text.push_str(&diagnostic(&r.address, d, paint));
            }
        }
    }
    text
}

fn diagnostic(address: &str, d: &ToolDiagnostic, paint: Paint) -> String {
    let what = match d.severity {
        Severity::Error => paint.red("error"),
        Severity::Warning => paint.yellow("warning"),
    };
    let mut text = format!("{what}[{address}]: {}\n", d.summary);
    if let Some(at) = d.location() {
        text.push_str(&format!("  --> {at}\n"));
    }
    for line in d.detail.lines() {
        text.push_str(&format!("  {line}\n"));
    }
    text
}
