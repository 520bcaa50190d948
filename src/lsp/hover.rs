//! Hover: where a variable is bound (and its value when the binding needs nothing else), and,
//! inside an `infra.component` call of a project's `main.infra`, what that component is given
//! in every stack — its evaluated inputs, from the last evaluation of the project (on open and
//! on save; nothing is evaluated while hovering).

use std::{collections::BTreeMap, ops::Range, path::PathBuf};

use evaluator::{Evaluator, PrintMode, Project};
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};

use crate::io::RealIo;

/// A component placed in a stack, by where the file declares it.
pub(crate) struct Placed {
    range: Range<usize>,
    address: String,
    inputs: String,
}

/// The components of `project` declared in the file named `file` (as the evaluator names it).
pub(crate) fn placed(evaluator: &Evaluator, project: &Project, file: &str) -> Vec<Placed> {
    let mut placed = Vec::new();
    for component in project.stacks.iter().flat_map(|s| &s.components) {
        let Some(span) = component.span else { continue };
        if evaluator.sources().name(span.file) != file || component.name.contains('.') {
            continue; // declared elsewhere, or a hook (`app.postApply`) of its owner
        }
        let inputs: BTreeMap<_, _> = component.inputs.iter().collect();
        let inputs = serde_json::to_string_pretty(&inputs).unwrap_or_default();
        placed.push(Placed {
            range: span.range.into(),
            address: format!("{}/{}", component.stack, component.name),
            inputs,
        });
    }
    placed
}

/// The hover at byte offset `at` of `text`.
pub(crate) fn hover(uri: &str, text: &str, at: usize, placed: &[Placed]) -> Option<Hover> {
    let mut parts = Vec::new();
    if let Some(binding) = binding(uri, text, at) {
        parts.push(binding);
    }
    // The innermost declaration around `at`, in every stack that places it.
    let innermost = placed
        .iter()
        .filter(|p| p.range.contains(&at))
        .map(|p| p.range.clone())
        .min_by_key(|r| r.len());
    if let Some(range) = innermost {
        for p in placed.iter().filter(|p| p.range == range) {
            let inputs: String = p.inputs.lines().take(40).collect::<Vec<_>>().join("\n");
            parts.push(format!("**{}** inputs:\n```json\n{inputs}\n```", p.address));
        }
    }
    if parts.is_empty() {
        return None;
    }
    let value = parts.join("\n\n---\n\n");
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
        range: None,
    })
}

/// The binding of the variable at `at`, and its value when it needs nothing else.
fn binding(uri: &str, text: &str, at: usize) -> Option<String> {
    let range = lang::ide::definition(text, at)?;
    let (start, end) = (usize::from(range.start()), usize::from(range.end()));
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let line = text[line_start..line_end].trim();
    let mut value = format!("```nix\n{line}\n```");
    if let Some(expr) = line.split_once('=').map(|(_, rhs)| rhs.trim().trim_end_matches(';')) {
        let base = super::path_of(uri).and_then(|p| p.parent().map(PathBuf::from));
        let mut evaluator = Evaluator::new(Box::new(RealIo::default()));
        if let Ok(v) = evaluator.eval_text("(hover)", expr, base.unwrap_or_default())
            && let Ok(shown) = evaluator.print(&v, PrintMode::Lazy)
        {
            let shown: String = shown.chars().take(300).collect();
            value.push_str(&format!("\n\nvalue: `{shown}`"));
        }
    }
    Some(value)
}
