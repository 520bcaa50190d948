//! Where a project's spec errors are shown, and how many: an error about one attribute on
//! that attribute, a missing directory with the nearest one beside it, and every component's
//! error collected, each once, rather than only the first.

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    suggest::did_you_mean,
    value::{Attrs, Thunk, Value},
};

/// The errors of several components' specs, each kept once (a component placed in two
/// stacks fails the same way in both), at most `MAX_ERRORS`.
#[derive(Default)]
pub(super) struct Errors(Vec<EvalError>);

const MAX_ERRORS: usize = 20;

impl Errors {
    pub(super) fn add(&mut self, error: EvalError) {
        // The same problem: the same text (a spec's without its address, which differs
        // between stacks) at the same place in its file (an imported file that fails is
        // loaded again for each stack, under another file id).
        let what = |e: &EvalError| match &e.kind {
            ErrorKind::InvalidSpec { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let same = |e: &EvalError| {
            e.span.map(|s| s.range) == error.span.map(|s| s.range)
                && e.kind.code() == error.kind.code()
                && what(e) == what(&error)
                && e.help == error.help
        };
        if self.0.len() < MAX_ERRORS && !self.0.iter().any(same) {
            self.0.push(error);
        }
    }

    /// The first error, carrying the others.
    pub(super) fn into_result(self) -> EvalResult<()> {
        let mut errors = self.0.into_iter();
        let Some(mut first) = errors.next() else { return Ok(()) };
        first.also.extend(errors);
        Err(Box::new(first))
    }
}

/// An error about one attribute of a spec (its message starts with the attribute's path,
/// `` `retries.delay` is … ``) placed where the spec's set literal writes that attribute, as
/// deep as the path's sets are literals already computed, rather than on the whole
/// declaration.
pub(super) fn on_attribute(
    m: &mut Machine,
    spec: &Value,
    declared: Span,
    mut error: Box<EvalError>,
) -> Box<EvalError> {
    let ErrorKind::InvalidSpec { message, .. } = &error.kind else { return error };
    let (Value::Attrs(spec), Some(path)) = (spec, message.strip_prefix('`')) else {
        return error;
    };
    if error.span != Some(declared) {
        return error;
    }
    let path = path.split('`').next().unwrap_or_default().to_owned();
    let mut attrs = spec.clone();
    for segment in path.split('.') {
        let name = segment.trim_matches('"');
        let Some(at) = written_at(m, &attrs, name) else { break };
        error.span = Some(at);
        match attrs.get(name).and_then(Thunk::get) {
            Some(Value::Attrs(inner)) => attrs = inner,
            _ => break,
        }
    }
    error
}

/// For a directory that does not exist, a directory beside it whose name is close.
pub(super) fn missing_directory(m: &mut Machine, path: &std::path::Path) -> Option<String> {
    let (parent, name) = (path.parent()?, path.file_name()?.to_str()?);
    let entries = m.io.read_dir(parent).ok()?;
    let directories = entries.iter().filter(|(_, kind)| *kind == "directory");
    let near = did_you_mean(name, directories.map(|(entry, _)| entry.as_str()))?;
    Some(format!("did you mean `{}`?", parent.join(near).display()))
}

/// Where the set literal that made `attrs` writes `name` (an error about one attribute is
/// placed on it rather than on the whole declaration).
pub(super) fn written_at(m: &mut Machine, attrs: &Attrs, name: &str) -> Option<Span> {
    attrs.origin().and_then(|origin| m.attr_span(origin, name))
}
