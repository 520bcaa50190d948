//! Function application: one argument or several at once, lambdas (plain, curried chains,
//! set patterns), builtins (partially applied or given all their arguments) and functors.

use std::rc::Rc;

use lang::Span;
use smallvec::SmallVec;

use super::{MAX_DEPTH, Machine, type_error};
use crate::{
    env::Env,
    error::{ErrorKind, EvalError, EvalResult},
    ir::{ExprId, Hot, Param},
    value::{Closure, PrimOpApp, Thunk, Value},
};

impl Machine {
    /// Applies `func` to each argument in turn (for builtins and lazy applications, which
    /// have no call site of their own; the builtin's caller places errors).
    ///
    /// A builtin's loop and a lazy element mostly call a lambda that takes exactly these
    /// arguments (`map (x: …)`, `genList (i: …)`, `foldl' (acc: x: …)`): that call enters
    /// the body straight away, with the function borrowed, not copied.
    pub(crate) fn call_all(&mut self, func: &Value, args: &[Thunk]) -> EvalResult<Value> {
        if let Value::Lambda(closure) = func {
            let frame = match (&closure.lambda.param, args) {
                (Param::Ident(_), [arg]) => Some(Env::one(&closure.env, arg.clone())),
                (Param::Curried(names), _) if closure.applied == 0 && names.len() == args.len() => {
                    Some(curried_frame(closure, args))
                }
                _ => None,
            };
            if let Some(frame) = frame {
                self.step(None)?;
                return self.enter(closure.lambda.body, &frame, None);
            }
        }
        self.call_args(func.clone(), args, None)
    }

    /// Evaluates a function's body in its new frame, one call deeper.
    #[inline(always)]
    fn enter(&mut self, body: ExprId, frame: &Rc<Env>, span: Option<Span>) -> EvalResult<Value> {
        self.deeper(span, |m| m.eval(body, frame))
    }

    /// Runs a call one level deeper: refused past the depth limit, the stack checked every
    /// eighth level (a cycle of one `eval` and one call raises the depth by two, and would
    /// never meet `eval`'s own check on odd depths).
    #[inline(always)]
    pub(super) fn deeper(
        &mut self,
        span: Option<Span>,
        call: impl FnOnce(&mut Self) -> EvalResult<Value>,
    ) -> EvalResult<Value> {
        self.depth += 1;
        let result = if self.depth > MAX_DEPTH {
            Err(EvalError::new(ErrorKind::MaxCallDepth, span))
        } else if self.depth.is_multiple_of(8) {
            self.with_stack(span, call)
        } else {
            call(self)
        };
        self.depth -= 1;
        result
    }

    /// Applies `func` to each argument in turn; a curried chain `a: b: body` given all its
    /// arguments gets them in one frame.
    pub(super) fn call_args(
        &mut self,
        mut func: Value,
        args: &[Thunk],
        span: Option<Span>,
    ) -> EvalResult<Value> {
        let mut i = 0;
        while i < args.len() {
            // Every loop of a builtin (`foldl'`, `map`, `genList`, …) calls through here: a
            // step for the memory limit. (A call written in the program nests, and its depth
            // is bounded; it is not counted.)
            self.step(span)?;
            if let Value::Lambda(closure) = &func
                && let Param::Curried(names) = &closure.lambda.param
                && args.len() - i >= names.len() - closure.applied as usize
            {
                let take = names.len() - closure.applied as usize;
                let body = closure.lambda.body;
                let frame = curried_frame(closure, &args[i..i + take]);
                func = self.enter(body, &frame, span)?;
                i += take;
                continue;
            }
            func = self.apply(func, args[i].clone(), span)?;
            i += 1;
        }
        Ok(func)
    }

    /// `f a b …` (up to four arguments) in one step: a builtin given all the arguments it
    /// takes is called at once (no partial application built and copied per argument), and a
    /// curried `a: b: body` gets its two frames without the closure in between. Anything else
    /// is applied one argument at a time, each at its own application's span, as before.
    #[inline(never)]
    pub(super) fn apply_chain(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        // The applications, outermost first, and the function at the bottom (read from the
        // nodes' hot copies).
        let mut calls = [(id, id); 4];
        let mut len = 0;
        let mut head = id;
        while len < 4
            && let Hot::Apply(func, arg) = self.arena.hot(head)
        {
            calls[len] = (head, arg);
            len += 1;
            head = func;
        }
        let calls = &calls[..len];
        let mut func = self.operand(head, env)?;
        // A curried chain given exactly its arguments: they are made straight into its frame.
        if let Value::Lambda(closure) = &func
            && closure.applied == 0
            && matches!(&closure.lambda.param, Param::Curried(names) if names.len() == calls.len())
        {
            let mut slots = crate::env::Slots::new();
            for &(_, arg) in calls.iter().rev() {
                slots.push(self.thunk(arg, env).into());
            }
            let span = Some(self.arena.span(id));
            self.step(span)?;
            let frame = Env::from_slots(&closure.env, slots);
            return self.enter(closure.lambda.body, &frame, span);
        }
        let mut args: SmallVec<[Thunk; 4]> = SmallVec::new();
        for &(_, arg) in calls.iter().rev() {
            args.push(self.thunk(arg, env));
        }
        if let Value::PrimOp(op) = &func
            && op.arity == args.len()
        {
            let span = Some(self.arena.span(id));
            self.step(span)?;
            self.call_site = span;
            return with_span((op.func)(self, &args), span, op.name);
        }
        // A curried chain takes its arguments at once, placed at the application that gives
        // the last of them; any further ones are applied one by one below.
        let mut given = 0;
        if let Value::Lambda(closure) = &func
            && let Param::Curried(names) = &closure.lambda.param
            && args.len() >= names.len() - closure.applied as usize
        {
            given = names.len() - closure.applied as usize;
            let span = Some(self.arena.span(calls[calls.len() - given].0));
            func = self.call_args(func, &args[..given], span)?;
        }
        for (i, arg) in args.into_iter().enumerate().skip(given) {
            let span = Some(self.arena.span(calls[calls.len() - 1 - i].0));
            func = self.apply(func, arg, span)?;
        }
        Ok(func)
    }

    /// Calls a function value with one argument.
    pub(crate) fn apply(
        &mut self,
        func: Value,
        arg: Thunk,
        span: Option<Span>,
    ) -> EvalResult<Value> {
        match func {
            Value::Lambda(closure) => self.deeper(span, |m| m.call_lambda(&closure, arg, span)),
            // A builtin's call is one level deeper too: recursion can run through builtins
            // alone (each element of `map toString l` forcing one of `l`, itself a map).
            Value::PrimOp(op) => {
                if op.arity == 1 {
                    self.step(span)?;
                    self.call_site = span;
                    return self.deeper(span, |m| with_span((op.func)(m, &[arg]), span, op.name));
                }
                Ok(Value::PrimOpApp(Rc::new(PrimOpApp { op, args: vec![arg] })))
            }
            Value::PrimOpApp(partial) => {
                let mut args = partial.args.clone();
                args.push(arg);
                if args.len() == partial.op.arity {
                    self.step(span)?;
                    self.call_site = span;
                    let op = &partial.op;
                    return self.deeper(span, |m| with_span((op.func)(m, &args), span, op.name));
                }
                Ok(Value::PrimOpApp(Rc::new(PrimOpApp { op: partial.op.clone(), args })))
            }
            Value::Attrs(attrs) => {
                let Some(functor) = attrs.get("__functor").cloned() else {
                    let got = Value::Attrs(attrs).describe();
                    return Err(EvalError::new(ErrorKind::NotAFunction { got }, span));
                };
                let functor = self.force(&functor)?;
                // The set, then the argument: a functor written `self: x: …` gets both in one
                // frame (`call_args` counts the depth of a call it makes).
                let with_self = Thunk::value(Value::Attrs(attrs));
                self.deeper(span, |m| m.call_args(functor, &[with_self, arg], span))
            }
            other => Err(EvalError::new(ErrorKind::NotAFunction { got: other.describe() }, span)),
        }
    }

    pub(super) fn call_lambda(
        &mut self,
        closure: &Closure,
        arg: Thunk,
        span: Option<Span>,
    ) -> EvalResult<Value> {
        let lambda = &closure.lambda;
        match &lambda.param {
            Param::Ident(_) => {
                let frame = Env::one(&closure.env, arg);
                self.eval(lambda.body, &frame)
            }
            Param::Curried(names) => {
                let frame = curried_frame(closure, std::slice::from_ref(&arg));
                if closure.applied as usize + 1 == names.len() {
                    return self.eval(lambda.body, &frame);
                }
                let applied = closure.applied + 1;
                Ok(Value::Lambda(Rc::new(Closure { lambda: lambda.clone(), env: frame, applied })))
            }
            Param::Pattern { .. } => {
                let value = self.force(&arg)?;
                self.call_pattern(closure, value, Some(arg), span)
            }
        }
    }

    /// A set pattern's call with its argument already evaluated (a call site evaluates it
    /// first: a set pattern always forces it), with no cell made for it when no `@` binding
    /// keeps it.
    pub(super) fn apply_pattern(
        &mut self,
        closure: &Closure,
        value: Value,
        span: Option<Span>,
    ) -> EvalResult<Value> {
        self.deeper(span, |m| m.call_pattern(closure, value, None, span))
    }

    /// Calls a function with a set pattern on `value` (its argument, forced; `arg` its cell,
    /// if there is one, for an `@` binding).
    fn call_pattern(
        &mut self,
        closure: &Closure,
        value: Value,
        arg: Option<Thunk>,
        span: Option<Span>,
    ) -> EvalResult<Value> {
        let lambda = &closure.lambda;
        let Param::Pattern { formals, ellipsis, bind } = &lambda.param else {
            return Err(EvalError::new(ErrorKind::NotAFunction { got: "a function" }, span));
        };
        let Value::Attrs(attrs) = value else {
            return Err(type_error("a set (the function takes named arguments)", &value, span));
        };
        // As Nix: a missing argument is reported before an unexpected one.
        let frame = Env::pending(&closure.env, formals.len() + usize::from(bind.is_some()));
        for (slot, formal) in formals.iter().enumerate() {
            let thunk = match (attrs.get(&formal.name), formal.default) {
                (Some(thunk), _) => thunk.clone(),
                // As Nix's `maybeThunk`: a literal or a variable needs no thunk of its own.
                (None, Some(default)) => self.thunk(default, &frame),
                (None, None) => {
                    // A name given that the function does not take may be this one misspelt.
                    let unknown = attrs.names().filter(|n| !formals.iter().any(|f| &*f.name == *n));
                    let help = crate::suggest::did_you_mean(&formal.name, unknown).map(|given| {
                        format!("`{given}` was given: did you mean `{}`?", formal.name)
                    });
                    let kind = ErrorKind::MissingArgument { name: formal.name.to_string() };
                    return Err(self.pattern_error(lambda, kind, help, span));
                }
            };
            frame.set(slot, thunk);
        }
        if !ellipsis {
            for name in attrs.names() {
                // Names written in the program are interned: most match by address.
                let known = |f: &crate::ir::Formal| {
                    std::ptr::eq(f.name.as_ptr(), name.as_ptr()) && f.name.len() == name.len()
                        || &*f.name == name
                };
                if !formals.iter().any(known) {
                    // A near miss is one of the arguments not given (`nmae` for `name`).
                    let unused = formals.iter().filter(|f| attrs.get(&f.name).is_none());
                    let help = match crate::suggest::did_you_mean(name, unused.map(|f| &*f.name)) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "the function takes: {}",
                            formals
                                .iter()
                                .map(|f| format!("`{}`", f.name))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    let kind = ErrorKind::UnexpectedArgument { name: name.to_owned() };
                    return Err(self.pattern_error(lambda, kind, Some(help), span));
                }
            }
        }
        if bind.is_some() {
            let arg = arg.unwrap_or_else(|| Thunk::value(Value::Attrs(attrs.clone())));
            frame.set(formals.len(), arg);
        }
        self.eval(lambda.body, &frame)
    }
}

impl Machine {
    /// An error about the arguments a set pattern was given, placed at the call, with the
    /// pattern labelled (as Nix names the function by where it is written).
    fn pattern_error(
        &self,
        lambda: &crate::ir::Lambda,
        kind: ErrorKind,
        help: Option<String>,
        span: Option<Span>,
    ) -> Box<EvalError> {
        let mut error = EvalError::new(kind, span);
        error.help = help;
        let what = match &lambda.name {
            Some(name) => format!("the arguments `{name}` takes"),
            None => "the arguments the function takes".into(),
        };
        error.labels.push((lambda.head(0), what));
        error
    }
}

/// The frame of a curried chain: the arguments `closure` was already given, then `args`.
fn curried_frame(closure: &Closure, args: &[Thunk]) -> Rc<Env> {
    // Pushed one by one: collecting into the small vector went through its general (and
    // much slower) growth code.
    if closure.applied == 0
        && let [a, b] = args
    {
        return Env::two(&closure.env, a.clone(), b.clone());
    }
    let mut slots = crate::env::Slots::new();
    if closure.applied == 0 {
        for arg in args {
            slots.push(arg.clone().into());
        }
        return Env::from_slots(&closure.env, slots);
    }
    for earlier in closure.env.slots() {
        slots.push(earlier.clone());
    }
    for arg in args {
        slots.push(arg.clone().into());
    }
    // Invariant: a closure with arguments applied holds their frame, whose parent is the
    // environment it closes over.
    match &closure.env.parent {
        Some(parent) => Env::from_slots(parent, slots),
        None => Env::from_slots(&closure.env, slots),
    }
}

/// Places an error raised inside a builtin at the call, and notes the builtin in the trace.
/// In line (every builtin call's result passes through), the error path out of line.
#[inline(always)]
pub(super) fn with_span<T>(result: EvalResult<T>, span: Option<Span>, name: &str) -> EvalResult<T> {
    match result {
        Ok(value) => Ok(value),
        Err(error) => Err(place(error, span, name)),
    }
}

#[cold]
#[inline(never)]
fn place(mut error: Box<EvalError>, span: Option<Span>, name: &str) -> Box<EvalError> {
    if error.span.is_none() {
        error.span = span;
    } else if let Some(span) = span {
        error.trace.push((span, format!("while calling `builtins.{name}`")));
    }
    error
}
