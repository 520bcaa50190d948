//! Interpolation: `"a${b}c"` and `./a/${b}`, built in the machine's reused buffer, with
//! `toString` of an integer written straight into the text; a path put in a string must exist.

use std::rc::Rc;

use lang::Span;

use super::{Machine, apply, values};
use crate::{
    env::Env,
    error::{ErrorKind, EvalError, EvalResult},
    io::Input,
    ir::{ExprId, Hot, Part},
    value::{NixString, Thunk, Value},
};

/// The largest interpolation buffer kept for the next one (a huge string's is let go).
pub(super) const SCRATCH_KEPT: usize = 64 << 10;

impl Machine {
    /// A string (`string`: a path in it must exist, as Nix copies it to its store) or the
    /// text of an interpolated path.
    pub(super) fn interpolate(
        &mut self,
        parts: &[Part],
        env: &Rc<Env>,
        string: bool,
    ) -> EvalResult<Value> {
        // Built in the machine's scratch buffer (taken: a part may interpolate in turn), then
        // copied once into the string's own allocation.
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let result = self.interpolate_into(&mut text, parts, env, string);
        if text.capacity() <= SCRATCH_KEPT {
            self.scratch = text;
        }
        result
    }

    fn interpolate_into(
        &mut self,
        text: &mut String,
        parts: &[Part],
        env: &Rc<Env>,
        string: bool,
    ) -> EvalResult<Value> {
        // Only strings with a context contribute to the result's (most have none).
        let mut with_context = Vec::new();
        for part in parts {
            match part {
                Part::Literal(s) => text.push_str(s),
                Part::Expr(id) => {
                    match self.interpolated_to_string(*id, env)? {
                        Some(Coerced::Int(i)) => {
                            let mut buf = [0; 20];
                            let digits = values::int_decimal(i, &mut buf);
                            let span = self.arena.span(*id);
                            crate::error::check_string(text.len() + digits.len(), Some(span))?;
                            text.push_str(digits);
                            continue;
                        }
                        Some(Coerced::Text(s)) => {
                            let span = self.arena.span(*id);
                            crate::error::check_string(text.len() + s.len(), Some(span))?;
                            text.push_str(s.as_str());
                            if s.context().is_some() {
                                with_context.push(s);
                            }
                            continue;
                        }
                        None => {}
                    }
                    let value = self.eval(*id, env)?;
                    let span = self.arena.span(*id);
                    if string && let Value::Path(path) = &value {
                        self.path_must_exist(path, span)?;
                    }
                    let s = self.coerce_to_string(&value, false, Some(span))?;
                    crate::error::check_string(text.len() + s.len(), Some(span))?;
                    text.push_str(s.as_str());
                    if s.context().is_some() {
                        with_context.push(s);
                    }
                }
            }
        }
        let context = NixString::merge_contexts(with_context.iter());
        Ok(Value::String(NixString::new(text.as_str().into(), context)))
    }

    /// `"…${toString x}…"`: `toString` applied here rather than through a call, so that an
    /// integer's digits go straight into the text with no string made for them first (a
    /// common idiom in loops, `"item-${toString i}"`); other values give `toString`'s
    /// string. The argument is forced as the builtin forces it and errors are placed as its
    /// are. `None`: not a call of `toString` (recognised by its value, so a shadowing
    /// `let toString = …` is not taken for it).
    fn interpolated_to_string(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Option<Coerced>> {
        let Hot::Apply(func, arg) = self.arena.hot(id) else { return Ok(None) };
        let (Hot::Global(slot) | Hot::Member(slot)) = self.arena.hot(func) else { return Ok(None) };
        match self.globals.at(slot).and_then(Thunk::get) {
            Some(Value::PrimOp(op)) if op.name == "toString" => {}
            _ => return Ok(None),
        }
        let thunk = self.thunk(arg, env);
        let span = Some(self.arena.span(id));
        let value = apply::with_span(self.force(&thunk), span, "toString")?;
        if let Value::Int(i) = value {
            return Ok(Some(Coerced::Int(i)));
        }
        let text = apply::with_span(self.coerce_to_string(&value, true, None), span, "toString")?;
        Ok(Some(Coerced::Text(text)))
    }

    /// A path put in a string: Nix copies it to its store, so it must exist.
    pub(crate) fn path_must_exist(&mut self, path: &std::path::Path, span: Span) -> EvalResult<()> {
        self.record(Input::Exists(path.to_path_buf()));
        match self.io.path_exists(path) {
            Ok(true) => Ok(()),
            Ok(false) => Err(EvalError::new(
                ErrorKind::Io {
                    path: path.display().to_string(),
                    message: "no such file or directory".into(),
                },
                Some(span),
            )),
            Err(e) => Err(crate::error::io_error(path, e, Some(span))),
        }
    }
}

/// What `toString` gave inside an interpolation.
enum Coerced {
    Int(i64),
    Text(NixString),
}
