//! Which functions force their parameter first. A call of such a function may evaluate its
//! argument at once instead of suspending it: the body would force it before doing anything
//! else, so the value, the error or the endless loop is the same, met at the same point —
//! only the thunk (its allocation, its blackholing, its update) is saved.

use crate::ir::{Arena, Expr, ExprId, Var};

/// Whether evaluating `body` (a function's, its parameter in slot 0 of the innermost frame)
/// forces the parameter before anything else that could be observed: another variable, a
/// builtin's call, an error. Follows the one sub-expression evaluated first, through
/// operators, conditions, selections, `let` and `with` (which only make thunks) and calls
/// (whose function is evaluated first; a strict builtin's argument is).
pub(super) fn forces_first(
    arena: &Arena,
    body: ExprId,
    strict_global: &dyn Fn(u32) -> bool,
) -> bool {
    let (mut id, mut depth) = (body, 0);
    loop {
        id = match arena.get(id) {
            Expr::Var(Var::Local { depth: d, slot }) => return *d == depth && *slot == 0,
            Expr::BinOp { op, lhs, rhs } => {
                use lang::ast::BinaryOp as B;
                // `a > b` and `a <= b` evaluate `b` first (they are `b < a`).
                let (first, second) =
                    if matches!(op, B::More | B::LessOrEq) { (*rhs, *lhs) } else { (*lhs, *rhs) };
                // A literal evaluated first has no effect where both operands are evaluated
                // before either's type is checked (arithmetic, comparison, equality); `&&`,
                // `||`, `->`, `//` and `++` check the first operand's type before evaluating
                // the second, and a literal is never of their type.
                let both_first = matches!(
                    op,
                    B::Add
                        | B::Sub
                        | B::Mul
                        | B::Div
                        | B::Equal
                        | B::NotEqual
                        | B::Less
                        | B::LessOrEq
                        | B::More
                        | B::MoreOrEq
                );
                if is_literal(arena.get(first)) {
                    if !both_first {
                        return false;
                    }
                    second
                } else {
                    first
                }
            }
            Expr::If { cond, .. } | Expr::Assert { cond, .. } => *cond,
            Expr::Not(operand) | Expr::Negate(operand) => *operand,
            Expr::Select { expr, .. } | Expr::HasAttr { expr, .. } => *expr,
            Expr::Let { body, .. } | Expr::With { body, .. } => {
                depth += 1;
                *body
            }
            Expr::Apply { func, arg } => match arena.get(*func) {
                Expr::Var(Var::Global { slot, .. }) if strict_global(*slot) => *arg,
                _ => *func,
            },
            _ => return false,
        };
    }
}

fn is_literal(expr: &Expr) -> bool {
    matches!(expr, Expr::Int(_) | Expr::Float(_) | Expr::Str(_) | Expr::Path(_))
}
