//! Attribute sets in expressions: set literals (`rec`, dynamic names, `__overrides`),
//! selection with `.` and `or`, and `?`.

use alloc_shim::thin::RcStr;
use std::rc::Rc;

use lang::Span;

use super::{Machine, type_error};
use crate::{
    env::Env,
    error::{ErrorKind, EvalError, EvalResult},
    ir::{AttrKey, AttrValue, Expr, ExprId, SetLiteral},
    value::{Attrs, Thunk, ThunkState, Value},
};

impl Machine {
    pub(super) fn attrs(&mut self, set: &SetLiteral, env: &Rc<Env>) -> EvalResult<Attrs> {
        let (rec, statics, dynamics) = (set.rec, &set.statics[..], &set.dynamics[..]);
        let scope = if rec { Env::pending(env, statics.len()) } else { env.clone() };
        let mut entries = Vec::with_capacity(statics.len() + dynamics.len());
        // With `__overrides`, each slot is a cell of its own that forwards to the value
        // (`ThunkState::Indirect`) until an override redirects it (`overrides`), as Nix
        // replaces the slot.
        let overridden = rec && statics.iter().any(|(name, _)| &**name == "__overrides");
        for (slot, (name, value)) in statics.iter().enumerate() {
            let thunk = match value {
                // As Nix: with overrides, a value written in the set is a thunk of its own
                // (a variable in it is looked up when forced, and sees the overrides).
                AttrValue::Inner(id) if overridden => Thunk::suspended(*id, scope.clone()),
                AttrValue::Inner(id) => self.thunk(*id, &scope),
                AttrValue::Outer(id) => self.thunk(*id, env),
            };
            if overridden {
                scope.set(slot, Thunk::from_state(ThunkState::Indirect(thunk.forwarded())));
            } else if rec {
                scope.set(slot, thunk.clone());
            }
            entries.push((name.clone(), thunk));
        }
        if rec {
            self.overrides(&mut entries, &scope)?;
        }
        // Names already given, to reject a repeat: searched one by one in a small set, through
        // a hash set in a large one (thousands of `${k} = …;` in one literal).
        let mut given: Option<std::collections::HashSet<RcStr>> = (dynamics.len() > 16)
            .then(|| entries.iter().map(|(name, _): &(RcStr, Thunk)| name.clone()).collect());
        for (key, value) in dynamics {
            let key_value = self.eval(*key, &scope)?;
            let name = match key_value {
                Value::String(s) => s.text(),
                // `${null} = …` adds nothing, as in Nix.
                Value::Null => continue,
                other => return Err(type_error("a string", &other, self.arena.span(*key))),
            };
            let repeated = match &mut given {
                Some(given) => !given.insert(name.clone()),
                None => entries.iter().any(|(n, _)| *n == name),
            };
            if repeated {
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
        Ok(if set.sorted { Attrs::from_sorted(entries) } else { Attrs::from_entries(entries) })
    }

    /// Where the set literal `origin` writes the static attribute `name`.
    pub(crate) fn attr_position(&mut self, origin: ExprId, name: &str) -> Option<Value> {
        let span = self.attr_span(origin, name)?;
        Some(self.position(span))
    }

    /// The span of the name `name` where the set literal `origin` writes it.
    pub(crate) fn attr_span(&mut self, origin: ExprId, name: &str) -> Option<Span> {
        let Expr::Attrs(set) = self.arena.get(origin) else { return None };
        let index = if set.statics.len() <= 16 {
            set.statics.iter().rposition(|(n, _)| &**n == name)?
        } else {
            // The last of a repeated name, as the scan finds it.
            let index = self.name_index.entry(origin).or_insert_with(|| {
                set.statics.iter().enumerate().map(|(i, (n, _))| (n.clone(), i)).collect()
            });
            *index.get(name)?
        };
        set.keys.get(index).copied()
    }

    /// `rec { …; __overrides = { a = …; }; }` (an old Nix feature nixpkgs once used): each
    /// attribute of `__overrides` replaces the one of the same name, also for the references
    /// to it inside the set, or is added.
    pub(super) fn overrides(
        &mut self,
        entries: &mut Vec<(RcStr, Thunk)>,
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
        // A slot of this set is a forwarding cell (see `attrs`): redirected to its override,
        // so that references inside the set see it; what was captured of the attribute
        // before (`Machine::thunk` takes the cell forwarded to) keeps its value, as in Nix.
        for (name, value) in overrides.iter() {
            match entries.iter().position(|(n, _)| n == name) {
                Some(slot) => {
                    if let Some(forward) = scope.get(slot as u32) {
                        forward.restore(ThunkState::Indirect(value.forwarded()));
                    }
                    entries[slot].1 = value.clone();
                }
                None => entries.push((name.clone(), value.clone())),
            }
        }
        Ok(())
    }

    pub(super) fn select(
        &mut self,
        expr: ExprId,
        path: &[AttrKey],
        default: Option<ExprId>,
        env: &Rc<Env>,
        span: Span,
    ) -> EvalResult<Value> {
        // A variable (most subjects: `config.x`, `self.k`, `lib.types`) is read without a
        // full evaluation step.
        let value = self.operand(expr, env)?;
        self.select_from(value, path, default, env, span)
    }

    /// `value.path or default`, with `value` evaluated.
    pub(super) fn select_from(
        &mut self,
        mut value: Value,
        path: &[AttrKey],
        default: Option<ExprId>,
        env: &Rc<Env>,
        span: Span,
    ) -> EvalResult<Value> {
        for key in path {
            let dynamic;
            let name: &RcStr = match key {
                AttrKey::Static(name) => name,
                AttrKey::Dynamic(_) => {
                    dynamic = self.attr_name(key, env)?;
                    &dynamic
                }
            };
            let next = match &value {
                // Read or forced in place (`value` keeps the set alive), its cell not shared.
                Value::Attrs(attrs) => match attrs.get(name) {
                    Some(thunk) => match thunk.get() {
                        Some(done) => done,
                        None => self.force(thunk).map_err(|e| in_attribute(e, span, name))?,
                    },
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
                _ if let Some(default) = default => return self.eval(default, env),
                other => {
                    let mut error = type_error("a set", other, span);
                    error.help = Some(format!("while selecting the attribute `{name}`"));
                    return Err(error);
                }
            };
            value = next;
        }
        Ok(value)
    }

    /// `e ? a.b.c`: forces `e`, `e.a` and `e.a.b`, never the value of `c` itself.
    pub(super) fn has_attr(
        &mut self,
        expr: ExprId,
        path: &[AttrKey],
        env: &Rc<Env>,
    ) -> EvalResult<Value> {
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

    pub(super) fn attr_name(&mut self, key: &AttrKey, env: &Rc<Env>) -> EvalResult<RcStr> {
        match key {
            AttrKey::Static(name) => Ok(name.clone()),
            AttrKey::Dynamic(id) => match self.eval(*id, env)? {
                Value::String(s) => Ok(s.text()),
                other => Err(type_error("a string", &other, self.arena.span(*id))),
            },
        }
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

/// An error raised while forcing the attribute `name` selected at `span`, noting it.
pub(super) fn in_attribute(mut error: Box<EvalError>, span: Span, name: &str) -> Box<EvalError> {
    error.trace.push((span, format!("while evaluating the attribute `{name}`")));
    error
}
