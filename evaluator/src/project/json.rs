//! Values → JSON for generated files, collecting the output placeholders strings carry.
//! Relative placeholders (`vpc.outputs.id` → `<infra-output:vpc:id>`) are made absolute
//! (`dev/vpc`) in the text, so that a generated file names exactly the outputs it needs.

use std::{collections::BTreeSet, path::PathBuf};

use lang::Span;

use crate::{
    domain::placeholder_text,
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    project::{Json, OutputRef, SecretRef},
    value::{Context, Value},
};

/// One conversion: where the value goes (for messages) and what it read.
pub(super) struct ToJson<'a> {
    /// The stack the value is placed in: bare component names resolve there.
    pub(super) stack: &'a str,
    /// The component (or stack) the value belongs to, for messages.
    pub(super) owner: &'a str,
    pub(super) span: Option<Span>,
    /// Whether output placeholders may appear (in `inputs` only).
    pub(super) allow_placeholders: bool,
    pub(super) reads: BTreeSet<OutputRef>,
    /// The secrets the value refers to (allowed where placeholders are: in `inputs`).
    pub(super) secrets: BTreeSet<SecretRef>,
    /// The project root: secrets files are named relative to it.
    pub(super) root: &'a std::path::Path,
}

impl ToJson<'_> {
    /// Converts `value`, found at `path` (`inputs.network`), forcing all of it.
    pub(super) fn convert(
        &mut self,
        m: &mut Machine,
        value: &Value,
        path: &str,
    ) -> EvalResult<Json> {
        Ok(match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(x) => match serde_json::Number::from_f64(*x) {
                Some(n) => Json::Number(n),
                None => return Err(self.error(format!("`{path}` is {x}, which JSON cannot hold"))),
            },
            Value::String(s) => {
                let mut text = s.as_str().to_owned();
                for element in s.context().into_iter().flat_map(|c| c.iter()) {
                    let (address, output) = match element {
                        Context::Output(address, output) => (address, output),
                        Context::Secret(file, key) => {
                            if !self.allow_placeholders {
                                return Err(EvalError::new(
                                    ErrorKind::SecretNotAllowed {
                                        address: self.owner.to_owned(),
                                        place: format!("`{path}`"),
                                        why: "which would write it to disk",
                                    },
                                    self.span,
                                )
                                .with_help(
                                    "pass the secret in `inputs` (declare the variable \
                                     `sensitive = true`): infra hands it to Terraform through the \
                                     environment, never through a file",
                                ));
                            }
                            let path = PathBuf::from(&**file);
                            let name = path
                                .strip_prefix(self.root)
                                .map(|p| p.to_string_lossy().into_owned())
                                .unwrap_or_else(|_| file.to_string());
                            let secret = SecretRef { name, key: key.to_string(), file: path };
                            text = text
                                .replace(&crate::domain::secret_text(file, key), &secret.text());
                            self.secrets.insert(secret);
                            continue;
                        }
                    };
                    let absolute = if address.contains('/') {
                        address.to_string()
                    } else {
                        format!("{}/{address}", self.stack)
                    };
                    if !self.allow_placeholders {
                        return Err(EvalError::new(
                            ErrorKind::PlaceholderNotAllowed {
                                address: self.owner.to_owned(),
                                place: format!("`{path}`"),
                            },
                            self.span,
                        )
                        .with_help(
                            "declare a Terraform variable, pass the output through `inputs`, \
                             and use `var.NAME` in the configuration",
                        ));
                    }
                    if *absolute != **address {
                        text = text.replace(
                            &placeholder_text(address, output),
                            &placeholder_text(&absolute, output),
                        );
                    }
                    self.reads.insert(OutputRef { address: absolute, output: output.to_string() });
                }
                Json::String(text)
            }
            Value::Path(p) => {
                return Err(self
                    .error(format!(
                        "`{path}` is the path `{}`, which would make the file differ between \
                         machines",
                        p.display()
                    ))
                    .with_help(
                        "copy the file into the work directory with `files.\"NAME\" = ./file;` \
                         and pass its name as a string",
                    ));
            }
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item = m.force(item)?;
                    let item_path = format!("{path}[{i}]");
                    out.push(m.nested(self.span, |m| self.convert(m, &item, &item_path))?);
                }
                Json::Array(out)
            }
            Value::Attrs(attrs) => {
                if attrs.get("__toString").is_some() || attrs.get("outPath").is_some() {
                    let s = m.coerce_to_string(value, false, self.span)?;
                    return self.convert(m, &Value::String(s), path);
                }
                if let Some(ty) = attrs.get("_type").cloned()
                    && let Value::String(ty) = m.force(&ty)?
                    && ty.as_str().starts_with("infra.")
                {
                    return Err(self
                        .error(format!("`{path}` is an `{}`, not data", ty.as_str()))
                        .with_help(
                            "to pass a component's output, select it: `comp.outputs.NAME`",
                        ));
                }
                let mut out = serde_json::Map::new();
                for (name, thunk) in attrs.iter() {
                    let item = m.force(thunk)?;
                    let item_path = format!("{path}.{name}");
                    out.insert(
                        name.to_string(),
                        m.nested(self.span, |m| self.convert(m, &item, &item_path))?,
                    );
                }
                Json::Object(out)
            }
            Value::Outputs(component) => {
                return Err(self
                    .error(format!("`{path}` is all the outputs of `{component}`"))
                    .with_help(format!("select one output: `{component}.outputs.NAME`")));
            }
            other => {
                return Err(self.error(format!(
                    "`{path}` is {}, which cannot be written as JSON",
                    other.describe()
                )));
            }
        })
    }

    fn error(&self, message: String) -> Box<EvalError> {
        EvalError::new(
            ErrorKind::InvalidSpec { address: self.owner.to_owned(), message },
            self.span,
        )
    }
}
