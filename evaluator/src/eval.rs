//! The lazy machine: evaluates IR nodes in environments, forces thunks at most once, applies
//! functions. Deep recursion is bounded by a depth counter and served by a growable stack, so
//! no program can crash the process.

use alloc_shim::thin::RcStr;
mod apply;
mod attrs;
mod load;
mod operators;
mod ops;
mod strings;
mod values;

use self::load::stdlib_path;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::PathBuf,
    rc::Rc,
};

use lang::{SourceMap, Span};

use crate::{
    builtins,
    env::Env,
    error::{ErrorKind, EvalError, EvalResult},
    io::{EvalIo, Input},
    ir::{Arena, AttrValue, Expr, ExprId, Hot, Var},
    lower,
    value::{Attrs, Closure, NixString, Thunk, ThunkState, Value},
};

/// How deep evaluation may nest (expressions inside expressions, calls inside calls): a
/// strict right fold over 50,000 elements fits (Nix 2.8 overflows between 20,000 and 50,000).
pub(crate) const MAX_DEPTH: usize = 300_000;
/// Stack kept free before growing; each growth adds a segment of this size.
pub(crate) const RED_ZONE: usize = 256 * 1024;
pub(crate) const STACK_SEGMENT: usize = 8 * 1024 * 1024;
/// The most stack evaluation may take in all (the depth limit is normally met long before:
/// an optimised build uses a few hundred bytes a level).
pub(crate) const MAX_STACK: usize = 2 * 1024 * 1024 * 1024;

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
    pub(crate) regex_cache: [HashMap<String, Rc<crate::builtins::CompiledRegex>>; 2],
    /// Whether a project's components must give every variable their modules require
    /// (`infra check`; a run leaves that to Terraform, which says the same).
    pub(crate) require_inputs: bool,
    /// Where each output placeholder was first made (`vpc.outputs.id`, `infra.output …`), by
    /// component (as written: a name or an address) and output, for messages about it.
    pub(crate) output_sites: HashMap<(RcStr, RcStr), Span>,
    /// Each component's `inputs` set, by address, to place an error about one input on where
    /// it is written.
    pub(crate) input_sets: HashMap<String, Rc<Attrs>>,
    /// For `unsafeGetAttrPos` on a large set literal: each static name's index, by literal
    /// (made at the first question: a scan per question was quadratic over all its names).
    pub(crate) name_index: HashMap<ExprId, HashMap<RcStr, usize>>,
    /// The one cell of each literal (`1`, `"a"`, `./p`) used where a thunk is wanted (an
    /// argument, an attribute, a list element), by node: made once, shared by every use (a
    /// computed value is never changed, and only a list's identity matters to printing).
    constants: Vec<Option<Thunk>>,
    /// A cell for an argument made for one call only (genList's index, a strict builtin's
    /// argument), reused while no one else holds it; a strict builtin's is emptied (`null`)
    /// after its call, so that it keeps no value alive.
    spare: Option<Thunk>,
    /// Cells holding attribute names as strings (`attrNames`, the names `mapAttrs` and
    /// `zipAttrsWith` pass), in places picked from the name's address: a loop over sets with
    /// the same names (the names written in the program, shared) shares their cells.
    name_cells: Vec<Option<Thunk>>,
    /// The program's own texts of `name` and `value` (`Arena::name`), for `listToAttrs`:
    /// a pair written `{ name = …; value = …; }` has its entries found by address.
    pub(crate) pair_keys: (RcStr, RcStr),
    /// The buffer interpolated strings are built in (`interpolate`).
    scratch: String,
    /// Stack segments in use beyond the thread's own stack (`with_stack`).
    segments: usize,
    /// Forced thunks and calls, counted to look at the allocator every `POLL_EVERY` of them.
    steps: u32,
    /// `EvalIo::allocated` when memory was last asked about.
    allocated_at: usize,
}

/// Places for names' cells (`Machine::name_cell`).
const NAME_CELLS: usize = 256;

/// How many steps (forced thunks, calls) pass between two looks at how much was allocated (a
/// call through `EvalIo`, no system call).
const POLL_EVERY: u32 = 256;
/// How much allocation passes between two questions about the process's memory (a system
/// call or two): a runaway program overshoots the limit by about this much.
const ASK_EVERY: usize = 32 << 20;

// What every thunk, value and frame costs: evaluation allocates millions of them.
// Two words, and so is a result: every step that moves one moves a third less.
const _: () = assert!(std::mem::size_of::<Value>() == 16);
const _: () = assert!(std::mem::size_of::<crate::error::EvalResult<Value>>() == 16);
// A cell is the reference counts, the borrow flag and this: 48 bytes (mimalloc's size class;
// the two-word states of `map`'s and `genList`'s elements leave no room for a tag in 16).
const _: () = assert!(std::mem::size_of::<crate::value::ThunkState>() == 24);
// A frame with its reference counts is 56 bytes (a `with` keeps its namespace in a slot).
const _: () = assert!(std::mem::size_of::<Env>() == 40);

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

    /// Whether the global at `slot` is a builtin that forces its one argument first.
    pub(crate) fn is_strict(&self, slot: u32) -> bool {
        matches!(self.at(slot).and_then(Thunk::get), Some(Value::PrimOp(op)) if op.strict)
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
    pub(crate) fn new(io: Box<dyn EvalIo>, mut arena: Arena, extensions: &Extensions) -> Machine {
        let pair_keys = (arena.name("name"), arena.name("value"));
        let mut machine = Machine {
            pair_keys,
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
            require_inputs: false,
            output_sites: HashMap::new(),
            input_sets: HashMap::new(),
            name_index: HashMap::new(),
            constants: Vec::new(),
            spare: None,
            name_cells: vec![None; NAME_CELLS],
            scratch: String::new(),
            segments: 0,
            steps: 0,
            allocated_at: 0,
        };
        for (name, thunk) in builtins::globals() {
            machine.globals.insert(name, thunk);
        }
        for &(name, arity, func) in extensions.builtins {
            let op =
                Value::PrimOp(Rc::new(crate::value::PrimOp { name, arity, func, strict: false }));
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
            let mut entries: Vec<(RcStr, Thunk)> =
                set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            entries.push(("derivation".into(), derivation));
            // `builtins.builtins` is the set itself, as in Nix (a cycle, made once, kept for
            // the machine's life; printing shows it as `«repeated»`).
            let itself = Thunk::value(Value::Null);
            entries.push(("builtins".into(), itself.clone()));
            itself.finish(Value::attrs(Attrs::from_entries(entries)));
            machine.globals.insert("builtins", itself);
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
        self.with_stack(Some(self.arena.span(id)), |m| m.eval_inner(id, env))
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, id: ExprId) -> EvalResult<Value> {
        Err(EvalError::new(ErrorKind::MaxCallDepth, Some(self.arena.span(id))))
    }

    #[inline(always)]
    fn eval_inner(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        // The hottest forms, copied out of the arena's node: no reference count touched, no
        // `Expr` decoded.
        let hot = self.arena.hot(id);
        match hot {
            Hot::Int(i) => Ok(Value::Int(i)),
            Hot::Local(depth, slot) => self.local(id, depth, slot, env),
            Hot::Global(slot) | Hot::Member(slot) => self.global(id, slot, env),
            Hot::Apply(func, arg) => {
                if let Hot::Apply(..) = self.arena.hot(func) {
                    return self.apply_chain(id, env);
                }
                let func = self.operand(func, env)?;
                let arg = match &func {
                    Value::PrimOp(op) if op.strict && self.would_suspend(arg) => {
                        return self.call_strict(op, arg, env, id);
                    }
                    // The function forces its parameter first: the argument is evaluated
                    // now, with no thunk (`lower::strict`).
                    Value::Lambda(closure) if closure.lambda.strict && self.would_suspend(arg) => {
                        let value = self.eval(arg, env)?;
                        // A set pattern with no `@` binding takes the set itself: no cell.
                        if let crate::ir::Param::Pattern { bind: None, .. } = closure.lambda.param {
                            return self.apply_pattern(closure, value, Some(self.arena.span(id)));
                        }
                        Thunk::value(value)
                    }
                    _ => self.thunk(arg, env),
                };
                self.apply(func, arg, Some(self.arena.span(id)))
            }
            Hot::If(cond, then, otherwise) => {
                let branch = if self.eval_bool(cond, env)? { then } else { otherwise };
                self.eval(branch, env)
            }
            Hot::BinOp(op, lhs, rhs) => self.binop(op, lhs, rhs, env, id),
            Hot::Select(subject, name) => {
                // A variable's attribute (`config.x`, `self.k`, `lib.id`) is read in place
                // when the variable is computed: no handle on the set cloned.
                if let Hot::Local(depth, slot) = self.arena.hot(subject)
                    && let Some(cell) = env.up(depth).and_then(|frame| frame.get(slot))
                {
                    let selected = self.arena.selected(name);
                    let found = cell.inspect(|value| match value {
                        Value::Attrs(attrs) => attrs
                            .get(selected)
                            .map(|thunk| thunk.get().ok_or_else(|| thunk.clone())),
                        _ => None,
                    });
                    match found {
                        Some(Some(Ok(done))) => return Ok(done),
                        Some(Some(Err(pending))) => {
                            return self.force_selected(&pending, id, name);
                        }
                        _ => {}
                    }
                }
                let value = self.operand(subject, env)?;
                if let Value::Attrs(attrs) = &value
                    && let Some(thunk) = attrs.get(self.arena.selected(name))
                {
                    // Forced where it is: `value` keeps the set alive.
                    return match thunk.get() {
                        Some(done) => Ok(done),
                        None => self.force_selected(thunk, id, name),
                    };
                }
                let expr = self.arena.shared(id);
                match &*expr {
                    Expr::Select { path, default, .. } => {
                        self.select_from(value, path, *default, env, self.arena.span(id))
                    }
                    // Invariant: a `Hot::Select` node is a select.
                    _ => self.eval_other(&expr, id, env),
                }
            }
            Hot::With(depth, name) => {
                // Looked up in the namespace in place, its value read in place when computed;
                // anything else (a namespace not yet a set, an attribute being computed, a
                // name it lacks) takes the general path, which reports as before.
                if let Some(namespace) = env.up(depth).and_then(|frame| frame.get(0)) {
                    let name = self.arena.selected(name);
                    let found = namespace.inspect(|value| match value {
                        Value::Attrs(attrs) => attrs.get(name).and_then(Thunk::get),
                        _ => None,
                    });
                    if let Some(Some(value)) = found {
                        return Ok(value);
                    }
                }
                let expr = self.arena.shared(id);
                self.eval_other(&expr, id, env)
            }
            Hot::Other => {
                let expr = self.arena.shared(id);
                self.eval_other(&expr, id, env)
            }
        }
    }

    /// Forces the attribute `name` selected by `id` (a `Hot::Select`), an error noting it.
    #[inline(never)]
    fn force_selected(&mut self, thunk: &Thunk, id: ExprId, name: u32) -> EvalResult<Value> {
        self.force(thunk)
            .map_err(|e| attrs::in_attribute(e, self.arena.span(id), self.arena.selected(name)))
    }

    /// Whether `thunk` would suspend `id` (a variable or a literal has its cell at hand).
    #[inline(always)]
    fn would_suspend(&self, id: ExprId) -> bool {
        match self.arena.hot(id) {
            Hot::Local(..) | Hot::Global(_) | Hot::Member(_) | Hot::Int(_) => false,
            Hot::Apply(..) | Hot::If(..) | Hot::BinOp(..) | Hot::Select(..) | Hot::With(..) => true,
            Hot::Other => {
                !matches!(self.arena.get(id), Expr::Float(_) | Expr::Str(_) | Expr::Path(_))
            }
        }
    }

    /// `op arg` for a builtin that forces its one argument first (`PrimOp::strict`): the
    /// argument is evaluated here and passed in the machine's spare cell, so no thunk is
    /// made for it. Errors are placed as the builtin's own forcing would place them.
    #[inline(never)]
    fn call_strict(
        &mut self,
        op: &crate::value::PrimOp,
        arg: ExprId,
        env: &Rc<Env>,
        id: ExprId,
    ) -> EvalResult<Value> {
        let span = Some(self.arena.span(id));
        self.step(span)?;
        let value = apply::with_span(self.eval(arg, env), span, op.name)?;
        let mut cell = self.spare.take().unwrap_or_else(|| Thunk::value(Value::Null));
        cell.set_or_new(value);
        let args = [cell];
        self.call_site = span;
        let result = apply::with_span((op.func)(self, &args), span, op.name);
        let [mut cell] = args;
        cell.set_or_new(Value::Null);
        self.spare = Some(cell);
        result
    }

    /// An operand, or the function of an application: a literal or a variable is read
    /// without a full evaluation step (most operands of `+`, `-`, `==`, `<` are, and most
    /// functions applied), anything else evaluated.
    #[inline(always)]
    fn operand(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<Value> {
        match self.arena.hot(id) {
            Hot::Int(i) => Ok(Value::Int(i)),
            Hot::Local(depth, slot) => self.local(id, depth, slot, env),
            Hot::Global(slot) | Hot::Member(slot) => self.global(id, slot, env),
            _ => self.eval(id, env),
        }
    }

    /// The variable at `slot` of the frame `depth` levels up: read in place when computed
    /// (no handle cloned), forced otherwise.
    #[inline(always)]
    fn local(&mut self, id: ExprId, depth: u32, slot: u32, env: &Rc<Env>) -> EvalResult<Value> {
        // The cell is forced where it is: `env` keeps its frame alive, and a slot, once set,
        // is never changed.
        match env.up(depth).and_then(|frame| frame.get(slot)) {
            Some(thunk) => match thunk.get() {
                Some(value) => Ok(value),
                None => self.force_work(thunk),
            },
            // Invariant: a `rec` or `let` frame is filled before any of its thunks is forced.
            None => Err(EvalError::new(ErrorKind::InfiniteRecursion, Some(self.arena.span(id)))),
        }
    }

    /// The global at `slot` (a builtin, `builtins`, `<infra>`'s library).
    #[inline(always)]
    fn global(&mut self, id: ExprId, slot: u32, env: &Rc<Env>) -> EvalResult<Value> {
        match self.globals.at(slot) {
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
            Expr::List(items) => Ok(Value::List(match &items[..] {
                // Short literals (`[ x ]`, `[ a b ]` in a loop) as arrays: a fixed-size
                // allocation, without the general path's layout computation.
                [a] => crate::value::RcSlice::from([self.thunk(*a, env)]),
                [a, b] => {
                    let a = self.thunk(*a, env);
                    crate::value::RcSlice::from([a, self.thunk(*b, env)])
                }
                [a, b, c] => {
                    let (a, b) = (self.thunk(*a, env), self.thunk(*b, env));
                    crate::value::RcSlice::from([a, b, self.thunk(*c, env)])
                }
                items => items.iter().map(|item| self.thunk(*item, env)).collect(),
            })),
            Expr::Attrs(set) => {
                let attrs = self.attrs(set, env)?;
                Ok(Value::attrs(attrs.with_origin(id)))
            }
            Expr::Let { bindings, body } => {
                let inner = Env::pending(env, bindings.len());
                for (slot, binding) in bindings.iter().enumerate() {
                    let thunk = match binding {
                        AttrValue::Inner(id) => self.thunk(*id, &inner),
                        AttrValue::Outer(id) => self.thunk(*id, env),
                    };
                    inner.set(slot, thunk);
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

    /// A cell holding the attribute name `name` as a string: one kept from before when it
    /// holds this very text (no allocation), else a new one, kept.
    pub(crate) fn name_cell(&mut self, name: &RcStr) -> Thunk {
        let place = (RcStr::as_ptr(name) as usize >> 4) % NAME_CELLS;
        if let Some(cell) = &self.name_cells[place]
            && cell.inspect(|v| matches!(v, Value::String(s) if s.is_text(name))) == Some(true)
        {
            return cell.clone();
        }
        let cell = Thunk::value(Value::String(NixString::new(name.clone(), None)));
        self.name_cells[place] = Some(cell.clone());
        cell
    }

    /// A thunk for an expression, avoiding one where the value is already at hand (literals,
    /// variables that already hold a thunk), exactly where Nix does, so that lazy printing
    /// shows `<CODE>` in the same places.
    #[inline]
    pub(crate) fn thunk(&mut self, id: ExprId, env: &Rc<Env>) -> Thunk {
        // The common cases first, from the node's hot copy: a variable shares its thunk, an
        // application or an operator is suspended.
        match self.arena.hot(id) {
            Hot::Local(depth, slot) => {
                return match env.up(depth).and_then(|frame| frame.get(slot)) {
                    // A forwarding slot (`rec { __overrides }`) gives what it forwards to.
                    Some(thunk) => thunk.forwarded(),
                    None => Thunk::suspended(id, env.clone()),
                };
            }
            Hot::Global(slot) => {
                if let Some(thunk) = self.globals.at(slot) {
                    return thunk.clone();
                }
            }
            Hot::Apply(..)
            | Hot::If(..)
            | Hot::BinOp(..)
            | Hot::Select(..)
            | Hot::With(..)
            | Hot::Member(_) => {
                return Thunk::suspended(id, env.clone());
            }
            Hot::Int(_) | Hot::Other => {}
        }
        self.thunk_other(id, env)
    }

    /// A literal's cell (made once, kept), or any other expression suspended: out of line, so
    /// that the common cases above stay small enough to inline.
    #[inline(never)]
    fn thunk_other(&mut self, id: ExprId, env: &Rc<Env>) -> Thunk {
        if let Some(Some(thunk)) = self.constants.get(id.index()) {
            return thunk.clone();
        }
        let literal = match self.arena.get(id) {
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(x) => Value::Float(*x),
            Expr::Str(s) => Value::String(NixString::new(s.clone(), None)),
            Expr::Path(p) => Value::Path(p.clone()),
            // Variables were settled above (from the node's hot copy).
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
                // The `with` frames, innermost first (their depths increase): each is reached
                // from the one before, so nested `with`s cost one walk up, not one each.
                let (mut frame, mut at) = (Some(env), 0);
                for &depth in withs.iter() {
                    frame = frame.and_then(|f| f.up(depth.checked_sub(at)?));
                    at = depth;
                    // Invariant: lowering counted the frames evaluation builds.
                    let Some(namespace) = frame.and_then(|frame| frame.get(0)) else {
                        continue;
                    };
                    // A computed namespace is searched in place.
                    match namespace.inspect(|value| match value {
                        Value::Attrs(attrs) => Some(attrs.get(name).cloned()),
                        _ => None,
                    }) {
                        Some(Some(Some(thunk))) => return Ok(thunk),
                        Some(Some(None)) => continue,
                        _ => {}
                    }
                    let namespace = self.force(namespace)?;
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
        // The stack is checked every eighth level, as `eval` checks it.
        let result = if self.depth.is_multiple_of(8) { self.with_stack(span, f) } else { f(self) };
        self.depth -= 1;
        result
    }

    /// Runs `f` with at least `RED_ZONE` of stack left, on a new segment if needed; refused
    /// once the segments add up to `MAX_STACK` (a deep evaluation whose frames are larger than
    /// expected, as in a build without optimisations, stops there with a diagnostic rather
    /// than exhausting memory).
    pub(crate) fn with_stack<T>(
        &mut self,
        span: Option<Span>,
        f: impl FnOnce(&mut Self) -> EvalResult<T>,
    ) -> EvalResult<T> {
        // As `stacker::maybe_grow`: a stack of unknown size (some platforms) is grown at once,
        // and the new segment's size is known from then on.
        match stacker::remaining_stack() {
            Some(left) if left >= RED_ZONE => f(self),
            _ => {
                // The same error as the depth limit's: in an optimised build that limit is
                // always met first, and in any build the cause is the same.
                if self.segments >= MAX_STACK / STACK_SEGMENT {
                    return Err(EvalError::new(ErrorKind::MaxCallDepth, span));
                }
                self.segments += 1;
                let result = stacker::grow(STACK_SEGMENT, || f(self));
                self.segments -= 1;
                result
            }
        }
    }

    /// Forces a thunk to weak head normal form; a thunk that needs itself is an error.
    #[inline]
    pub(crate) fn force(&mut self, thunk: &Thunk) -> EvalResult<Value> {
        match thunk.get() {
            Some(value) => Ok(value),
            None => self.force_work(thunk),
        }
    }

    /// Counts a step (a thunk forced, a builtin called, a function called by a builtin);
    /// fails when the process holds more memory than it may (looked at every `POLL_EVERY`
    /// steps, asked every `ASK_EVERY` bytes allocated). Any evaluation that keeps allocating
    /// keeps taking steps: a loop is a builtin's, and calls written in the program nest, so
    /// the depth limit bounds them; one step may allocate a lot (a builtin building a list of
    /// millions), bounded by the limits on one value's size.
    #[inline(always)]
    pub(crate) fn step(&mut self, span: Option<Span>) -> EvalResult<()> {
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(POLL_EVERY) {
            return self.check_memory(span);
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn check_memory(&mut self, span: Option<Span>) -> EvalResult<()> {
        let allocated = self.io.allocated();
        if allocated.wrapping_sub(self.allocated_at) < ASK_EVERY {
            return Ok(());
        }
        self.allocated_at = allocated;
        match self.io.memory() {
            Some((used, limit)) if used > limit => {
                let mut error = EvalError::new(ErrorKind::MemoryLimit { used, limit }, span);
                error.help = Some(
                    "a structure that keeps growing? The limit is INFRA_MAX_MEMORY (for example \
                     `8G`; `off` for none), by default three quarters of the machine's memory"
                        .into(),
                );
                Err(error)
            }
            _ => Ok(()),
        }
    }

    /// `force` of a thunk not yet computed.
    #[inline(never)]
    fn force_work(&mut self, thunk: &Thunk) -> EvalResult<Value> {
        self.steps = self.steps.wrapping_add(1);
        if self.steps.is_multiple_of(POLL_EVERY) {
            self.check_memory(thunk.expr().map(|e| self.arena.span(e)))?;
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
            // A lazy application is a call one level deeper: a chain of them forcing each
            // other (`map toString` of `map toString` of …, a million deep) is counted and
            // stopped, whatever the function (a builtin's call counts no level of its own).
            // The function is forced here, not when the list or set was made (as in Nix).
            ThunkState::Apply1 { func, arg } => {
                let result = self.deeper(None, |m| m.call_cell(&func, std::slice::from_ref(&arg)));
                settle(thunk, result, || ThunkState::Apply1 { func, arg })
            }
            ThunkState::ApplyIndex { func, index } => {
                // The index's cell is the machine's spare one when the last call kept no hold
                // on it (`genList (i: …)` forces one element after another).
                let mut cell = self.spare.take().unwrap_or_else(|| Thunk::value(Value::Null));
                cell.set_or_new(Value::Int(index));
                let arg = [cell];
                let result = self.deeper(None, |m| m.call_cell(&func, &arg));
                let [cell] = arg;
                self.spare = Some(cell);
                settle(thunk, result, || ThunkState::ApplyIndex { func, index })
            }
            ThunkState::Apply2 { func, args } => {
                let result = self.deeper(None, |m| m.call_cell(&func, &args[..]));
                settle(thunk, result, || ThunkState::Apply2 { func, args })
            }
            ThunkState::ApplyEntry { map, index } => {
                // A flat set (the only kind `mapAttrs` makes these for, and sets never change)
                // finds the entry at once; any other in order.
                let entry = match map.attrs.flat_entry(index as usize) {
                    Some(entry) => Some(entry),
                    None => map.attrs.iter().nth(index as usize),
                };
                let result = match entry {
                    Some((key, value)) => {
                        // The name's cell is the spare one when the last call kept no hold on
                        // it (as for `genList`'s index).
                        let mut name =
                            self.spare.take().unwrap_or_else(|| Thunk::value(Value::Null));
                        name.set_or_new(Value::String(NixString::new(key.clone(), None)));
                        let args = [name, value.clone()];
                        let result = self.deeper(None, |m| m.call_cell(&map.func, &args));
                        let [name, _] = args;
                        self.spare = Some(name);
                        result
                    }
                    // Invariant: the index is one of the set's entries.
                    None => Ok(Value::Null),
                };
                settle(thunk, result, || ThunkState::ApplyEntry { map, index })
            }
            ThunkState::Indirect(target) => {
                let result = self.force(&target);
                settle(thunk, result, || ThunkState::Indirect(target))
            }
        }
    }

    /// Calls the function in the cell `func` (forced first: a lazy application forces its
    /// function only when it is itself forced, as in Nix) on `args`, read in place: a
    /// computed cell is never changed, so it stays borrowed during the call.
    fn call_cell(&mut self, func: &Thunk, args: &[Thunk]) -> EvalResult<Value> {
        if !func.is_done() {
            self.force(func)?;
        }
        match func.inspect(|f| self.call_all(f, args)) {
            Some(result) => result,
            // Invariant: forced above.
            None => Err(EvalError::new(ErrorKind::InfiniteRecursion, None)),
        }
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
