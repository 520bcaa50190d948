//! Policies over plans: `policies = [ f … ]` on a stack or a component. Each is a function
//! of what a plan would do (`{ stack; component; changes; outputChanges; plan; now; user;
//! flags; }`, given as JSON by the runner, which passes `now` and `user` in so the same plan
//! always gets the same verdict) returning a list of verdicts: `{ deny = "why"; }`,
//! `{ warn = "why"; }` or `{ wait = "why"; }` (leave it for later: a change window), each
//! optionally with the resource `address` it is about.

use serde::{Deserialize, Serialize};

use lang::Span;

use crate::{
    builtins::json::from_serde,
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    project::{Approval, Json},
    value::{Thunk, Value},
};

/// What a policy says of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub kind: VerdictKind,
    pub message: String,
    /// The resource it is about, if it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Which policy (1-based, the stack's first).
    pub policy: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// The apply must not happen.
    Deny,
    /// Not now: the component waits (outside its change window).
    Wait,
    /// Shown and recorded; the apply goes on.
    Warn,
}

impl VerdictKind {
    pub fn name(self) -> &'static str {
        match self {
            VerdictKind::Deny => "deny",
            VerdictKind::Wait => "wait",
            VerdictKind::Warn => "warn",
        }
    }
}

/// The functions of a `policies` list (none when absent); anything else is an error.
pub(super) fn functions(
    m: &mut Machine,
    list: Option<&Thunk>,
    owner: &str,
    span: Span,
) -> EvalResult<Vec<Value>> {
    let Some(list) = list else { return Ok(Vec::new()) };
    let error = |message: String| {
        EvalError::new(ErrorKind::InvalidSpec { address: owner.to_owned(), message }, Some(span))
            .with_help("write `policies = [ (infra.lib.policy.noDestroy { }) (input: [ … ]) ];`")
    };
    let items = match m.force(list)? {
        Value::List(items) => items,
        other => return Err(error(format!("`policies` is {}, not a list", other.describe()))),
    };
    let mut functions = Vec::with_capacity(items.len());
    for item in items.iter() {
        match m.force(item)? {
            f @ (Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_)) => functions.push(f),
            other => {
                return Err(error(format!(
                    "`policies` holds {}, not a function of a plan",
                    other.describe()
                )));
            }
        }
    }
    Ok(functions)
}

/// Applies every policy to `input` and reads their verdicts.
pub(crate) fn check(
    m: &mut Machine,
    policies: Vec<Value>,
    input: &Json,
    address: &str,
    span: Span,
) -> EvalResult<Vec<Verdict>> {
    let input = from_serde(input).map_err(|message| {
        EvalError::new(ErrorKind::BadArgument { builtin: "policy input", message }, None)
    })?;
    let input = Thunk::value(input);
    let mut verdicts = Vec::new();
    for (i, policy) in policies.into_iter().enumerate() {
        let error = |message: String| {
            EvalError::new(
                ErrorKind::InvalidSpec { address: address.to_owned(), message },
                Some(span),
            )
            .with_help(
                "a policy returns a list of `{ deny = \"why\"; }`, `{ warn = \"why\"; }` or \
                 `{ wait = \"why\"; }`, each with an optional `address`",
            )
        };
        let result = m.apply(policy, input.clone(), Some(span))?;
        let Value::List(items) = result else {
            return Err(error(format!(
                "policy {} returned {}, not a list",
                i + 1,
                result.describe()
            )));
        };
        for item in items.iter() {
            let Value::Attrs(attrs) = m.force(item)? else {
                return Err(error(format!("policy {} returned a list holding a non-set", i + 1)));
            };
            let mut found = None;
            for kind in [VerdictKind::Deny, VerdictKind::Wait, VerdictKind::Warn] {
                if let Some(thunk) = attrs.get(kind.name()).cloned() {
                    let message = crate::builtins::string(m, &thunk)?.as_str().to_owned();
                    found = Some((kind, message));
                    break;
                }
            }
            let Some((kind, message)) = found else {
                return Err(error(format!(
                    "policy {} returned a verdict without `deny`, `warn` or `wait`",
                    i + 1
                )));
            };
            let address = match attrs.get("address").cloned() {
                Some(thunk) => match m.force(&thunk)? {
                    Value::Null => None,
                    _ => Some(crate::builtins::string(m, &thunk)?.as_str().to_owned()),
                },
                None => None,
            };
            verdicts.push(Verdict { kind, message, address, policy: i + 1 });
        }
    }
    Ok(verdicts)
}

/// An `approval` set: `{ required = true; minApprovers = 2; }` (`None`: none required).
pub(crate) fn read_approval(
    m: &mut Machine,
    thunk: Option<&Thunk>,
    owner: &str,
    span: Span,
) -> EvalResult<Option<Approval>> {
    let Some(thunk) = thunk else { return Ok(None) };
    let error = |message: String| {
        EvalError::new(ErrorKind::InvalidSpec { address: owner.to_owned(), message }, Some(span))
            .with_help("write `approval = { required = true; minApprovers = 2; };`")
    };
    let Value::Attrs(attrs) = m.force(thunk)? else {
        return Err(error("`approval` is not a set".to_owned()));
    };
    for key in attrs.names() {
        if !["required", "minApprovers", "approvers"].contains(&key) {
            return Err(error(format!("`approval` has no attribute `{key}`")));
        }
    }
    let required = match attrs.get("required").cloned() {
        Some(t) => match m.force(&t)? {
            Value::Bool(b) => b,
            other => {
                return Err(error(format!(
                    "`approval.required` is {}, not a boolean",
                    other.describe()
                )));
            }
        },
        None => true,
    };
    let min_approvers = match attrs.get("minApprovers").cloned() {
        Some(t) => match m.force(&t)? {
            Value::Int(n) if (1..=100).contains(&n) => n as u32,
            other => {
                return Err(error(format!(
                    "`approval.minApprovers` is {}, not a number from 1 to 100",
                    other.describe()
                )));
            }
        },
        None => 1,
    };
    let mut approvers = Vec::new();
    if let Some(t) = attrs.get("approvers").cloned() {
        let Value::List(list) = m.force(&t)? else {
            return Err(error("`approval.approvers` is not a list of user names".to_owned()));
        };
        for item in list.iter() {
            match m.force(item)? {
                Value::String(s) if !s.as_str().trim().is_empty() => {
                    approvers.push(s.as_str().to_owned())
                }
                other => {
                    return Err(error(format!(
                        "`approval.approvers` holds {}, not a user name",
                        other.describe()
                    )));
                }
            }
        }
        approvers.sort();
        approvers.dedup();
        if (approvers.len() as u32) < min_approvers {
            return Err(error(format!(
                "`approval.minApprovers` is {min_approvers}, but `approval.approvers` lists only \
                 {} {}: no plan could ever be approved",
                approvers.len(),
                if approvers.len() == 1 { "user" } else { "users" }
            )));
        }
    }
    Ok(required.then_some(Approval { min_approvers, approvers }))
}
