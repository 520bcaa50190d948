//! Operator kinds of `BinOp` and `UnaryOp`.

use crate::SyntaxKind::{self, *};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Update,
    Less,
    LessOrEq,
    More,
    MoreOrEq,
    Equal,
    NotEqual,
    And,
    Or,
    Implication,
    PipeRight,
    PipeLeft,
}

impl BinaryOp {
    pub fn from_kind(kind: SyntaxKind) -> Option<BinaryOp> {
        Some(match kind {
            CONCAT => BinaryOp::Concat,
            PLUS => BinaryOp::Add,
            MINUS => BinaryOp::Sub,
            STAR => BinaryOp::Mul,
            SLASH => BinaryOp::Div,
            UPDATE => BinaryOp::Update,
            LT => BinaryOp::Less,
            LT_EQ => BinaryOp::LessOrEq,
            GT => BinaryOp::More,
            GT_EQ => BinaryOp::MoreOrEq,
            EQ2 => BinaryOp::Equal,
            NEQ => BinaryOp::NotEqual,
            AMP2 => BinaryOp::And,
            PIPE2 => BinaryOp::Or,
            IMPLICATION => BinaryOp::Implication,
            PIPE_RIGHT => BinaryOp::PipeRight,
            PIPE_LEFT => BinaryOp::PipeLeft,
            _ => return None,
        })
    }
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOpKind {
    /// `-e`
    Negate,
    /// `!e`
    Not,
}
