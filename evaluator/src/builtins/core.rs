//! Core builtins: types, arithmetic, control (`throw`, `abort`, `seq`, `tryEval`), `toString`.

use crate::{
    builtins,
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    print,
    value::{Attrs, Thunk, Value},
};

fn is(m: &mut Machine, args: &[Thunk], test: fn(&Value) -> bool) -> EvalResult<Value> {
    Ok(Value::Bool(test(&m.force(&args[0])?)))
}

pub(super) fn is_attrs(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::Attrs(_)))
}
pub(super) fn is_bool(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::Bool(_)))
}
pub(super) fn is_float(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::Float(_)))
}
pub(super) fn is_function(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, Value::is_function)
}
pub(super) fn is_int(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::Int(_)))
}
pub(super) fn is_list(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::List(_)))
}
pub(super) fn is_null(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::Null))
}
pub(super) fn is_path(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::Path(_)))
}
pub(super) fn is_string(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    is(m, args, |v| matches!(v, Value::String(_)))
}

pub(super) fn type_of(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    Ok(Value::string(m.force(&args[0])?.type_name()))
}

fn arith(m: &mut Machine, args: &[Thunk], op: lang::ast::BinaryOp) -> EvalResult<Value> {
    let (a, b) = (m.force(&args[0])?, m.force(&args[1])?);
    for v in [&a, &b] {
        if !matches!(v, Value::Int(_) | Value::Float(_)) {
            return Err(crate::eval::type_error("a number", v, None));
        }
    }
    m.binop_values(op, &a, &b, None)
}

pub(super) fn add(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    arith(m, args, lang::ast::BinaryOp::Add)
}
pub(super) fn sub(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    arith(m, args, lang::ast::BinaryOp::Sub)
}
pub(super) fn mul(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    arith(m, args, lang::ast::BinaryOp::Mul)
}
pub(super) fn div(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    arith(m, args, lang::ast::BinaryOp::Div)
}

fn bits(m: &mut Machine, args: &[Thunk], op: fn(i64, i64) -> i64) -> EvalResult<Value> {
    let (a, b) = (builtins::int(m, &args[0])?, builtins::int(m, &args[1])?);
    Ok(Value::Int(op(a, b)))
}
pub(super) fn bit_and(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    bits(m, args, |a, b| a & b)
}
pub(super) fn bit_or(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    bits(m, args, |a, b| a | b)
}
pub(super) fn bit_xor(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    bits(m, args, |a, b| a ^ b)
}

fn round(m: &mut Machine, args: &[Thunk], f: fn(f64) -> f64) -> EvalResult<Value> {
    match m.force(&args[0])? {
        Value::Int(i) => Ok(Value::Int(i)),
        Value::Float(x) => {
            let r = f(x);
            if r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64 {
                Ok(Value::Int(r as i64))
            } else {
                Err(EvalError::new(ErrorKind::IntegerOverflow, None))
            }
        }
        other => Err(crate::eval::type_error("a number", &other, None)),
    }
}
pub(super) fn ceil(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    round(m, args, f64::ceil)
}
pub(super) fn floor(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    round(m, args, f64::floor)
}

pub(super) fn less_than(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let (a, b) = (m.force(&args[0])?, m.force(&args[1])?);
    Ok(Value::Bool(m.less_than(&a, &b, None)?))
}

pub(super) fn throw(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let message = builtins::string(m, &args[0])?;
    Err(EvalError::new(ErrorKind::Throw { message: message.as_str().to_owned() }, None))
}

pub(super) fn abort(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let message = builtins::string(m, &args[0])?;
    Err(EvalError::new(ErrorKind::Abort { message: message.as_str().to_owned() }, None))
}

pub(super) fn seq(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    m.force(&args[0])?;
    m.force(&args[1])
}

pub(super) fn deep_seq(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    print::deep_force(m, &value)?;
    m.force(&args[1])
}

/// `{ success; value; }`: `throw` and failed assertions are caught, nothing else.
pub(super) fn try_eval(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let (success, value) = match m.force(&args[0]) {
        Ok(value) => (true, value),
        Err(error) if error.kind.is_catchable() => (false, Value::Bool(false)),
        Err(error) => return Err(error),
    };
    Ok(Value::attrs(Attrs::from_sorted(vec![
        ("success".into(), Thunk::value(Value::Bool(success))),
        ("value".into(), Thunk::value(value)),
    ])))
}

/// `trace msg value`: hands the message to `EvalIo::trace` (stderr, in the binary) and returns
/// the value.
pub(super) fn trace(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let message = m.force(&args[0])?;
    let shown = match &message {
        Value::String(s) => s.as_str().to_owned(),
        other => print::print(m, other, print::PrintMode::Lazy)?,
    };
    m.io.trace(&format!("trace: {shown}"));
    m.force(&args[1])
}

/// `warn msg value`: like `trace`, as a warning; with `NIX_ABORT_ON_WARN` set to `1`, `true`
/// or `yes` (the variable nixpkgs' library and newer Nix honour), a warning is an error.
pub(super) fn warn(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let message = builtins::string(m, &args[0])?;
    m.io.trace(&format!("warning: {}", message.as_str()));
    m.record(crate::io::Input::Env("NIX_ABORT_ON_WARN".to_owned()));
    let abort = m.io.env_var("NIX_ABORT_ON_WARN");
    if matches!(abort.as_deref(), Some("1" | "true" | "yes")) {
        return Err(crate::error::EvalError::new(
            crate::error::ErrorKind::Abort {
                message: format!(
                    "{} (NIX_ABORT_ON_WARN is set: warnings are errors)",
                    message.as_str()
                ),
            },
            None,
        ));
    }
    m.force(&args[1])
}

pub(super) fn to_string(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let s = m.coerce_to_string(&value, true, None)?;
    Ok(Value::String(s))
}

pub(super) fn get_env(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    m.record(crate::io::Input::Env(name.as_str().to_owned()));
    Ok(Value::string(&m.io.env_var(name.as_str()).unwrap_or_default()))
}

pub(super) fn function_args(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    match m.force(&args[0])? {
        Value::Lambda(closure) => match &closure.lambda.param {
            crate::ir::Param::Ident(_) | crate::ir::Param::Curried(_) => {
                Ok(Value::attrs(Attrs::default()))
            }
            crate::ir::Param::Pattern { formals, .. } => Ok(Value::attrs(Attrs::from_entries(
                formals
                    .iter()
                    .map(|f| (f.name.clone(), Thunk::value(Value::Bool(f.default.is_some()))))
                    .collect(),
            ))),
        },
        Value::PrimOp(_) | Value::PrimOpApp(_) => Ok(Value::attrs(Attrs::default())),
        other => Err(crate::eval::type_error("a function", &other, None)),
    }
}
