//! The parser: tokens → rowan green tree, never failing.
//!
//! The parser is hand-written recursive descent with a Pratt loop for operators, building the
//! green tree directly (checkpoints wrap an already-parsed left operand). Trivia is attached to
//! whichever node is open when the next significant token is looked at, so every byte of the
//! input lands in the tree. Errors are collected, never thrown: a missing piece is reported and
//! skipped, an unexpected token is wrapped in an `ERROR` node.

mod grammar;
mod green;

use rowan::GreenNode;

use self::green::{Checkpoint, GreenBuilder};

use crate::{
    SyntaxError, SyntaxErrorKind, SyntaxKind,
    SyntaxKind::*,
    TextRange, TextSize,
    lexer::{LexErrorKind, Lexed},
};

/// The end of the input, as a pseudo-token kind.
pub(crate) const EOF: SyntaxKind = SyntaxKind::__LAST;

/// How deep the parser may descend before it stops. Each nesting level of the source costs one
/// to three units (1,000 nested parentheses fit; a right-associative chain such as `a ++ b ++
/// …` nests, and 4,000 terms fit, where Nix 2.8 stops near 5,000). A left-associative chain
/// (`a + b + …`, `f a b …`) is built in a loop and costs nothing however long, as in Nix; the
/// tree it makes is as deep as the chain is long, so whatever walks the tree afterwards walks
/// it without recursion or with a stack that grows.
const MAX_DEPTH: u32 = 4000;

/// How deep the tree may be (measured as it is built, `GreenBuilder`): Nix 2.8 evaluates a
/// 100,000-term `+` chain and overflows its stack on a million.
const MAX_TREE_DEPTH: u32 = 200_000;

/// A tree deeper than this is taken apart without recursion when dropped (`Parse`'s `Drop`):
/// rowan frees a node's children recursively, about 80 bytes of stack a level.
pub(crate) const DEEP_TREE: u32 = 5_000;

/// What the parser hands on: the tree, its errors, and the nodes `validation` must look at.
pub(crate) struct Parsed {
    pub(crate) green: GreenNode,
    /// Whether the tree is deeper than `DEEP_TREE`.
    pub(crate) deep: bool,
    pub(crate) errors: Vec<SyntaxError>,
    pub(crate) to_validate: Vec<(SyntaxKind, TextSize)>,
}

pub(crate) fn parse<'t>(text: &'t str, lexed: &'t Lexed) -> Parsed {
    let mut p = Parser {
        text,
        lexed,
        pos: 0,
        next: first_significant(lexed, 0),
        builder: GreenBuilder::new(lexed.len()),
        errors: Vec::new(),
        depth: 0,
        too_tall: false,
        last_end: 0,
        suppress_at: u32::MAX,
        too_deep: false,
        to_validate: Vec::new(),
    };
    lex_errors(lexed, &mut p.errors);
    grammar::source_file(&mut p);
    let deep = p.builder.tallest() > DEEP_TREE;
    Parsed { green: p.builder.finish(), deep, errors: p.errors, to_validate: p.to_validate }
}

fn lex_errors(lexed: &Lexed, errors: &mut Vec<SyntaxError>) {
    for e in &lexed.errors {
        errors.push(match e.kind {
            LexErrorKind::UnterminatedComment => SyntaxError::new(
                SyntaxErrorKind::UnterminatedComment,
                "unterminated comment".into(),
                TextRange::at(e.range.start(), TextSize::new(2)),
            )
            .with_help("close the comment with `*/`".into()),
            LexErrorKind::UnknownChar => SyntaxError::new(
                SyntaxErrorKind::InvalidCharacter,
                "invalid character".into(),
                e.range,
            ),
            LexErrorKind::TrailingSlash => SyntaxError::new(
                SyntaxErrorKind::TrailingSlash,
                "path has a trailing slash".into(),
                e.range,
            )
            .with_help("remove the final `/`".into()),
            LexErrorKind::IntegerOverflow => SyntaxError::new(
                SyntaxErrorKind::IntegerOverflow,
                "integer literal does not fit in 64 bits".into(),
                e.range,
            )
            .with_help(format!("integers range from {} to {}", i64::MIN, i64::MAX)),
            LexErrorKind::InvalidFloat => SyntaxError::new(
                SyntaxErrorKind::InvalidFloat,
                "float literal out of range".into(),
                e.range,
            )
            .with_help(format!(
                "floats range from about {:e} to {:e} (smaller ones lose precision)",
                f64::MIN_POSITIVE,
                f64::MAX
            )),
        });
    }
}

fn first_significant(lexed: &Lexed, from: usize) -> usize {
    (from..lexed.len()).find(|&i| !lexed.kinds[i].is_trivia()).unwrap_or(lexed.len())
}

pub(crate) struct Parser<'t> {
    text: &'t str,
    /// Nodes (kind, start) whose names repeat or are not plain: `validation` checks them.
    to_validate: Vec<(SyntaxKind, TextSize)>,
    lexed: &'t Lexed,
    /// Index of the next token to add to the tree.
    pos: usize,
    /// Index of the first significant token at or after `pos` (`lexed.len()` at the end).
    next: usize,
    builder: GreenBuilder,
    errors: Vec<SyntaxError>,
    depth: u32,
    /// Set once a node taller than `MAX_TREE_DEPTH` was built (reported once).
    too_tall: bool,
    /// End offset of the last significant token added to the tree.
    last_end: u32,
    /// No further errors starting at this offset (one error per place).
    suppress_at: u32,
    /// Set once the nesting limit was hit; errors are muted until the parser has climbed back
    /// out and consumed a token, so one runaway region yields one diagnostic.
    too_deep: bool,
}

impl<'t> Parser<'t> {
    /// The kind of the next significant token; trivia before it stays pending until the next
    /// token or node is added, so nodes start and end on significant tokens.
    pub(crate) fn current(&mut self) -> SyntaxKind {
        self.lexed.kinds.get(self.next).copied().unwrap_or(EOF)
    }

    /// The kind of the very next token, trivia included.
    pub(crate) fn raw(&self) -> SyntaxKind {
        self.lexed.kinds.get(self.pos).copied().unwrap_or(EOF)
    }

    /// The kind of the `n`-th significant token from here (`0` is the current one).
    pub(crate) fn nth(&self, n: usize) -> SyntaxKind {
        self.lexed.kinds[self.next.min(self.lexed.len())..]
            .iter()
            .copied()
            .filter(|k| !k.is_trivia())
            .nth(n)
            .unwrap_or(EOF)
    }

    pub(crate) fn at(&mut self, kind: SyntaxKind) -> bool {
        self.current() == kind
    }

    /// The text of the current significant token.
    pub(crate) fn current_text(&self) -> &'t str {
        &self.text[self.current_range()]
    }

    pub(crate) fn mark_for_validation(&mut self, kind: SyntaxKind, start: TextSize) {
        self.to_validate.push((kind, start));
    }

    /// Adds pending trivia to the open node.
    fn flush_trivia(&mut self) {
        while self.pos < self.lexed.len() && self.lexed.kinds[self.pos].is_trivia() {
            self.bump_raw();
        }
    }

    /// Adds pending trivia and the current significant token to the tree.
    pub(crate) fn bump(&mut self) {
        self.flush_trivia();
        if self.pos < self.lexed.len() {
            self.bump_raw();
            self.too_deep = false;
        }
    }

    /// Adds the very next token, whatever it is (strings and paths have no trivia).
    pub(crate) fn bump_raw(&mut self) {
        let kind = self.lexed.kinds[self.pos];
        let range = self.lexed.range(self.pos);
        self.builder.token(rowan::SyntaxKind(kind as u16), &self.text[range]);
        if !kind.is_trivia() {
            self.last_end = range.end().into();
        }
        self.pos += 1;
        if self.pos > self.next {
            self.next = first_significant(self.lexed, self.pos);
        }
    }

    /// Adds everything left, trivia included, to the open node.
    pub(crate) fn bump_rest(&mut self) {
        while self.pos < self.lexed.len() {
            self.bump_raw();
        }
    }

    /// Where the last significant token ended.
    pub(crate) fn last_end(&self) -> TextSize {
        TextSize::new(self.last_end)
    }

    /// The text between two offsets.
    pub(crate) fn text_between(&self, start: TextSize, end: TextSize) -> &str {
        &self.text[TextRange::new(start, end.max(start))]
    }

    pub(crate) fn eat(&mut self, kind: SyntaxKind) -> bool {
        let at = self.at(kind);
        if at {
            self.bump();
        }
        at
    }

    /// Bumps `kind` or reports that it is missing right after the previous token.
    pub(crate) fn expect(&mut self, kind: SyntaxKind) -> bool {
        if self.eat(kind) {
            return true;
        }
        self.error_expected(kind.describe());
        false
    }

    /// Reports "expected X, found Y"; the error sits right after the previous token when the
    /// next token is on a later line (a missing `;`), and on the next token otherwise.
    pub(crate) fn error_expected(&mut self, what: &str) {
        let error = self.expected(what);
        self.push_error(error);
    }

    /// The error `error_expected` reports.
    pub(crate) fn expected(&mut self, what: &str) -> SyntaxError {
        let found = self.current();
        let range = self.current_range();
        let gap = &self.text[self.last_end as usize..usize::from(range.start())];
        let (kind, message) = if found == EOF {
            (SyntaxErrorKind::UnexpectedEof, format!("expected {what}, found end of file"))
        } else {
            (
                SyntaxErrorKind::UnexpectedToken,
                format!("expected {what}, found {}", found.describe()),
            )
        };
        let at = if gap.contains('\n') || found == EOF {
            TextRange::empty(TextSize::new(self.last_end))
        } else {
            range
        };
        SyntaxError::new(kind, message, at)
    }

    pub(crate) fn push_error(&mut self, error: SyntaxError) {
        let start = u32::from(error.range.start());
        if start == self.suppress_at || self.too_deep {
            return;
        }
        self.suppress_at = start;
        self.errors.push(error);
    }

    /// The range of the current significant token (empty, after the last token, at the end).
    pub(crate) fn current_range(&self) -> TextRange {
        if self.next < self.lexed.len() {
            self.lexed.range(self.next)
        } else {
            TextRange::empty(TextSize::new(self.last_end))
        }
    }

    /// Opens a node; pending trivia goes to the enclosing node first.
    pub(crate) fn start_node(&mut self, kind: SyntaxKind) {
        self.flush_trivia();
        self.builder.start_node(rowan::SyntaxKind(kind as u16));
    }

    pub(crate) fn finish_node(&mut self) {
        // A left-associative chain (`a + b + …`, `f a b …`) is built in a loop, not by
        // recursion, so its length is bounded here, by the height of the tree it makes.
        let height = self.builder.finish_node();
        if height > MAX_TREE_DEPTH && !self.too_tall {
            self.too_tall = true;
            let range = self.current_range();
            self.push_error(
                SyntaxError::new(
                    SyntaxErrorKind::TooDeep,
                    format!("expression too deep (more than {MAX_TREE_DEPTH} levels)"),
                    range,
                )
                .with_help("split the expression with `let` bindings".into()),
            );
        }
    }

    /// A place to wrap later: taken after pending trivia, so the node starts at its first token.
    pub(crate) fn checkpoint(&mut self) -> Checkpoint {
        self.flush_trivia();
        self.builder.checkpoint()
    }

    pub(crate) fn start_node_at(&mut self, checkpoint: Checkpoint, kind: SyntaxKind) {
        self.builder.start_node_at(checkpoint, rowan::SyntaxKind(kind as u16));
    }

    /// Wraps the current token in an `ERROR` node, reporting it.
    pub(crate) fn err_and_bump(&mut self, what: &str) {
        self.error_expected(what);
        self.start_node(ERROR);
        self.bump();
        self.finish_node();
    }

    /// Enters one level of nesting; `false` (with the rest of the construct skipped into an
    /// `ERROR` node and one diagnostic) when the limit is reached.
    pub(crate) fn enter(&mut self, cost: u32) -> bool {
        if self.depth + cost <= MAX_DEPTH {
            self.depth += cost;
            return true;
        }
        self.stop(format!("expression nested too deeply (more than {MAX_DEPTH} levels)"));
        false
    }

    /// Reports a limit reached, and skips the rest of the enclosing construct.
    fn stop(&mut self, message: String) {
        let range = self.current_range();
        self.push_error(
            SyntaxError::new(SyntaxErrorKind::TooDeep, message, range)
                .with_help("split the expression with `let` bindings".into()),
        );
        self.too_deep = true;
        self.skip_nested();
    }

    /// Runs a recursive grammar function with enough stack: every few levels it makes sure
    /// there is room, growing the stack on the heap if not (as rustc does).
    pub(crate) fn with_stack(&mut self, f: impl FnOnce(&mut Self)) {
        if self.depth.is_multiple_of(8) {
            stacker::maybe_grow(64 * 1024, 1024 * 1024, || f(self));
        } else {
            f(self);
        }
    }

    pub(crate) fn leave(&mut self, cost: u32) {
        self.depth -= cost;
    }

    /// Opens the root node; unlike `start_node`, it keeps leading trivia inside it.
    pub(crate) fn start_root(&mut self) {
        self.builder.start_node(rowan::SyntaxKind(SyntaxKind::SOURCE_FILE as u16));
    }

    /// Skips, flat, everything up to the end of the enclosing construct: stops before a closing
    /// delimiter that was opened outside, or at the end of the file.
    fn skip_nested(&mut self) {
        self.start_node(ERROR);
        let mut open = 0u32;
        while self.pos < self.lexed.len() {
            match self.lexed.kinds[self.pos] {
                L_PAREN | L_BRACK | L_BRACE | INTERPOL_START => open += 1,
                R_PAREN | R_BRACK | R_BRACE if open == 0 => break,
                R_PAREN | R_BRACK | R_BRACE => open -= 1,
                _ => {}
            }
            self.bump_raw();
        }
        self.finish_node();
    }
}
