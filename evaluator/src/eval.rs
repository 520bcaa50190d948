//! The lazy machine: evaluates IR nodes in environments, forces thunks at most once, applies
//! functions. Deep recursion is bounded by a depth counter and served by a growable stack, so
//! no program can crash the process.

mod load;
mod ops;
mod values;

use self::load::stdlib_path;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::PathBuf,
    rc::Rc,
};

use lang::{SourceMap, Span};
use smallvec::SmallVec;

use crate::{
    builtins,
    env::Env,
    error::{ErrorKind, EvalError, EvalResult},
    io::{EvalIo, Input},
    ir::{Arena, AttrKey, AttrValue, Expr, ExprId, Hot, Param, Part, Var},
    lower,
    value::{Attrs, Closure, NixString, PrimOpApp, Thunk, ThunkState, Value},
};

/// How deep evaluation may nest (expressions inside expressions, calls inside calls): a
/// strict right fold over 50,000 elements fits (Nix 2.8 overflows between 20,000 and 50,000).
pub(crate) const MAX_DEPTH: usize = 300_000;
/// Stack kept free before growing; each growth adds a segment of this size.
const RED_ZONE: usize = 256 * 1024;
const STACK_SEGMENT: usize = 8 * 1024 * 1024;

pub(crate) struct Machine {
    pub(crate) arena: Arena,
    pub(crate) io: Box<dyn EvalIo>,
    sources: SourceMap,
    inputs: BTreeSet<Input>,
    imports: HashMap<PathBuf, Value>,
    pub(crate) globals: Globals,
    depth: usize,
    /// The call site of the builtin being applied (for builtins that remember where they
    /// were called, as `infra.component` does).
    pub(crate) call_site: Option<Span>,
    /// Where each component and stack was declared, indexed by their `__decl` attribute.
    pub(crate) decls: Vec<Option<Span>>,
    /// Compiled regular expressions of `match` (`[true]`: anchored) and `split`, by pattern.
    /// Shared, not cloned: a cloned `Regex` starts with no matching cache of its own.
    pub(crate) regex_cache: [HashMap<String, Rc<regex::Regex>>; 2],
    /// Where each output placeholder was first made (`vpc.outputs.id`, `infra.output …`), by
    /// component (as written: a name or an address) and output, for messages about it.
    pub(crate) output_sites: HashMap<(Rc<str>, Rc<str>), Span>,
    /// The one cell of each literal (`1`, `"a"`, `./p`) used where a thunk is wanted (an
    /// argument, an attribute, a list element), by node: made once, shared by every use (a
    /// computed value is never changed, and only a list's identity matters to printing).
    constants: Vec<Option<Thunk>>,
}

// What every thunk, value and frame costs: evaluation allocates millions of them.
const _: () = assert!(std::mem::size_of::<Value>() == 24);
// A cell is the reference counts, the borrow flag and this: 48 bytes (mimalloc's size class).
const _: () = assert!(std::mem::size_of::<crate::value::ThunkState>() == 24);
// A frame with its reference counts is 64 bytes (a `with` keeps its namespace in a slot).
const _: () = assert!(std::mem::size_of::<Env>() == 48);

/// The global scope, by name for lowering and by slot for evaluation (a variable lowered to a
/// global is one index away from its value, not a name lookup).
#[derive(Default)]
pub(crate) struct Globals {
    slots: BTreeMap<&'static str, u32>,
    values: Vec<Thunk>,
}

impl Globals {
    /// Makes `builtins.NAME` (a member of the `builtins` set) lowerable to the global `__NAME`:
    /// an index entry `builtins.NAME` (not an identifier, so no clash) for its slot.
    pub(crate) fn alias_member(&mut self, name: &str) {
        if let Some(slot) = self.slot(&format!("__{name}")) {
            let key: &'static str = Box::leak(format!("builtins.{name}").into_boxed_str());
            self.slots.insert(key, slot);
        }
    }

    /// Defines (or redefines) `name`.
    pub(crate) fn insert(&mut self, name: &'static str, value: Thunk) {
        match self.slots.get(name) {
            Some(&slot) => self.values[slot as usize] = value,
            None => {
                self.slots.insert(name, self.values.len() as u32);
                self.values.push(value);
            }
        }
    }

    pub(crate) fn slot(&self, name: &str) -> Option<u32> {
        self.slots.get(name).copied()
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Thunk> {
        self.at(self.slot(name)?)
    }

    pub(crate) fn at(&self, slot: u32) -> Option<&Thunk> {
        self.values.get(slot as usize)
    }
}

/// What the core evaluator is given from outside (tvix-eval takes its extra builtins from
/// tvix-glue the same way): builtins beyond Nix's, as global names, and global values
/// defined by an expression evaluated lazily (`infra = import <infra>`).
pub(crate) struct Extensions {
    pub(crate) builtins: &'static [(&'static str, usize, crate::value::PrimOpFn)],
    pub(crate) globals: &'static [(&'static str, &'static str)],
}

impl Machine {
    pub(crate) fn new(io: Box<dyn EvalIo>, arena: Arena, extensions: &Extensions) -> Machine {
        let mut machine = Machine {
            arena,
            io,
            sources: SourceMap::new(),
            inputs: BTreeSet::new(),
            imports: HashMap::new(),
            globals: Globals::default(),
            depth: 0,
            call_site: None,
            decls: Vec::new(),
            regex_cache: Default::default(),
            output_sites: HashMap::new(),
            constants: Vec::new(),
        };
        for (name, thunk) in builtins::globals() {
            machine.globals.insert(name, thunk);
        }
        for &(name, arity, func) in extensions.builtins {
            let op = Value::PrimOp(Rc::new(crate::value::PrimOp { name, arity, func }));
            machine.globals.insert(name, Thunk::value(op));
        }
        for &(name, expression) in extensions.globals {
            let thunk = machine.prelude_thunk(expression);
            machine.globals.insert(name, thunk);
        }
        if let Some(Value::Attrs(set)) = machine.globals.get("builtins").and_then(Thunk::get) {
            let names: Vec<String> = set.names().map(str::to_owned).collect();
            for name in names {
                machine.globals.alias_member(&name);
            }
        }
        // `derivation` is written in the language over `derivationStrict`, as in Nix.
        let derivation = machine.prelude_thunk(builtins::DERIVATION);
        machine.globals.insert("derivation", derivation.clone());
        if let Some(Value::Attrs(set)) = machine.globals.get("builtins").and_then(Thunk::get) {
            let mut entries: Vec<(Rc<str>, Thunk)> =
                set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            entries.push(("derivation".into(), derivation));
            machine
                .globals
                .insert("builtins", Thunk::value(Value::attrs(Attrs::from_entries(entries))));
        }
        machine
    }

    pub(crate) fn sources(&self) -> &SourceMap {
        &self.sources
    }

    pub(crate) fn inputs(&self) -> Vec<Input> {
        self.inputs.iter().cloned().collect()
    }

    pub(crate) fn sources_mut(&mut self) -> &mut SourceMap {
        &mut self.sources
    }

    pub(crate) fn record(&mut self, input: Input) {
        self.inputs.insert(input);
    }

    /// Evaluates an expression to weak head normal form.
    pub(crate) fn eval(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        self.depth += 1;
        // Checking the stack costs a thread-local read: do it every few levels only; the red
        // zone is far larger than what those levels use. Both rare paths are out of line, so
        // this function stays small.
        let result = if self.depth > MAX_DEPTH {
            self.too_deep(id)
        } else if self.depth.is_multiple_of(8) {
            self.eval_with_stack(id, env)
        } else {
            self.eval_inner(id, env)
        };
        self.depth -= 1;
        result
    }

    #[inline(never)]
    fn eval_with_stack(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.eval_inner(id, env))
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, id: ExprId) -> EvalResult<Value> {
        Err(EvalError::new(ErrorKind::MaxCallDepth, Some(self.arena.span(id))))
    }

    fn eval_inner(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        // The hottest forms, copied out of the arena's node: no reference count touched, no
        // `Expr` decoded.
        let hot = self.arena.hot(id);
        match hot {
            Hot::Int(i) => Ok(Value::Int(i)),
            Hot::Local(depth, slot) => {
                let thunk = match env.up(depth) {
                    Some(frame) => {
                        let slots = frame.slots.borrow();
                        match slots.get(slot as usize) {
                            // Already computed: read it in place, no handle cloned.
                            Some(thunk) => match thunk.get() {
                                Some(value) => return Ok(value),
                                None => Some(thunk.clone()),
                            },
                            None => None,
                        }
                    }
                    None => None,
                };
                match thunk {
                    Some(thunk) => self.force(&thunk),
                    None => {
                        Err(EvalError::new(ErrorKind::InfiniteRecursion, Some(self.arena.span(id))))
                    }
                }
            }
            Hot::Global(slot) => match self.globals.at(slot) {
                Some(thunk) => match thunk.get() {
                    Some(value) => Ok(value),
                    None => {
                        let thunk = thunk.clone();
                        self.force(&thunk)
                    }
                },
                None => {
                    let expr = self.arena.shared(id);
                    self.eval_other(&expr, id, env)
                }
            },
            Hot::Apply(func, arg) => {
                if let Hot::Apply(..) = self.arena.hot(func) {
                    return self.apply_chain(id, env);
                }
                let func = self.operand(func, env)?;
                let arg = self.thunk(arg, env);
                self.apply(func, arg, Some(self.arena.span(id)))
            }
            Hot::If(cond, then, otherwise) => {
                let branch = if self.eval_bool(cond, env)? { then } else { otherwise };
                self.eval(branch, env)
            }
            Hot::BinOp(op, lhs, rhs) => self.binop(op, lhs, rhs, env, id),
            Hot::Other => {
                let expr = self.arena.shared(id);
                self.eval_other(&expr, id, env)
            }
        }
    }

    /// An operand, or the function of an application: an integer literal or a variable
    /// already computed is read at once (most operands of `+`, `-`, `==`, `<` are, and most
    /// functions applied), anything else evaluated.
    #[inline(always)]
    fn operand(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        match self.arena.hot(id) {
            Hot::Int(i) => Ok(Value::Int(i)),
            Hot::Local(depth, slot) => {
                let pending = match env.up(depth) {
                    Some(frame) => match frame.slots.borrow().get(slot as usize) {
                        Some(thunk) => match thunk.get() {
                            Some(value) => return Ok(value),
                            None => thunk.clone(),
                        },
                        None => return self.eval(id, env),
                    },
                    None => return self.eval(id, env),
                };
                self.force(&pending)
            }
            Hot::Global(slot) => match self.globals.at(slot).and_then(Thunk::get) {
                Some(value) => Ok(value),
                None => self.eval(id, env),
            },
            _ => self.eval(id, env),
        }
    }

    /// Everything but the hottest forms, kept out of `eval_inner` so that its frame stays
    /// small (most evaluation steps are variables, applications, conditionals, operators).
    #[inline(never)]
    fn eval_other(&mut self, expr: &Expr, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        let span = self.arena.span(id);
        match expr {
            Expr::Int(i) => Ok(Value::Int(*i)),
            Expr::Float(x) => Ok(Value::Float(*x)),
            Expr::Str(s) => Ok(Value::String(NixString::new(s.clone(), None))),
            Expr::Path(p) => Ok(Value::Path(p.clone())),
            Expr::SearchPath(name) => match stdlib_path(name) {
                Some(path) => Ok(Value::Path(Rc::new(path))),
                None => {
                    let mut error = EvalError::new(
                        ErrorKind::Io {
                            path: format!("<{name}>"),
                            message: "no such search path".into(),
                        },
                        Some(span),
                    );
                    let names: Vec<String> = stdlib::modules()
                        .iter()
                        .map(|m| {
                            if m.name == "default" {
                                "<infra>".into()
                            } else {
                                format!("<infra/{}>", m.name)
                            }
                        })
                        .collect();
                    error.help = Some(format!("the search paths are {}", names.join(", ")));
                    Err(error)
                }
            },
            Expr::Var(var) => {
                let thunk = self.lookup(var, env, span)?;
                self.force(&thunk)
            }
            Expr::Interpolate(parts) => self.interpolate(parts, env, true),
            Expr::PathInterpolate(parts) => {
                let text = self.interpolate(parts, env, false)?;
                let text = match &text {
                    Value::String(s) => lower::canonical_path(s.as_str()),
                    _ => String::new(),
                };
                Ok(Value::Path(Rc::new(PathBuf::from(text))))
            }
            Expr::List(items) => Ok(Value::list(items.iter().map(|item| self.thunk(*item, env)))),
            Expr::Attrs { rec, statics, dynamics, .. } => {
                Ok(Value::attrs(self.attrs(*rec, statics, dynamics, env)?.with_origin(id)))
            }
            Expr::Let { bindings, body } => {
                let inner = Env::child(env, bindings.len());
                for binding in bindings {
                    let thunk = match binding {
                        AttrValue::Inner(id) => self.thunk(*id, &inner),
                        AttrValue::Outer(id) => self.thunk(*id, env),
                    };
                    inner.push(thunk);
                }
                self.eval(*body, &inner)
            }
            Expr::Lambda(lambda) => {
                let closure = Closure { lambda: lambda.clone(), env: env.clone(), applied: 0 };
                Ok(Value::Lambda(Rc::new(closure)))
            }
            Expr::Apply { func, arg } => {
                let func = self.eval(*func, env)?;
                let arg = self.thunk(*arg, env);
                self.apply(func, arg, Some(span))
            }
            Expr::Select { expr, path, default } => self.select(*expr, path, *default, env, span),
            Expr::HasAttr { expr, path } => self.has_attr(*expr, path, env),
            Expr::If { cond, then, otherwise } => {
                if self.eval_bool(*cond, env)? {
                    self.eval(*then, env)
                } else {
                    self.eval(*otherwise, env)
                }
            }
            Expr::Assert { cond, body } => {
                if self.eval_bool(*cond, env)? {
                    self.eval(*body, env)
                } else {
                    let span = self.arena.span(*cond);
                    let condition = self.source_text(span);
                    Err(EvalError::new(ErrorKind::AssertionFailed { condition }, Some(span)))
                }
            }
            Expr::With { namespace, body } => {
                let namespace = self.thunk(*namespace, env);
                self.eval(*body, &Env::with(env, namespace))
            }
            Expr::BinOp { op, lhs, rhs } => self.binop(*op, *lhs, *rhs, env, id),
            Expr::Not(operand) => Ok(Value::Bool(!self.eval_bool(*operand, env)?)),
            Expr::Negate(operand) => {
                let value = self.eval(*operand, env)?;
                ops::sub(&Value::Int(0), &value).map_err(|kind| EvalError::new(kind, Some(span)))
            }
        }
    }

    /// A thunk for an expression, avoiding one where the value is already at hand (literals,
    /// variables that already hold a thunk), exactly where Nix does, so that lazy printing
    /// shows `<CODE>` in the same places.
    pub(crate) fn thunk(&mut self, id: ExprId, env: &Rc<Env>) -> Thunk {
        // The common cases first, from the node's hot copy: a variable shares its thunk, an
        // application or an operator is suspended.
        match self.arena.hot(id) {
            Hot::Local(depth, slot) => {
                return match env.up(depth).and_then(|frame| frame.slot(slot)) {
                    Some(thunk) => thunk,
                    None => Thunk::suspended(id, env.clone()),
                };
            }
            Hot::Apply(..) | Hot::If(..) | Hot::BinOp(..) => {
                return Thunk::suspended(id, env.clone());
            }
            _ => {}
        }
        if let Some(Some(thunk)) = self.constants.get(id.index()) {
            return thunk.clone();
        }
        let literal = match self.arena.get(id) {
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(x) => Value::Float(*x),
            Expr::Str(s) => Value::String(NixString::new(s.clone(), None)),
            Expr::Path(p) => Value::Path(p.clone()),
            Expr::Var(Var::Local { depth, slot }) => {
                let (depth, slot) = (*depth, *slot);
                return match env.up(depth).and_then(|frame| frame.slot(slot)) {
                    Some(thunk) => thunk,
                    None => Thunk::suspended(id, env.clone()),
                };
            }
            Expr::Var(Var::Global { slot, .. }) => {
                return match self.globals.at(*slot) {
                    Some(thunk) => thunk.clone(),
                    None => Thunk::suspended(id, env.clone()),
                };
            }
            _ => return Thunk::suspended(id, env.clone()),
        };
        let thunk = Thunk::value(literal);
        if self.constants.len() <= id.index() {
            self.constants.resize(id.index() + 1, None);
        }
        self.constants[id.index()] = Some(thunk.clone());
        thunk
    }

    fn lookup(&mut self, var: &Var, env: &Rc<Env>, span: Span) -> EvalResult<Thunk> {
        match var {
            Var::Local { depth, slot } => {
                // Invariant: lowering computed (depth, slot) against the same frame structure
                // evaluation builds; `rec` frames fill all their slots before any is forced.
                let frame = env.up(*depth);
                frame
                    .and_then(|f| f.slot(*slot))
                    .ok_or_else(|| EvalError::new(ErrorKind::InfiniteRecursion, Some(span)))
            }
            Var::Global { name, slot } => match self.globals.at(*slot) {
                Some(thunk) => Ok(thunk.clone()),
                None if &**name == "__curPos" => Ok(Thunk::value(self.position(span))),
                None => Err(EvalError::new(
                    ErrorKind::UndefinedVariable { name: name.to_string() },
                    Some(span),
                )),
            },
            Var::With { name, withs } => {
                for &depth in withs.iter() {
                    // Invariant: lowering counted the frames evaluation builds.
                    let Some(namespace) = env.up(depth).and_then(|frame| frame.slot(0)) else {
                        continue;
                    };
                    let namespace = self.force(&namespace)?;
                    let Value::Attrs(attrs) = namespace else {
                        return Err(type_error("a set", &namespace, span));
                    };
                    if let Some(thunk) = attrs.get(name) {
                        return Ok(thunk.clone());
                    }
                }
                Err(EvalError::new(
                    ErrorKind::UndefinedVariable { name: name.to_string() },
                    Some(span),
                ))
            }
        }
    }

    /// Runs `f` one level deeper: counted against the depth limit, with stack to spare. Every
    /// recursion over values (equality, printing, coercion, JSON) goes through here, so a
    /// deep or cyclic value is an error, never a crash.
    pub(crate) fn nested<T>(
        &mut self,
        span: Option<Span>,
        f: impl FnOnce(&mut Self) -> EvalResult<T>,
    ) -> EvalResult<T> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(EvalError::new(ErrorKind::MaxCallDepth, span));
        }
        let result = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || f(self));
        self.depth -= 1;
        result
    }

    /// Forces a thunk to weak head normal form; a thunk that needs itself is an error.
    pub(crate) fn force(&mut self, thunk: &Thunk) -> EvalResult<Value> {
        if let Some(value) = thunk.get() {
            return Ok(value);
        }
        match thunk.begin() {
            ThunkState::Done(value) => {
                thunk.finish(value.clone());
                Ok(value)
            }
            ThunkState::Blackhole { expr } => {
                thunk.restore(ThunkState::Blackhole { expr });
                let span = expr.map(|e| self.arena.span(e));
                let mut error = EvalError::new(ErrorKind::InfiniteRecursion, span);
                error.help = Some("this value is defined in terms of itself".into());
                Err(error)
            }
            ThunkState::Suspended { expr, env } => {
                let result = self.eval(expr, &env);
                settle(thunk, result, || ThunkState::Suspended { expr, env })
            }
            ThunkState::Apply1 { func, arg } => {
                let result = self.call_all((*func).clone(), std::slice::from_ref(&arg));
                settle(thunk, result, || ThunkState::Apply1 { func, arg })
            }
            ThunkState::ApplyIndex { func, index } => {
                let result = self.call_all((*func).clone(), &[Thunk::value(Value::Int(index))]);
                settle(thunk, result, || ThunkState::ApplyIndex { func, index })
            }
            ThunkState::Apply2 { func, args } => {
                let result = self.call_all((*func).clone(), &args[..]);
                settle(thunk, result, || ThunkState::Apply2 { func, args })
            }
        }
    }

    /// Applies `func` to each argument in turn (for builtins and lazy applications, which
    /// have no call site of their own; the builtin's caller places errors).
    pub(crate) fn call_all(&mut self, func: Value, args: &[Thunk]) -> EvalResult<Value> {
        self.call_args(func, args, None)
    }

    /// Applies `func` to each argument in turn; a curried chain `a: b: body` given all its
    /// arguments gets them in one frame.
    fn call_args(
        &mut self,
        mut func: Value,
        args: &[Thunk],
        span: Option<Span>,
    ) -> EvalResult<Value> {
        let mut i = 0;
        while i < args.len() {
            if let Value::Lambda(closure) = &func
                && let Param::Curried(names) = &closure.lambda.param
                && args.len() - i >= names.len() - closure.applied as usize
            {
                let take = names.len() - closure.applied as usize;
                let body = closure.lambda.body;
                let frame = curried_frame(closure, &args[i..i + take]);
                self.depth += 1;
                // The stack is checked here too, as in `apply`: a cycle of this call and one
                // `eval` raises the depth by two and could meet `eval`'s check only on odd
                // depths.
                let result = if self.depth > MAX_DEPTH {
                    Err(EvalError::new(ErrorKind::MaxCallDepth, span))
                } else if self.depth.is_multiple_of(8) {
                    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.eval(body, &frame))
                } else {
                    self.eval(body, &frame)
                };
                self.depth -= 1;
                func = result?;
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
    fn apply_chain(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        // The applications, outermost first, and the function at the bottom.
        let mut calls: SmallVec<[(ExprId, ExprId); 4]> = SmallVec::new();
        let mut head = id;
        while calls.len() < 4
            && let Expr::Apply { func, arg } = self.arena.get(head)
        {
            calls.push((head, *arg));
            head = *func;
        }
        let mut func = self.operand(head, env)?;
        let mut args: SmallVec<[Thunk; 4]> = SmallVec::new();
        for &(_, arg) in calls.iter().rev() {
            args.push(self.thunk(arg, env));
        }
        if let Value::PrimOp(op) = &func
            && op.arity == args.len()
        {
            let span = Some(self.arena.span(id));
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
            Value::Lambda(closure) => {
                self.depth += 1;
                // The stack is checked here too: a cycle of one `eval` and one call raises the
                // depth by two, and would never meet `eval`'s check on odd depths.
                let result = if self.depth > MAX_DEPTH {
                    Err(EvalError::new(ErrorKind::MaxCallDepth, span))
                } else if self.depth.is_multiple_of(8) {
                    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
                        self.call_lambda(&closure, arg, span)
                    })
                } else {
                    self.call_lambda(&closure, arg, span)
                };
                self.depth -= 1;
                result
            }
            Value::PrimOp(op) => {
                if op.arity == 1 {
                    self.call_site = span;
                    return with_span((op.func)(self, &[arg]), span, op.name);
                }
                Ok(Value::PrimOpApp(Rc::new(PrimOpApp { op, args: vec![arg] })))
            }
            Value::PrimOpApp(partial) => {
                let mut args = partial.args.clone();
                args.push(arg);
                if args.len() == partial.op.arity {
                    self.call_site = span;
                    return with_span((partial.op.func)(self, &args), span, partial.op.name);
                }
                Ok(Value::PrimOpApp(Rc::new(PrimOpApp { op: partial.op.clone(), args })))
            }
            Value::Attrs(attrs) if attrs.get("__functor").is_some() => {
                let functor = attrs.get("__functor").cloned();
                let functor = self.force(&functor.unwrap_or_else(|| Thunk::value(Value::Null)))?;
                // The set, then the argument: a functor written `self: x: …` gets both in one
                // frame.
                let with_self = Thunk::value(Value::Attrs(attrs));
                self.nested(span, |m| m.call_args(functor, &[with_self, arg], span))
            }
            other => Err(EvalError::new(ErrorKind::NotAFunction { got: other.describe() }, span)),
        }
    }

    fn call_lambda(
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
            Param::Pattern { formals, ellipsis, bind } => {
                let value = self.force(&arg)?;
                let Value::Attrs(attrs) = value else {
                    return Err(type_error(
                        "a set (the function takes named arguments)",
                        &value,
                        span,
                    ));
                };
                if !ellipsis {
                    for name in attrs.names() {
                        // Names written in the program are interned: most match by address.
                        let known = |f: &crate::ir::Formal| {
                            std::ptr::eq(f.name.as_ptr(), name.as_ptr())
                                && f.name.len() == name.len()
                                || &*f.name == name
                        };
                        if !formals.iter().any(known) {
                            let mut error = EvalError::new(
                                ErrorKind::UnexpectedArgument { name: name.to_owned() },
                                span,
                            );
                            let expected = formals.iter().map(|f| &*f.name);
                            error.help = Some(match crate::suggest::did_you_mean(name, expected) {
                                Some(s) => format!("did you mean `{s}`?"),
                                None => format!(
                                    "the function takes: {}",
                                    formals
                                        .iter()
                                        .map(|f| format!("`{}`", f.name))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            });
                            error
                                .labels
                                .push((self.arena.span(lambda.body), "the function".into()));
                            return Err(error);
                        }
                    }
                }
                let frame = Env::child(&closure.env, formals.len() + usize::from(bind.is_some()));
                for formal in formals {
                    let thunk = match (attrs.get(&formal.name), formal.default) {
                        (Some(thunk), _) => thunk.clone(),
                        (None, Some(default)) => Thunk::suspended(default, frame.clone()),
                        (None, None) => {
                            let mut error = EvalError::new(
                                ErrorKind::MissingArgument { name: formal.name.to_string() },
                                span,
                            );
                            let what = match &lambda.name {
                                Some(name) => format!("the body of `{name}`"),
                                None => "the function body".into(),
                            };
                            error.labels.push((self.arena.span(lambda.body), what));
                            return Err(error);
                        }
                    };
                    frame.push(thunk);
                }
                if bind.is_some() {
                    frame.push(arg);
                }
                self.eval(lambda.body, &frame)
            }
        }
    }

    fn attrs(
        &mut self,
        rec: bool,
        statics: &[(Rc<str>, AttrValue)],
        dynamics: &[(ExprId, ExprId)],
        env: &Rc<Env>,
    ) -> EvalResult<Attrs> {
        let scope = if rec { Env::child(env, statics.len()) } else { env.clone() };
        let mut entries = Vec::with_capacity(statics.len() + dynamics.len());
        // With `__overrides`, every value gets a thunk of its own (no shortcut to another
        // attribute's), so that references inside the set see the overrides, as in Nix.
        let overridden = rec && statics.iter().any(|(name, _)| &**name == "__overrides");
        for (name, value) in statics {
            let thunk = match value {
                AttrValue::Inner(id) if overridden => Thunk::suspended(*id, scope.clone()),
                AttrValue::Inner(id) => self.thunk(*id, &scope),
                AttrValue::Outer(id) => self.thunk(*id, env),
            };
            if rec {
                scope.push(thunk.clone());
            }
            entries.push((name.clone(), thunk));
        }
        if rec {
            self.overrides(&mut entries, &scope)?;
        }
        for (key, value) in dynamics {
            let key_value = self.eval(*key, &scope)?;
            let name = match key_value {
                Value::String(s) => s.text(),
                // `${null} = …` adds nothing, as in Nix.
                Value::Null => continue,
                other => return Err(type_error("a string", &other, self.arena.span(*key))),
            };
            if entries.iter().any(|(n, _)| *n == name) {
                let mut error = EvalError::new(
                    ErrorKind::BadArgument {
                        builtin: "set",
                        message: format!("dynamic attribute `{name}` already defined"),
                    },
                    Some(self.arena.span(*key)),
                );
                error.help = Some("attribute names in one set must differ".into());
                return Err(error);
            }
            let thunk = self.thunk(*value, &scope);
            entries.push((name, thunk));
        }
        Ok(Attrs::from_entries(entries))
    }

    /// Where the set literal `origin` writes the static attribute `name`.
    pub(crate) fn attr_position(&self, origin: ExprId, name: &str) -> Option<Value> {
        let Expr::Attrs { statics, keys, .. } = self.arena.get(origin) else { return None };
        let index = statics.iter().rposition(|(n, _)| &**n == name)?;
        Some(self.position(*keys.get(index)?))
    }

    /// `rec { …; __overrides = { a = …; }; }` (an old Nix feature nixpkgs once used): each
    /// attribute of `__overrides` replaces the one of the same name, also for the references
    /// to it inside the set, or is added.
    fn overrides(
        &mut self,
        entries: &mut Vec<(Rc<str>, Thunk)>,
        scope: &Rc<Env>,
    ) -> EvalResult<()> {
        let Some(index) = entries.iter().position(|(n, _)| &**n == "__overrides") else {
            return Ok(());
        };
        let thunk = entries[index].1.clone();
        let overrides = match self.force(&thunk)? {
            Value::Attrs(attrs) => attrs,
            other => return Err(type_error("a set", &other, None)),
        };
        for (name, value) in overrides.iter() {
            match entries.iter().position(|(n, _)| n == name) {
                Some(slot) => {
                    scope.slots.borrow_mut()[slot] = value.clone();
                    entries[slot].1 = value.clone();
                }
                None => entries.push((name.clone(), value.clone())),
            }
        }
        Ok(())
    }

    fn select(
        &mut self,
        expr: ExprId,
        path: &[AttrKey],
        default: Option<ExprId>,
        env: &Rc<Env>,
        span: Span,
    ) -> EvalResult<Value> {
        let mut value = self.eval(expr, env)?;
        for key in path {
            let dynamic;
            let name: &Rc<str> = match key {
                AttrKey::Static(name) => name,
                AttrKey::Dynamic(_) => {
                    dynamic = self.attr_name(key, env)?;
                    &dynamic
                }
            };
            let thunk = match &value {
                Value::Attrs(attrs) => match attrs.get(name) {
                    Some(thunk) => thunk.clone(),
                    None => match default {
                        Some(default) => return self.eval(default, env),
                        None => return Err(missing_attribute(attrs, name, span)),
                    },
                },
                Value::Outputs(component) => {
                    self.output_sites.entry((component.clone(), name.clone())).or_insert(span);
                    value = Value::String(crate::value::placeholder(component, name));
                    continue;
                }
                _ if default.is_some() => return self.eval(default.unwrap_or(expr), env),
                other => {
                    let mut error = type_error("a set", other, span);
                    error.help = Some(format!("while selecting the attribute `{name}`"));
                    return Err(error);
                }
            };
            value = match thunk.get() {
                Some(done) => done,
                None => self.force(&thunk).map_err(|mut e| {
                    e.trace.push((span, format!("while evaluating the attribute `{name}`")));
                    e
                })?,
            };
        }
        Ok(value)
    }

    /// `e ? a.b.c`: forces `e`, `e.a` and `e.a.b`, never the value of `c` itself.
    fn has_attr(&mut self, expr: ExprId, path: &[AttrKey], env: &Rc<Env>) -> EvalResult<Value> {
        let mut value = self.eval(expr, env)?;
        for (i, key) in path.iter().enumerate() {
            let name = self.attr_name(key, env)?;
            if let Value::Outputs(component) = &value {
                // Any name may be an output; `comp.outputs ? x.y` looks inside a placeholder.
                value = Value::String(crate::value::placeholder(component, &name));
                continue;
            }
            let Value::Attrs(attrs) = &value else { return Ok(Value::Bool(false)) };
            let Some(thunk) = attrs.get(&name).cloned() else { return Ok(Value::Bool(false)) };
            if i + 1 < path.len() {
                value = self.force(&thunk)?;
            }
        }
        Ok(Value::Bool(true))
    }

    fn attr_name(&mut self, key: &AttrKey, env: &Rc<Env>) -> EvalResult<Rc<str>> {
        match key {
            AttrKey::Static(name) => Ok(name.clone()),
            AttrKey::Dynamic(id) => match self.eval(*id, env)? {
                Value::String(s) => Ok(s.text()),
                other => Err(type_error("a string", &other, self.arena.span(*id))),
            },
        }
    }

    fn eval_bool(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<bool> {
        // A condition is most often a comparison or a variable: neither needs a full
        // evaluation step of its own. (`&&`, `||` and `->` take one: they come back here for
        // their operands, and a long chain of them must count against the depth.)
        use lang::ast::BinaryOp as B;
        let value = match self.arena.hot(id) {
            Hot::BinOp(op, lhs, rhs) if !matches!(op, B::And | B::Or | B::Implication) => {
                self.binop(op, lhs, rhs, env, id)?
            }
            _ => self.operand(id, env)?,
        };
        match value {
            Value::Bool(b) => Ok(b),
            other => Err(type_error("a Boolean", &other, self.arena.span(id))),
        }
    }

    /// A string (`string`: a path in it must exist, as Nix copies it to its store) or the
    /// text of an interpolated path.
    fn interpolate(&mut self, parts: &[Part], env: &Rc<Env>, string: bool) -> EvalResult<Value> {
        let literal: usize =
            parts.iter().map(|p| if let Part::Literal(s) = p { s.len() } else { 0 }).sum();
        let mut text = String::with_capacity(literal + 16 * parts.len());
        // Only strings with a context contribute to the result's (most have none).
        let mut with_context = Vec::new();
        for part in parts {
            match part {
                Part::Literal(s) => text.push_str(s),
                Part::Expr(id) => {
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
        Ok(Value::String(NixString::new(text.into(), context)))
    }

    /// `{ file; line; column; }` of `span` (`__curPos`).
    fn position(&self, span: Span) -> Value {
        let at = self.sources.line_col(span.file, span.range.start());
        let file = self.sources.name(span.file).to_owned();
        Value::attrs(Attrs::from_sorted(vec![
            ("column".into(), Thunk::value(Value::Int(i64::from(at.column)))),
            ("file".into(), Thunk::value(Value::string(&file))),
            ("line".into(), Thunk::value(Value::Int(i64::from(at.line)))),
        ]))
    }

    /// The source text of `span` on one line, shortened to 80 characters.
    fn source_text(&self, span: Span) -> String {
        let text = self.sources.text(span.file);
        let range = std::ops::Range::<usize>::from(span.range);
        let text = text.get(range).unwrap_or_default();
        let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.chars().count() > 80 {
            format!("{}…", line.chars().take(79).collect::<String>())
        } else {
            line
        }
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

    fn binop(
        &mut self,
        op: lang::ast::BinaryOp,
        lhs: ExprId,
        rhs: ExprId,
        env: &Rc<Env>,
        id: ExprId,
    ) -> EvalResult<Value> {
        use lang::ast::BinaryOp as B;
        match op {
            B::And => {
                if !self.eval_bool(lhs, env)? {
                    return Ok(Value::Bool(false));
                }
                Ok(Value::Bool(self.eval_bool(rhs, env)?))
            }
            B::Or => {
                if self.eval_bool(lhs, env)? {
                    return Ok(Value::Bool(true));
                }
                Ok(Value::Bool(self.eval_bool(rhs, env)?))
            }
            B::Implication => {
                if !self.eval_bool(lhs, env)? {
                    return Ok(Value::Bool(true));
                }
                Ok(Value::Bool(self.eval_bool(rhs, env)?))
            }
            _ => {
                let left = self.operand(lhs, env)?;
                let right = self.operand(rhs, env)?;
                // Integers on both sides are the common case: no detour through the general
                // code (and no span lookup unless it fails).
                if let (Value::Int(a), Value::Int(b)) = (&left, &right) {
                    let (a, b) = (*a, *b);
                    let fast = match op {
                        B::Add => a.checked_add(b).map(Value::Int),
                        B::Sub => a.checked_sub(b).map(Value::Int),
                        B::Mul => a.checked_mul(b).map(Value::Int),
                        B::Less => Some(Value::Bool(a < b)),
                        B::LessOrEq => Some(Value::Bool(a <= b)),
                        B::More => Some(Value::Bool(a > b)),
                        B::MoreOrEq => Some(Value::Bool(a >= b)),
                        B::Equal => Some(Value::Bool(a == b)),
                        B::NotEqual => Some(Value::Bool(a != b)),
                        _ => None,
                    };
                    if let Some(value) = fast {
                        return Ok(value);
                    }
                }
                self.binop_values(op, &left, &right, Some(self.arena.span(id)))
            }
        }
    }
}

/// The frame of a curried chain: the arguments `closure` was already given, then `args`.
fn curried_frame(closure: &Closure, args: &[Thunk]) -> Rc<Env> {
    // Pushed one by one: collecting into the small vector went through its general (and
    // much slower) growth code.
    let mut slots = crate::env::Slots::new();
    if closure.applied == 0 {
        for arg in args {
            slots.push(arg.clone());
        }
        return Env::from_slots(&closure.env, slots);
    }
    for earlier in closure.env.slots.borrow().iter() {
        slots.push(earlier.clone());
    }
    for arg in args {
        slots.push(arg.clone());
    }
    // Invariant: a closure with arguments applied holds their frame, whose parent is the
    // environment it closes over.
    match &closure.env.parent {
        Some(parent) => Env::from_slots(parent, slots),
        None => Env::from_slots(&closure.env, slots),
    }
}

/// `set.name` where the set has no `name`, with the names it has.
#[cold]
fn missing_attribute(attrs: &Attrs, name: &str, span: Span) -> Box<EvalError> {
    let mut error =
        EvalError::new(ErrorKind::MissingAttribute { name: name.to_string() }, Some(span));
    error.help = Some(match crate::suggest::did_you_mean(name, attrs.names()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if attrs.is_empty() => "the set is empty".to_owned(),
        None => {
            let names: Vec<String> = attrs.names().take(10).map(|n| format!("`{n}`")).collect();
            format!("the set has {}", names.join(", "))
        }
    });
    error
}

/// Places an error raised inside a builtin at the call, and notes the builtin in the trace.
fn with_span(result: EvalResult<Value>, span: Option<Span>, name: &str) -> EvalResult<Value> {
    result.map_err(|mut error| {
        if error.span.is_none() {
            error.span = span;
        } else if let Some(span) = span {
            error.trace.push((span, format!("while calling `builtins.{name}`")));
        }
        error
    })
}

pub(crate) fn type_error(
    expected: &'static str,
    got: &Value,
    span: impl Into<Option<Span>>,
) -> Box<EvalError> {
    EvalError::new(ErrorKind::TypeError { expected, got: got.describe() }, span.into())
}

/// A forced thunk's end: its value kept, or its work put back so that a later force retries
/// (as Nix does).
fn settle(
    thunk: &Thunk,
    result: EvalResult<Value>,
    work: impl FnOnce() -> ThunkState,
) -> EvalResult<Value> {
    match result {
        Ok(value) => {
            thunk.finish(value.clone());
            Ok(value)
        }
        Err(error) => {
            thunk.restore(work());
            Err(error)
        }
    }
}
