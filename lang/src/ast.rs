//! The typed AST: zero-cost views over the syntax tree.
//!
//! Every accessor returns `Option` (or an iterator), because the tree may hold errors; a caller
//! that has checked `Parse::errors` is empty can rely on the grammar's shape. Other crates name
//! nodes qualified, `ast::LetIn`, `ast::AttrSet`.

mod nodes;
mod operators;

pub use self::{
    nodes::*,
    operators::{BinaryOp, UnaryOpKind},
};

use crate::{SyntaxKind, SyntaxNode, SyntaxToken};

/// A typed view of a syntax node of one or more kinds.
pub trait AstNode: Sized {
    fn can_cast(kind: SyntaxKind) -> bool;
    fn cast(node: SyntaxNode) -> Option<Self>;
    fn syntax(&self) -> &SyntaxNode;
}

/// The `n`-th child of `parent` that is an `N`.
pub(crate) fn child<N: AstNode>(parent: &SyntaxNode, n: usize) -> Option<N> {
    parent.children().filter_map(N::cast).nth(n)
}

/// The first token of `kind` directly under `parent`.
pub(crate) fn token(parent: &SyntaxNode, kind: SyntaxKind) -> Option<SyntaxToken> {
    parent.children_with_tokens().filter_map(|e| e.into_token()).find(|t| t.kind() == kind)
}
