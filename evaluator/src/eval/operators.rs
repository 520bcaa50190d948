//! Binary operators (`&&`, `||` and `->` short-circuiting, integers on a fast path, the
//! operators Nix evaluates right to left) and conditions.

use std::rc::Rc;

use super::{Machine, type_error};
use crate::{
    env::Env,
    error::EvalResult,
    ir::{ExprId, Hot},
    value::Value,
};

impl Machine {
    pub(super) fn eval_bool(&mut self, id: ExprId, env: &Rc<Env>) -> EvalResult<bool> {
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

    pub(super) fn binop(
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
                // `>`, `<=`, `//` and `++` evaluate their operands in another order: out of
                // line, so that this path (most arithmetic and comparisons) stays as short.
                if matches!(op, B::More | B::LessOrEq | B::Update | B::Concat) {
                    return self.binop_in_order(op, lhs, rhs, env, id);
                }
                let left = self.operand(lhs, env)?;
                let right = self.operand(rhs, env)?;
                // Integers on both sides are the common case: no detour through the general
                // code (and no span lookup unless it fails). Matched by value: integers need
                // no drop afterwards.
                if let (Value::Int(a), Value::Int(b)) = (&left, &right) {
                    let (a, b) = (*a, *b);
                    let fast = match op {
                        B::Add => a.checked_add(b).map(Value::Int),
                        B::Sub => a.checked_sub(b).map(Value::Int),
                        B::Mul => a.checked_mul(b).map(Value::Int),
                        B::Less => Some(Value::Bool(a < b)),
                        B::MoreOrEq => Some(Value::Bool(a >= b)),
                        B::Equal => Some(Value::Bool(a == b)),
                        B::NotEqual => Some(Value::Bool(a != b)),
                        _ => None,
                    };
                    if let Some(value) = fast {
                        // Integers hold nothing: no drop glue called for them.
                        std::mem::forget((left, right));
                        return Ok(value);
                    }
                }
                self.binop_values(op, &left, &right, Some(self.arena.span(id)))
            }
        }
    }

    /// `a > b` and `a <= b`, which are `b < a` in Nix and evaluate `b` first; `a // b` and
    /// `a ++ b`, which check `a` before evaluating `b`.
    #[inline(never)]
    fn binop_in_order(
        &mut self,
        op: lang::ast::BinaryOp,
        lhs: ExprId,
        rhs: ExprId,
        env: &Rc<Env>,
        id: ExprId,
    ) -> EvalResult<Value> {
        use lang::ast::BinaryOp as B;
        let (left, right) = match op {
            B::More | B::LessOrEq => {
                let right = self.operand(rhs, env)?;
                (self.operand(lhs, env)?, right)
            }
            _ => {
                let left = self.operand(lhs, env)?;
                match (op, &left) {
                    (B::Update, Value::Attrs(_)) | (B::Concat, Value::List(_)) => {}
                    (B::Update, _) => return Err(type_error("a set", &left, self.arena.span(id))),
                    _ => return Err(type_error("a list", &left, self.arena.span(id))),
                }
                (left, self.operand(rhs, env)?)
            }
        };
        if let (Value::Int(a), Value::Int(b)) = (&left, &right) {
            match op {
                B::More => return Ok(Value::Bool(a > b)),
                B::LessOrEq => return Ok(Value::Bool(a <= b)),
                _ => {}
            }
        }
        self.binop_values(op, &left, &right, Some(self.arena.span(id)))
    }
}
