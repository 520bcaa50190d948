//! Arithmetic on numbers, with Nix's int/float mixing and overflow as an error.

use crate::{error::ErrorKind, value::Value};

fn numbers(
    left: &Value,
    right: &Value,
    int: fn(i64, i64) -> Result<i64, ErrorKind>,
    float: fn(f64, f64) -> f64,
) -> Result<Value, ErrorKind> {
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => int(*a, *b).map(Value::Int),
        (Value::Float(a), Value::Float(b)) => Ok(Value::Float(float(*a, *b))),
        (Value::Int(a), Value::Float(b)) => Ok(Value::Float(float(*a as f64, *b))),
        (Value::Float(a), Value::Int(b)) => Ok(Value::Float(float(*a, *b as f64))),
        (Value::Int(_) | Value::Float(_), other) | (other, _) => {
            Err(ErrorKind::TypeError { expected: "a number", got: other.describe() })
        }
    }
}

pub(crate) fn add_numbers(left: &Value, right: &Value) -> Result<Value, ErrorKind> {
    numbers(left, right, |a, b| a.checked_add(b).ok_or(ErrorKind::IntegerOverflow), |a, b| a + b)
}

pub(crate) fn sub(left: &Value, right: &Value) -> Result<Value, ErrorKind> {
    numbers(left, right, |a, b| a.checked_sub(b).ok_or(ErrorKind::IntegerOverflow), |a, b| a - b)
}

pub(crate) fn mul(left: &Value, right: &Value) -> Result<Value, ErrorKind> {
    numbers(left, right, |a, b| a.checked_mul(b).ok_or(ErrorKind::IntegerOverflow), |a, b| a * b)
}

pub(crate) fn div(left: &Value, right: &Value) -> Result<Value, ErrorKind> {
    let zero = matches!(right, Value::Int(0)) || matches!(right, Value::Float(x) if *x == 0.0);
    if zero && matches!(left, Value::Int(_) | Value::Float(_)) {
        return Err(ErrorKind::DivisionByZero);
    }
    numbers(left, right, |a, b| a.checked_div(b).ok_or(ErrorKind::IntegerOverflow), |a, b| a / b)
}
