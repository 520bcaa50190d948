//! Terraform's own errors and warnings, in full: read from its machine-readable UI (`-json`,
//! one JSON object per line) where the command offers it, else from its human text (the
//! `╷ Error: … ╵` blocks), with the file mapped from the work directory back to the module
//! file in the project.

use std::path::Path;

use evaluator::Json;
use serde::Serialize;

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One diagnostic Terraform printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolDiagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    /// The file (relative to the project root when it is a module file, else to the work
    /// directory), line and column, when Terraform gave them.
    pub file: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

impl ToolDiagnostic {
    /// `main.tf:3:5` or nothing.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        Some(match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            (Some(line), None) => format!("{file}:{line}"),
            _ => file.clone(),
        })
    }

    /// One line: `Error: summary (file:line)`.
    pub fn headline(&self) -> String {
        let what = match self.severity {
            Severity::Error => "Error",
            Severity::Warning => "Warning",
        };
        match self.location() {
            Some(at) => format!("{what}: {} ({at})", self.summary),
            None => format!("{what}: {}", self.summary),
        }
    }
}

/// Reads Terraform's `-json` UI lines: the diagnostics, and the text for the log (each line's
/// `@message`, diagnostics with their detail). Lines that are not JSON are kept as they are.
pub(crate) fn from_json_lines(stdout: &str) -> (Vec<ToolDiagnostic>, String) {
    let mut diagnostics = Vec::new();
    let mut log = String::new();
    for line in stdout.lines() {
        let Ok(event) = serde_json::from_str::<Json>(line) else {
            log.push_str(line);
            log.push('\n');
            continue;
        };
        if event.get("type").and_then(Json::as_str) == Some("diagnostic")
            && let Some(d) = event.get("diagnostic").and_then(diagnostic_from_json)
        {
            log.push_str(&d.headline());
            log.push('\n');
            for detail in d.detail.lines() {
                log.push_str(&format!("  {detail}\n"));
            }
            diagnostics.push(d);
            continue;
        }
        if let Some(message) = event.get("@message").and_then(Json::as_str) {
            log.push_str(message);
            log.push('\n');
        }
    }
    (diagnostics, log)
}

fn diagnostic_from_json(d: &Json) -> Option<ToolDiagnostic> {
    let severity = match d.get("severity").and_then(Json::as_str)? {
        "error" => Severity::Error,
        _ => Severity::Warning,
    };
    let range = d.get("range");
    Some(ToolDiagnostic {
        severity,
        summary: d.get("summary").and_then(Json::as_str).unwrap_or_default().to_owned(),
        detail: d.get("detail").and_then(Json::as_str).unwrap_or_default().trim().to_owned(),
        file: range.and_then(|r| r.get("filename")).and_then(Json::as_str).map(str::to_owned),
        line: range.and_then(|r| r.pointer("/start/line")).and_then(Json::as_u64),
        column: range.and_then(|r| r.pointer("/start/column")).and_then(Json::as_u64),
    })
}

/// Reads the diagnostics of Terraform's human output (`-no-color`): blocks that start with
/// `Error:` or `Warning:`, framed by `╷ │ ╵` on a terminal-less run, with an `on FILE line N`
/// line when there is a source location.
pub(crate) fn from_text(text: &str) -> Vec<ToolDiagnostic> {
    let mut diagnostics: Vec<ToolDiagnostic> = Vec::new();
    let mut current: Option<ToolDiagnostic> = None;
    let mut in_snippet = false;
    for raw in text.lines() {
        let line = raw.trim_start_matches(['│', '╷', '╵']).trim_start_matches(' ');
        let trimmed = line.trim();
        let start = |severity, summary: &str| ToolDiagnostic {
            severity,
            summary: summary.trim().to_owned(),
            detail: String::new(),
            file: None,
            line: None,
            column: None,
        };
        if let Some(summary) = trimmed.strip_prefix("Error: ") {
            diagnostics.extend(current.take());
            current = Some(start(Severity::Error, summary));
            in_snippet = false;
            continue;
        }
        if let Some(summary) = trimmed.strip_prefix("Warning: ") {
            diagnostics.extend(current.take());
            current = Some(start(Severity::Warning, summary));
            in_snippet = false;
            continue;
        }
        let Some(d) = current.as_mut() else { continue };
        if raw.starts_with('╵') {
            diagnostics.extend(current.take());
            continue;
        }
        if d.file.is_none()
            && d.detail.is_empty()
            && let Some(rest) = trimmed.strip_prefix("on ")
            && let Some((file, after)) = rest.split_once(" line ")
        {
            d.file = Some(file.to_owned());
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            d.line = digits.parse().ok();
            in_snippet = true;
            continue;
        }
        if in_snippet {
            // The source snippet (`  3: variable "x" {`) ends at the first blank line.
            if trimmed.is_empty() {
                in_snippet = false;
            }
            continue;
        }
        if trimmed.is_empty() && d.detail.is_empty() {
            continue;
        }
        if !d.detail.is_empty() {
            d.detail.push('\n');
        }
        d.detail.push_str(trimmed);
    }
    diagnostics.extend(current);
    for d in &mut diagnostics {
        d.detail = d.detail.trim().to_owned();
    }
    diagnostics
}

/// Rewrites each diagnostic's file from the work directory to the module file in the project
/// it was copied from (relative to `root`), or the template it was rendered from; another
/// file infra generated (`backend.tf.json`, a file of `files`) is named in the work directory
/// (`workdir`), where it can be read.
pub(crate) fn map_files(
    diagnostics: &mut [ToolDiagnostic],
    component: &evaluator::Component,
    root: &Path,
    workdir: &Path,
) {
    let Some(terraform) = component.terraform() else { return };
    for d in diagnostics.iter_mut() {
        // Terraform's advice for an unset variable is about its own command line; here a
        // variable is given in the component's `inputs`.
        // (Its human text wraps the sentence, so it is found by its ends.)
        if d.summary == "No value for required variable"
            && let Some(start) = d.detail.find("Use a -var or -var-file")
            && let Some(end) = d.detail[start..].find("variable.")
        {
            let ours = format!("Give it a value in the `inputs` of `{}`.", component.address());
            d.detail.replace_range(start..start + end + "variable.".len(), &ours);
        }
        // A value of the wrong type is reported at the generated variables file: say where
        // it comes from, and how to see it.
        // (Terraform 1.0 writes `for variable "NAME"`, later ones `for var.NAME declared`.)
        let named = |detail: &str| {
            if let Some(rest) = detail.split("for variable \"").nth(1) {
                return rest.split('"').next().map(str::to_owned);
            }
            let rest = detail.split("var.").nth(1)?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            (!name.is_empty()).then_some(name)
        };
        if d.summary == "Invalid value for input variable"
            && let Some(name) = named(&d.detail)
        {
            let (address, stack, node) =
                (component.address(), &component.stack, component.name.as_str());
            d.detail.push_str(&format!(
                "\n`{name}` is an input of `{address}`: `infra eval {stack}.{node}.inputs.{name}` \
                 shows the value it was given."
            ));
        }
    }
    for d in diagnostics {
        let Some(file) = &d.file else { continue };
        // A template's output keeps its lines (unless a value spans lines): its template.
        let template = terraform.templates.get(file).filter(|p| p.is_file()).cloned();
        let original = terraform
            .source
            .as_ref()
            .filter(|_| !terraform.files.contains_key(file))
            .map(|s| s.join(file))
            .filter(|p| p.is_file())
            .or(template);
        let shown = original.unwrap_or_else(|| workdir.join(file));
        if shown.is_file() {
            let shown = shown.strip_prefix(root).unwrap_or(&shown);
            d.file = Some(shown.display().to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_diagnostics() {
        let stdout = concat!(
            r#"{"@level":"info","@message":"Terraform 1.0.3","type":"version"}"#,
            "\n",
            r#"{"@level":"error","@message":"Error: No value for required variable","type":"diagnostic","diagnostic":{"severity":"error","summary":"No value for required variable","detail":"The root module input variable \"name\" is not set.","range":{"filename":"variables.tf","start":{"line":1,"column":1}}}}"#,
            "\n"
        );
        let (diagnostics, log) = from_json_lines(stdout);
        assert_eq!(diagnostics.len(), 1);
        let d = &diagnostics[0];
        assert_eq!(d.severity, Severity::Error);
        assert!(d.detail.contains("\"name\""));
        assert_eq!(d.location().as_deref(), Some("variables.tf:1:1"));
        assert!(log.starts_with("Terraform 1.0.3\nError: No value for required variable"), "{log}");
    }

    #[test]
    fn reads_text_blocks() {
        let text = "Initializing...\n╷\n│ Error: Unsupported block type\n│ \n│   on main.tf line 4:\n│    4: resurce \"x\" \"y\" {\n│ \n│ Blocks of type \"resurce\" are not expected here.\n│ Did you mean \"resource\"?\n╵\n╷\n│ Warning: Something\n│ \n│ More.\n╵\n";
        let diagnostics = from_text(text);
        assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");
        assert_eq!(diagnostics[0].summary, "Unsupported block type");
        assert_eq!(diagnostics[0].file.as_deref(), Some("main.tf"));
        assert_eq!(diagnostics[0].line, Some(4));
        assert_eq!(
            diagnostics[0].detail,
            "Blocks of type \"resurce\" are not expected here.\nDid you mean \"resource\"?"
        );
        assert_eq!(diagnostics[1].severity, Severity::Warning);
        assert_eq!(diagnostics[1].detail, "More.");
    }
}
