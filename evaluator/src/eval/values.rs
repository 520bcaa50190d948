//! Operations on values that recurse into them: coercion to strings, arithmetic and
//! concatenation, equality and ordering. Each recursion goes through `Machine::nested`.

use alloc_shim::thin::RcStr;
use std::{path::PathBuf, rc::Rc};

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::{Machine, ops, type_error},
    lower,
    value::{Attrs, NixString, Thunk, Value},
};

impl Machine {
    /// Turns a value into a string: strings and paths always; with `extended` (`toString`)
    /// also numbers, Booleans, null and lists; sets through `__toString` or `outPath`.
    pub(crate) fn coerce_to_string(
        &mut self,
        value: &Value,
        extended: bool,
        span: Option<Span>,
    ) -> EvalResult<NixString> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Path(p) => Ok(NixString::from(p.display().to_string())),
            Value::Attrs(attrs) => {
                if let Some(to_string) = attrs.get("__toString").cloned() {
                    let func = self.force(&to_string)?;
                    return self.nested(span, |m| {
                        let result = m.apply(func, Thunk::value(value.clone()), span)?;
                        m.coerce_to_string(&result, extended, span)
                    });
                }
                if let Some(out_path) = attrs.get("outPath").cloned() {
                    let out = self.force(&out_path)?;
                    return self.nested(span, |m| m.coerce_to_string(&out, extended, span));
                }
                Err(EvalError::new(ErrorKind::NotCoercible { got: value.describe() }, span))
            }
            Value::Int(i) if extended => Ok(NixString::new(int_text(*i), None)),
            // `toString` prints floats with six decimals, unlike printing (`%f`, not `%g`).
            Value::Float(x) if extended && x.is_finite() => Ok(NixString::from(format!("{x:.6}"))),
            Value::Float(x) if extended => Ok(NixString::from(crate::print::float(*x))),
            Value::Bool(b) if extended => Ok(NixString::from(if *b { "1" } else { "" })),
            Value::Null if extended => Ok(NixString::from("")),
            Value::List(items) if extended => {
                let (mut text, mut with_context) = (String::new(), Vec::new());
                self.coerce_list_into(items, span, &mut text, &mut with_context)?;
                let context = NixString::merge_contexts(with_context.iter());
                Ok(NixString::new(text.into(), context))
            }
            other => {
                let mut error =
                    EvalError::new(ErrorKind::NotCoercible { got: other.describe() }, span);
                if matches!(other, Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null) {
                    error.help = Some("use `toString` to turn it into a string".into());
                }
                Err(error)
            }
        }
    }

    /// A list's elements coerced into `out`, joined by spaces (nested lists written into the
    /// same text, not built as strings of their own); the parts with a context kept aside.
    fn coerce_list_into(
        &mut self,
        items: &[Thunk],
        span: Option<Span>,
        out: &mut String,
        with_context: &mut Vec<NixString>,
    ) -> EvalResult<()> {
        for (i, item) in items.iter().enumerate() {
            let item = self.force(item)?;
            match &item {
                Value::List(inner) => {
                    self.nested(span, |m| m.coerce_list_into(inner, span, out, with_context))?;
                }
                _ => {
                    let s = self.nested(span, |m| m.coerce_to_string(&item, true, span))?;
                    out.push_str(s.as_str());
                    if s.context().is_some() {
                        with_context.push(s);
                    }
                }
            }
            // Nix joins with spaces but leaves out the space after an empty list.
            let skip_space = matches!(&item, Value::List(l) if l.is_empty());
            if i + 1 < items.len() && !skip_space {
                out.push(' ');
            }
            crate::error::check_string(out.len(), span)?;
        }
        Ok(())
    }

    pub(crate) fn binop_values(
        &mut self,
        op: lang::ast::BinaryOp,
        left: &Value,
        right: &Value,
        span: Option<Span>,
    ) -> EvalResult<Value> {
        use lang::ast::BinaryOp as B;
        let at = |kind| EvalError::new(kind, span);
        match op {
            B::Add => self.add(left, right, span),
            B::Sub => ops::sub(left, right).map_err(at),
            B::Mul => ops::mul(left, right).map_err(at),
            B::Div => ops::div(left, right).map_err(at),
            B::Concat => match (left, right) {
                (Value::List(a), Value::List(b)) => {
                    crate::error::check_list(a.len() + b.len(), span)?;
                    Ok(Value::list(a.iter().chain(b.iter()).cloned()))
                }
                (Value::List(_), other) | (other, _) => Err(type_error("a list", other, span)),
            },
            B::Update => match (left, right) {
                (Value::Attrs(a), Value::Attrs(b)) => Ok(Value::attrs(a.update(b))),
                (Value::Attrs(_), other) | (other, _) => Err(type_error("a set", other, span)),
            },
            B::Equal => Ok(Value::Bool(self.equal(left, right)?)),
            B::NotEqual => Ok(Value::Bool(!self.equal(left, right)?)),
            B::Less => Ok(Value::Bool(self.less_than(left, right, span)?)),
            B::More => Ok(Value::Bool(self.less_than(right, left, span)?)),
            B::LessOrEq => Ok(Value::Bool(!self.less_than(right, left, span)?)),
            B::MoreOrEq => Ok(Value::Bool(!self.less_than(left, right, span)?)),
            B::And | B::Or | B::Implication | B::PipeLeft | B::PipeRight => {
                Err(at(ErrorKind::BadArgument {
                    builtin: "operator",
                    message: "unexpected".into(),
                }))
            }
        }
    }

    fn add(&mut self, left: &Value, right: &Value, span: Option<Span>) -> EvalResult<Value> {
        match (left, right) {
            (Value::Path(p), _) => {
                let s = self.coerce_to_string(right, false, span)?;
                let joined = format!("{}{}", p.display(), s.as_str());
                Ok(Value::Path(Rc::new(PathBuf::from(lower::canonical_path(&joined)))))
            }
            (Value::String(a), Value::String(b)) => {
                crate::error::check_string(a.len() + b.len(), span)?;
                Ok(Value::String(NixString::concat(a, b)))
            }
            (Value::String(a), _) => {
                if let (Value::Path(path), Some(at)) = (right, span) {
                    self.path_must_exist(path, at)?;
                }
                let b = self.coerce_to_string(right, false, span)?;
                crate::error::check_string(a.len() + b.len(), span)?;
                Ok(Value::String(NixString::concat(a, &b)))
            }
            // A set that coerces to a string (`outPath`, `__toString`) on the left: strings,
            // as in Nix, where only a path or a number on the left means something else.
            (Value::Attrs(_), _) => {
                let a = self.coerce_to_string(left, false, span)?;
                let b = self.coerce_to_string(right, false, span)?;
                Ok(Value::String(NixString::concat(&a, &b)))
            }
            _ => ops::add_numbers(left, right).map_err(|kind| EvalError::new(kind, span)),
        }
    }

    /// Deep equality, as `==`: numbers across int and float, sets and lists element-wise,
    /// functions never equal.
    pub(crate) fn equal(&mut self, left: &Value, right: &Value) -> EvalResult<bool> {
        Ok(match (left, right) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                (*a as f64) == *b
            }
            (Value::String(a), Value::String(b)) => {
                crate::error::reject_secret(a, "comparing with `==`")?;
                crate::error::reject_secret(b, "comparing with `==`")?;
                a.as_str() == b.as_str()
            }
            (Value::Path(a), Value::Path(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                if a.len() != b.len() {
                    return Ok(false);
                }
                for (x, y) in a.iter().zip(b.iter()) {
                    if !self.equal_elements(x, y)? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Attrs(a), Value::Attrs(b)) => {
                // Derivations (`type = "derivation"`) compare by `outPath`, as in Nix.
                if self.is_derivation(a)?
                    && self.is_derivation(b)?
                    && let (Some(x), Some(y)) =
                        (a.get("outPath").cloned(), b.get("outPath").cloned())
                {
                    let (x, y) = (self.force(&x)?, self.force(&y)?);
                    return self.nested(None, |m| m.equal(&x, &y));
                }
                if a.len() != b.len() {
                    return Ok(false);
                }
                for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
                    if !RcStr::ptr_eq(ka, kb) && ka != kb {
                        return Ok(false);
                    }
                    if !self.equal_elements(va, vb)? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => false,
        })
    }

    /// Whether two elements (of lists or sets compared) are equal: forced, then compared one
    /// level deeper if either may hold more (a list or a set), at once otherwise.
    pub(crate) fn equal_elements(&mut self, x: &Thunk, y: &Thunk) -> EvalResult<bool> {
        if x.ptr() == y.ptr() {
            // The same cell on both sides is equal, even a function, once it is forced (as in
            // Nix: `[ f ] == [ f ]`, but `[ x ] == [ x ]` of a cell that throws still throws).
            if !x.is_done() {
                self.force(x)?;
            }
            return Ok(true);
        }
        let (x, y) = (self.force(x)?, self.force(y)?);
        if matches!(x, Value::List(_) | Value::Attrs(_))
            || matches!(y, Value::List(_) | Value::Attrs(_))
        {
            self.nested(None, |m| m.equal(&x, &y))
        } else {
            self.equal(&x, &y)
        }
    }

    /// `<`: numbers, strings, paths, and lists lexicographically.
    pub(crate) fn less_than(
        &mut self,
        left: &Value,
        right: &Value,
        span: Option<Span>,
    ) -> EvalResult<bool> {
        match (left, right) {
            (Value::Int(a), Value::Int(b)) => Ok(a < b),
            (Value::Float(a), Value::Float(b)) => Ok(a < b),
            (Value::Int(a), Value::Float(b)) => Ok((*a as f64) < *b),
            (Value::Float(a), Value::Int(b)) => Ok(*a < (*b as f64)),
            (Value::String(a), Value::String(b)) => {
                crate::error::reject_secret(a, "comparing with `<`")?;
                crate::error::reject_secret(b, "comparing with `<`")?;
                Ok(a.as_str() < b.as_str())
            }
            // Paths compare as strings (byte-wise), not component-wise.
            (Value::Path(a), Value::Path(b)) => {
                Ok(a.as_os_str().as_encoded_bytes() < b.as_os_str().as_encoded_bytes())
            }
            (Value::List(a), Value::List(b)) => {
                for (x, y) in a.iter().zip(b.iter()) {
                    let (x, y) = (self.force(x)?, self.force(y)?);
                    if !self.nested(span, |m| m.equal(&x, &y))? {
                        return self.nested(span, |m| m.less_than(&x, &y, span));
                    }
                }
                Ok(a.len() < b.len())
            }
            _ => Err(EvalError::new(
                ErrorKind::NotComparable { left: left.describe(), right: right.describe() },
                span,
            )),
        }
    }

    /// Whether a set is a derivation (`type = "derivation"`).
    fn is_derivation(&mut self, attrs: &Attrs) -> EvalResult<bool> {
        let Some(ty) = attrs.get("type").cloned() else { return Ok(false) };
        Ok(matches!(self.force(&ty)?, Value::String(s) if s.as_str() == "derivation"))
    }
}

/// An integer's decimal text, made on the stack and copied once into its shared string
/// (`toString i` and `"${toString i}"` run in loops).
fn int_text(i: i64) -> RcStr {
    int_decimal(i, &mut [0; 20]).into()
}

/// An integer's decimal text, written into `buf` (20 bytes hold `i64::MIN`'s).
pub(super) fn int_decimal(i: i64, buf: &mut [u8; 20]) -> &str {
    let (mut n, mut at) = (i.unsigned_abs(), buf.len());
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    // Digits and a sign are ASCII.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn int_text_is_decimal() {
        for i in [0, 7, -7, 10, -10, 1234567890, i64::MAX, i64::MIN, i64::MIN + 1] {
            assert_eq!(&*super::int_text(i), i.to_string());
        }
    }
}
