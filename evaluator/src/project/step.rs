//! Reading the spec of a step (`infra.step`) or a readiness check (`infra.wait`): the parts
//! only they have. The common parts (inputs, `dependsOn`, `requiredOutputs`, `mockOutputs`)
//! are read by `extract` for every kind.

use std::collections::BTreeMap;

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    io::Input,
    project::{Action, Check, Json, Retries, Step, json::ToJson, placement},
    value::{Attrs, Value},
};

/// The attributes a step spec may have.
pub(super) const STEP_KEYS: &[&str] = &[
    "dependsOn",
    "destroy",
    "env",
    "inputs",
    "mockOutputs",
    "requiredOutputs",
    "rerunAfter",
    "retries",
    "run",
    "src",
    "timeout",
];

/// The attributes a wait spec may have.
pub(super) const WAIT_KEYS: &[&str] =
    &["check", "dependsOn", "env", "inputs", "interval", "rerunAfter", "src", "timeout"];

/// How long a wait tries by default, and how often.
const WAIT_TIMEOUT_MS: u64 = 300_000;
const WAIT_INTERVAL_MS: u64 = 2_000;

/// What reading a step needs: where it is, for messages, and the converter of values that may
/// hold placeholders and secrets (it collects what they read).
pub(super) struct StepSpec<'a, 'b> {
    pub(super) spec: &'a Attrs,
    pub(super) address: &'a str,
    pub(super) span: Span,
    pub(super) convert: &'a mut ToJson<'b>,
}

impl StepSpec<'_, '_> {
    fn error(&self, message: String) -> Box<EvalError> {
        EvalError::new(
            ErrorKind::InvalidSpec { address: self.address.to_owned(), message },
            Some(self.span),
        )
    }

    /// `infra.step`.
    pub(super) fn read_step(&mut self, m: &mut Machine) -> EvalResult<Step> {
        let Some(run) = self.spec.get("run").cloned() else {
            return Err(self
                .error("a step needs `run`".to_owned())
                .with_help("write `run = [ \"program\" \"arg\" ];`"));
        };
        let run = self.argv(m, &run, "run")?;
        let destroy = match self.spec.get("destroy").cloned() {
            Some(destroy) => self.argv(m, &destroy, "destroy")?,
            None => Vec::new(),
        };
        if destroy.iter().any(|a| a.contains("<infra-output:")) {
            return Err(self
                .error(
                    "`destroy` cannot read other nodes' outputs: it runs after they are gone"
                        .to_owned(),
                )
                .with_help("read this step's own outputs from `INFRA_OUTPUT_<NAME>`"));
        }
        Ok(Step {
            action: Action::Run(run),
            src: self.src(m)?,
            env: self.env(m)?,
            timeout_ms: self.millis(m, "timeout")?,
            retries: self.retries(m)?,
            destroy,
            hook: None,
        })
    }

    /// `infra.wait`.
    pub(super) fn read_wait(&mut self, m: &mut Machine) -> EvalResult<Step> {
        let Some(check) = self.spec.get("check").cloned() else {
            return Err(self.error("a wait needs `check`".to_owned()).with_help(
                "write `check = { http = \"http://…\"; };`, `{ tcp = \"host:22\"; }` or a command",
            ));
        };
        let value = m.force(&check)?;
        let check = match &value {
            Value::List(_) => Check::Command(self.argv(m, &check, "check")?),
            Value::Attrs(attrs) if attrs.len() == 1 && attrs.get("http").is_some() => {
                let url = self.text(m, &value, "check.http")?;
                // A URL read from another node's output is checked when it is known.
                if !url.starts_with("http://") && !url.starts_with("<infra-output:") {
                    return Err(self
                        .error(format!("`check.http` is `{url}`, not an `http://` URL"))
                        .with_help(
                            "for HTTPS, check with a command: `[ \"curl\" \"-fsS\" URL ]`",
                        ));
                }
                Check::Http(url)
            }
            Value::Attrs(attrs) if attrs.len() == 1 && attrs.get("tcp").is_some() => {
                let address = self.text(m, &value, "check.tcp")?;
                Check::Tcp(address)
            }
            other => {
                return Err(self
                    .error(format!("`check` is {}, not a check", other.describe()))
                    .with_help(
                        "write `{ http = URL; }`, `{ tcp = \"HOST:PORT\"; }` or a command list",
                    ));
            }
        };
        let interval_ms = self.millis(m, "interval")?.unwrap_or(WAIT_INTERVAL_MS);
        Ok(Step {
            action: Action::Wait { check, interval_ms },
            src: self.src(m)?,
            env: self.env(m)?,
            timeout_ms: Some(self.millis(m, "timeout")?.unwrap_or(WAIT_TIMEOUT_MS)),
            retries: Retries::default(),
            destroy: Vec::new(),
            hook: None,
        })
    }

    /// The one string inside `{ http = …; }` (placeholders allowed, secrets not).
    fn text(&mut self, m: &mut Machine, set: &Value, place: &str) -> EvalResult<String> {
        let secrets = self.convert.secrets.len();
        let json = self.convert.convert(m, set, "check")?;
        self.no_secret(secrets, place)?;
        match json.as_object().and_then(|o| o.values().next()).and_then(Json::as_str) {
            Some(text) => Ok(text.to_owned()),
            None => Err(self.error(format!("`{place}` is not a string"))),
        }
    }

    /// A program and its arguments: a non-empty list of strings, which may read other nodes'
    /// outputs but not hold secrets (they would show in the process list).
    fn argv(
        &mut self,
        m: &mut Machine,
        thunk: &crate::value::Thunk,
        place: &str,
    ) -> EvalResult<Vec<String>> {
        let value = m.force(thunk)?;
        if let Value::String(s) = &value {
            return Err(self
                .error(format!("`{place}` is a string, not a list of a program and its arguments"))
                .with_help(format!(
                    "write `{place} = [ \"program\" \"arg\" ];` (no shell is involved); for a \
                     shell, ask for one: `[ \"sh\" \"-c\" {:?} ]`",
                    s.as_str()
                )));
        }
        let secrets = self.convert.secrets.len();
        let json = self.convert.convert(m, &value, place)?;
        self.no_secret(secrets, place)?;
        let items = json.as_array().cloned().unwrap_or_default();
        let argv: Option<Vec<String>> =
            items.iter().map(|item| item.as_str().map(str::to_owned)).collect();
        match argv {
            Some(argv) if !argv.is_empty() && !argv[0].is_empty() => Ok(argv),
            _ => Err(self.error(format!(
                "`{place}` is {}, not a non-empty list of strings",
                value.describe()
            ))),
        }
    }

    fn no_secret(&self, before: usize, place: &str) -> EvalResult<()> {
        if self.convert.secrets.len() == before {
            return Ok(());
        }
        Err(EvalError::new(
            ErrorKind::SecretNotAllowed {
                address: self.address.to_owned(),
                place: format!("`{place}`"),
                why: "where it would show in the process list and the log",
            },
            Some(self.span),
        )
        .with_help("pass the secret in `inputs` or `env`: a step gets it in its environment only"))
    }

    fn src(&mut self, m: &mut Machine) -> EvalResult<Option<std::path::PathBuf>> {
        let Some(thunk) = self.spec.get("src").cloned() else { return Ok(None) };
        match m.force(&thunk)? {
            Value::Path(path) => {
                let path = (*path).clone();
                m.record(Input::Exists(path.clone()));
                if !m.io.path_exists(&path).unwrap_or(false) {
                    let mut error =
                        self.error(format!("the source `{}` does not exist", path.display()));
                    error.span = placement::written_at(m, self.spec, "src").or(error.span);
                    error.help = placement::missing_directory(m, &path);
                    return Err(error);
                }
                Ok(Some(path))
            }
            other => Err(self
                .error(format!("`src` is {}, not a path to a directory", other.describe()))
                .with_help("write a path: `src = ./app;`")),
        }
    }

    fn env(&mut self, m: &mut Machine) -> EvalResult<BTreeMap<String, Json>> {
        let mut env = BTreeMap::new();
        let Some(thunk) = self.spec.get("env").cloned() else { return Ok(env) };
        let value = m.force(&thunk)?;
        let Value::Attrs(attrs) = &value else {
            return Err(self.error(format!("`env` is {}, not a set", value.describe())));
        };
        for (key, thunk) in attrs.iter() {
            if !is_env_name(key) || key.starts_with("INFRA_") {
                return Err(self
                    .error(format!("`env.{key}` is not a name a step's environment can have"))
                    .with_help(
                        "use letters, digits and `_`, not starting with a digit or `INFRA_`",
                    ));
            }
            let item = m.force(thunk)?;
            env.insert(key.to_string(), self.convert.convert(m, &item, &format!("env.{key}"))?);
        }
        Ok(env)
    }

    /// A duration in seconds (an integer or a float) as milliseconds.
    fn millis(&mut self, m: &mut Machine, key: &str) -> EvalResult<Option<u64>> {
        let Some(thunk) = self.spec.get(key).cloned() else { return Ok(None) };
        seconds(m, &thunk)?.map(Some).map_err(|got| {
            self.error(format!("`{key}` is {got}, not a positive number of seconds"))
        })
    }

    fn retries(&mut self, m: &mut Machine) -> EvalResult<Retries> {
        let Some(thunk) = self.spec.get("retries").cloned() else { return Ok(Retries::default()) };
        let value = m.force(&thunk)?;
        let Value::Attrs(attrs) = &value else {
            return Err(self
                .error(format!("`retries` is {}, not a set", value.describe()))
                .with_help("write `retries = { attempts = 3; delay = 5; on = \"timed out\"; };`"));
        };
        for key in attrs.names() {
            if !["attempts", "delay", "on"].contains(&key) {
                return Err(self
                    .error(format!("`retries` has no attribute `{key}`"))
                    .with_help("`retries` has `attempts`, `delay` (seconds) and `on` (a regex)"));
            }
        }
        let attempts = match attrs.get("attempts").cloned() {
            Some(t) => match m.force(&t)? {
                Value::Int(n) if (1..=100).contains(&n) => n as u32,
                other => {
                    return Err(self.error(format!(
                        "`retries.attempts` is {}, not a number of runs from 1 to 100",
                        other.describe()
                    )));
                }
            },
            None => 3,
        };
        let delay_ms = match attrs.get("delay").cloned() {
            Some(t) => seconds(m, &t)?.map_err(|got| {
                self.error(format!("`retries.delay` is {got}, not a number of seconds"))
            })?,
            None => 1_000,
        };
        let on = match attrs.get("on").cloned() {
            Some(t) => {
                let pattern = crate::builtins::string(m, &t)?.as_str().to_owned();
                if let Err(e) = regex::Regex::new(&pattern) {
                    return Err(
                        self.error(format!("`retries.on` is not a regular expression: {e}"))
                    );
                }
                Some(pattern)
            }
            None => None,
        };
        Ok(Retries { attempts, delay_ms, on })
    }
}

/// A name for an environment variable: letters, digits and `_`, not starting with a digit.
pub(super) fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks that a step's inputs can be environment variables `INFRA_INPUT_<NAME>` (the name
/// upper-cased), no two the same.
pub(super) fn check_input_names(
    inputs: &BTreeMap<String, Json>,
    address: &str,
    span: Span,
) -> EvalResult<()> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for name in inputs.keys() {
        let error = |message: String| -> Box<EvalError> {
            EvalError::new(
                ErrorKind::InvalidSpec { address: address.to_owned(), message },
                Some(span),
            )
        };
        if !is_env_name(name) {
            return Err(error(format!(
                "`inputs.{name}` cannot be an environment variable `INFRA_INPUT_…`"
            ))
            .with_help("use letters, digits and `_`, not starting with a digit"));
        }
        if let Some(other) = seen.insert(name.to_ascii_uppercase(), name) {
            return Err(error(format!(
                "`inputs.{other}` and `inputs.{name}` are both `INFRA_INPUT_{}`",
                name.to_ascii_uppercase()
            )));
        }
    }
    Ok(())
}

/// Seconds (a positive integer or float) as milliseconds; `Err`: what it was instead.
fn seconds(m: &mut Machine, thunk: &crate::value::Thunk) -> EvalResult<Result<u64, String>> {
    Ok(match m.force(thunk)? {
        Value::Int(n) if n > 0 && n <= 1_000_000_000 => Ok(n as u64 * 1000),
        Value::Float(x) if x > 0.0 && x <= 1e9 => Ok((x * 1000.0).round().max(1.0) as u64),
        other => Err(other.describe().to_string()),
    })
}
