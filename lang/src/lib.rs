//! The infra language front end: source text → tokens → lossless syntax tree → typed AST.
//!
//! `parse` never fails: it returns a tree that holds every byte of the input and a list of
//! syntax errors (lexical, grammatical and post-parse validation). Only this crate knows nom and
//! rowan; everything else uses `ast` and the few rowan types re-exported here.
//! Diagnostics are plain data (`Diagnostic`, `Span`, `SourceMap`); `diagnostic::render` turns
//! them into text for people (miette) or JSON for machines.

pub mod ast;
pub mod diagnostic;
mod format;
pub mod ide;
mod lexer;
mod parser;
mod source;
mod syntax_error;
mod syntax_kind;
mod syntax_node;
mod validation;

#[cfg(test)]
mod tests;

use std::{marker::PhantomData, sync::Arc};

use rowan::GreenNode;

pub use rowan::{TextRange, TextSize};

pub use crate::{
    ast::AstNode,
    diagnostic::{Diagnostic, Severity, Span},
    format::format,
    lexer::{Token, tokenize},
    source::{FileId, LineCol, SourceMap},
    syntax_error::{SyntaxError, SyntaxErrorKind},
    syntax_kind::SyntaxKind,
    syntax_node::{InfraLanguage, SyntaxElement, SyntaxNode, SyntaxToken},
};

/// The largest source file accepted: offsets in the tree are 32-bit.
pub const MAX_FILE_SIZE: usize = u32::MAX as usize / 2;

/// The result of parsing: a lossless tree and every error found in it.
#[derive(Debug, Clone)]
pub struct Parse<T> {
    green: GreenNode,
    errors: Arc<[SyntaxError]>,
    /// The tree may be too deep for rowan's recursive drop (`parser::DEEP_TREE`).
    deep: bool,
    _ty: PhantomData<fn() -> T>,
}

impl<T> Drop for Parse<T> {
    /// A deep tree (a chain of 100,000 `+`) is taken apart a node at a time: each node's
    /// children are held here before the node is let go, so no drop recurses more than one
    /// level. A node someone else still holds (a syntax node handed out, a subtree shared by
    /// the builder's cache) is only released, and freed later by its last holder.
    fn drop(&mut self) {
        if !self.deep {
            return;
        }
        let empty = GreenNode::new(rowan::SyntaxKind(SyntaxKind::SOURCE_FILE as u16), []);
        let mut pending = vec![std::mem::replace(&mut self.green, empty)];
        while let Some(node) = pending.pop() {
            pending.extend(
                node.children().filter_map(|child| child.into_node()).map(|n| n.to_owned()),
            );
            drop(node);
        }
    }
}

impl<T: AstNode> Parse<T> {
    /// The typed root. It, and every node reached from it, should be dropped before the
    /// `Parse`: a deep tree (a long `+` chain) is then freed by the parse's drop, without
    /// recursion, rather than by the last node's (rowan's recursive one).
    pub fn tree(&self) -> T {
        // Invariant: `parse` always builds a root of kind `SOURCE_FILE`.
        T::cast(self.syntax_node()).expect("parse produces a SOURCE_FILE root")
    }

    /// The untyped root (to be dropped before the `Parse`, as `tree`'s).
    pub fn syntax_node(&self) -> SyntaxNode {
        SyntaxNode::new_root(self.green.clone())
    }

    /// Lexical, grammatical and validation errors, in source order.
    pub fn errors(&self) -> &[SyntaxError] {
        &self.errors
    }

    /// An indented dump of the tree, one node or token per line (`infra parse` prints it).
    pub fn debug_tree(&self) -> String {
        debug_tree(&self.syntax_node())
    }
}

/// Parses a whole file. Never fails and never panics; see `Parse::errors`.
pub fn parse(text: &str) -> Parse<ast::SourceFile> {
    if text.len() > MAX_FILE_SIZE {
        let green = parser::parse("", &lexer::lex("")).green;
        let error = SyntaxError::new(
            SyntaxErrorKind::FileTooLarge,
            format!("file too large ({} bytes; the limit is {MAX_FILE_SIZE})", text.len()),
            TextRange::empty(0.into()),
        );
        return Parse { green, errors: vec![error].into(), deep: false, _ty: PhantomData };
    }
    let lexed = lexer::lex(text);
    let parser::Parsed { green, deep, mut errors, to_validate } = parser::parse(text, &lexed);
    if !to_validate.is_empty() {
        let root = SyntaxNode::new_root(green.clone());
        validation::validate(&root, &to_validate, &mut errors);
    }
    errors.sort_by_key(|e| (e.range.start(), e.range.end()));
    Parse { green, errors: errors.into(), deep, _ty: PhantomData }
}

fn debug_tree(root: &SyntaxNode) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut depth = 0usize;
    for event in root.preorder_with_tokens() {
        match event {
            rowan::WalkEvent::Enter(element) => {
                let range = element.text_range();
                // A chain of thousands of links is shown flat past a hundred levels, its
                // depth written out (indenting it would print gigabytes of spaces).
                let indent = match depth {
                    0..=100 => "  ".repeat(depth),
                    _ => format!("{}[{depth}] ", "  ".repeat(100)),
                };
                // Writing to a String cannot fail.
                let _ = match &element {
                    rowan::NodeOrToken::Node(node) => {
                        writeln!(out, "{indent}{:?}@{range:?}", node.kind())
                    }
                    rowan::NodeOrToken::Token(token) => {
                        writeln!(out, "{indent}{:?}@{range:?} {:?}", token.kind(), token.text())
                    }
                };
                if element.as_node().is_some() {
                    depth += 1;
                }
            }
            rowan::WalkEvent::Leave(element) => {
                if element.as_node().is_some() {
                    depth -= 1;
                }
            }
        }
    }
    out
}
