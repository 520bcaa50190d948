//! `infra eval STACK.COMPONENT.…`: a path into the project's value where a component is
//! its spec as placed in that stack (with the stack's context applied).

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    project::extract::{StackDecl, place, stack_decl, stack_head, tag},
    suggest::did_you_mean,
    value::{Attrs, Thunk, Value},
};

/// `infra eval dev.gke.inputs`: selects `path` in the project, where a stack's component is
/// reached by its name and is its spec, placed in the stack.
pub(crate) fn select(
    m: &mut Machine,
    root: &Value,
    path: &[String],
    root_span: Span,
) -> EvalResult<Value> {
    let mut value = root.clone();
    let mut stack: Option<StackDecl> = None;
    for (depth, name) in path.iter().enumerate() {
        let mut components = Vec::new();
        if let Some(decl) = stack.take() {
            if let Some(component) = decl.components.iter().find(|c| c.name == *name) {
                value = place(m, &decl, component)?;
                continue;
            }
            components = decl.components.into_iter().map(|c| c.name).collect();
        }
        let Value::Attrs(attrs) = &value else {
            return Err(EvalError::new(
                ErrorKind::TypeError { expected: "a set", got: value.describe() },
                Some(root_span),
            )
            .with_help(format!("while selecting `{name}`")));
        };
        // A stack is also found by its own name (`dev` for `development = infra.stack "dev"`),
        // as addresses (`dev/app`) name it.
        let found = match attrs.get(name).cloned() {
            None if depth == 0 => stack_named(m, attrs, name)?,
            found => found,
        };
        let Some(thunk) = found else {
            // The path came from the command line: no place in a file to show, but what
            // there is to select.
            let mut error =
                EvalError::new(ErrorKind::MissingAttribute { name: name.clone() }, None);
            let mut names: Vec<&str> =
                attrs.names().chain(components.iter().map(String::as_str)).collect();
            names.sort_unstable();
            names.dedup();
            error.help = Some(match did_you_mean(name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    let within = match depth {
                        0 => "the project".to_owned(),
                        _ => format!("`{}`", path[..depth].join(".")),
                    };
                    // Internal names (`__decl`, `_type`) are not worth listing.
                    let listed: Vec<&str> =
                        names.iter().copied().filter(|n| !n.starts_with('_')).collect();
                    let shown: Vec<String> =
                        listed.iter().take(20).map(|n| format!("`{n}`")).collect();
                    let more = if listed.len() > 20 { ", …" } else { "" };
                    format!("{within} has {}{more}", shown.join(", "))
                }
            });
            return Err(error);
        };
        value = m.force(&thunk)?;
        if let Value::Attrs(attrs) = &value
            && tag(m, attrs)?.as_deref() == Some("infra.stack")
        {
            let head = stack_head(m, name, attrs)?;
            stack = Some(stack_decl(m, &head, root_span)?);
        }
    }
    Ok(value)
}

/// The attribute of the entry file's value holding the stack named `name`, if any.
fn stack_named(m: &mut Machine, root: &Attrs, name: &str) -> EvalResult<Option<Thunk>> {
    for (key, thunk) in root.iter() {
        if let Value::Attrs(attrs) = m.force(thunk)?
            && tag(m, &attrs)?.as_deref() == Some("infra.stack")
            && stack_head(m, key, &attrs)?.name == name
        {
            return Ok(Some(thunk.clone()));
        }
    }
    Ok(None)
}
