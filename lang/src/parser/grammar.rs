//! The grammar: one function per construct of language.md, operators by precedence climbing.
//!
//! Precedence and associativity are Nix's, from loosest to tightest: `|>` `<|`, `->` (right),
//! `||`, `&&`, `==` `!=` (non-associative), `<` `<=` `>` `>=` (non-associative), `//` (right),
//! `!` (prefix), `+` `-`, `*` `/`, `++` (right), `?` (non-associative), `-` (prefix),
//! application, selection.

use crate::{
    SyntaxError, SyntaxErrorKind,
    SyntaxKind::{self, *},
    T, TextRange, TextSize,
    parser::{EOF, Parser},
};

pub(crate) fn source_file(p: &mut Parser<'_>) {
    p.start_root();
    if p.at(EOF) {
        p.error_expected("an expression");
    } else {
        expr(p);
    }
    if !p.at(EOF) {
        p.error_expected("end of file");
        p.start_node(ERROR);
        while p.current() != EOF {
            p.bump();
        }
        p.finish_node();
    }
    p.bump_rest();
    p.finish_node();
}

/// Any expression: the function-like forms or an operator expression.
pub(crate) fn expr(p: &mut Parser<'_>) {
    p.with_stack(expr_inner);
}

fn expr_inner(p: &mut Parser<'_>) {
    if !p.enter(1) {
        return;
    }
    match p.current() {
        LET_KW if p.nth(1) != L_BRACE => let_in(p),
        WITH_KW => keyword_expr(p, WITH),
        ASSERT_KW => keyword_expr(p, ASSERT),
        IF_KW => if_else(p),
        IDENT if matches!(p.nth(1), COLON | AT) => lambda(p),
        L_BRACE if is_pattern(p) => lambda(p),
        _ => expr_bp(p, 0, None),
    }
    p.leave(1);
}

/// `with e; body` and `assert e; body`.
fn keyword_expr(p: &mut Parser<'_>, kind: SyntaxKind) {
    p.start_node(kind);
    p.bump();
    expr(p);
    p.expect(T![;]);
    expr(p);
    p.finish_node();
}

fn let_in(p: &mut Parser<'_>) {
    let start = p.current_range().start();
    p.start_node(LET_IN);
    p.bump();
    bindings(p, T![in], (LET_IN, start));
    if p.expect(T![in]) || !matches!(p.current(), R_BRACE | R_PAREN | R_BRACK | EOF) {
        expr(p);
    }
    p.finish_node();
}

fn if_else(p: &mut Parser<'_>) {
    p.start_node(IF_ELSE);
    p.bump();
    expr(p);
    p.expect(T![then]);
    expr(p);
    p.expect(T![else]);
    expr(p);
    p.finish_node();
}

/// `{` starts a pattern (not a set) when what follows can only be a formals list.
fn is_pattern(p: &Parser<'_>) -> bool {
    match p.nth(1) {
        R_BRACE => matches!(p.nth(2), COLON | AT),
        ELLIPSIS => true,
        IDENT => match p.nth(2) {
            COMMA | QUESTION => true,
            R_BRACE => matches!(p.nth(3), COLON | AT),
            _ => false,
        },
        _ => false,
    }
}

/// `x: body`, `{ a, b ? 1, ... }: body`, `args@{ … }: body`, `{ … }@args: body`.
fn lambda(p: &mut Parser<'_>) {
    p.start_node(LAMBDA);
    let start = p.current_range().start();
    let mut names = Vec::new();
    if p.at(IDENT) {
        if p.nth(1) == AT {
            p.start_node(PATTERN);
            p.start_node(PAT_BIND);
            names.push(p.current_text());
            name(p);
            p.bump();
            p.finish_node();
            if p.at(T!['{']) {
                pattern_body(p, &mut names);
            } else {
                p.error_expected("`{`");
            }
            p.finish_node();
        } else {
            p.start_node(PARAM);
            name(p);
            p.finish_node();
        }
    } else {
        p.start_node(PATTERN);
        pattern_body(p, &mut names);
        if p.at(T![@]) {
            p.start_node(PAT_BIND);
            p.bump();
            if p.at(IDENT) {
                names.push(p.current_text());
                name(p);
            } else {
                p.error_expected("an identifier");
            }
            p.finish_node();
        }
        p.finish_node();
    }
    if has_duplicates(&mut names) {
        p.mark_for_validation(PATTERN, start);
    }
    p.expect(T![:]);
    expr(p);
    p.finish_node();
}

/// `{ a, b ? default, ... }`, inside an open `PATTERN` node; collects the names.
fn pattern_body<'t>(p: &mut Parser<'t>, names: &mut Vec<&'t str>) {
    let open = p.current_range();
    p.bump();
    loop {
        match p.current() {
            R_BRACE | EOF => break,
            // `...` comes last; Nix rejects `{ ..., }` and `{ ..., a }`.
            ELLIPSIS => {
                p.bump();
                break;
            }
            IDENT => {
                p.start_node(PAT_ENTRY);
                names.push(p.current_text());
                name(p);
                if p.eat(T![?]) {
                    expr(p);
                }
                p.finish_node();
            }
            COLON | SEMICOLON | R_PAREN | R_BRACK => break,
            _ => p.err_and_bump("an argument name"),
        }
        match p.current() {
            COMMA => p.bump(),
            R_BRACE | EOF => break,
            _ => {
                p.error_expected("`,` or `}`");
                if !matches!(p.current(), IDENT | ELLIPSIS) {
                    break;
                }
            }
        }
    }
    expect_closing(p, R_BRACE, open);
}

/// A binary-operator expression whose operators bind at least as tightly as `min_bp`.
/// `parent` is the operator whose right operand this is, to catch `a <| b |> c`.
fn expr_bp(p: &mut Parser<'_>, min_bp: u8, parent: Option<SyntaxKind>) {
    p.with_stack(|p| expr_bp_inner(p, min_bp, parent));
}

fn expr_bp_inner(p: &mut Parser<'_>, min_bp: u8, parent: Option<SyntaxKind>) {
    if !p.enter(1) {
        return;
    }
    let checkpoint = p.checkpoint();
    match p.current() {
        T![-] => prefix(p, NEGATION_BP),
        T![!] => prefix(p, NOT_OPERAND_BP),
        _ => expr_app(p),
    }
    let mut previous = parent;
    // A left-associative chain (`a + b + c`, `s ? a ? b`) is built here, each operator's node
    // around the one before: the loop does not nest, so a link costs no recursion depth, only
    // tree height (bounded in `Parser::finish_node`); a right operand is parsed one level
    // deeper. A chain of non-associative operators is reported once.
    let mut reported = false;
    loop {
        let op = p.current();
        let Some((lbp, rbp, _)) = infix_binding_power(op) else { break };
        if lbp < min_bp {
            break;
        }
        if !reported {
            reported = check_operator(p, op, previous, lbp);
        }
        if op == T![?] {
            p.start_node_at(checkpoint, HAS_ATTR);
            p.bump();
            attrpath(p);
        } else {
            p.start_node_at(checkpoint, BIN_OP);
            p.bump();
            expr_bp(p, rbp, Some(op));
        }
        p.finish_node();
        previous = Some(op);
    }
    p.leave(1);
}

/// Reports chained non-associative operators and mixed pipes; parsing goes on either way.
/// Whether it reported one.
fn check_operator(
    p: &mut Parser<'_>,
    op: SyntaxKind,
    previous: Option<SyntaxKind>,
    lbp: u8,
) -> bool {
    let Some(previous) = previous else { return false };
    let range = p.current_range();
    let previous_bp = infix_binding_power(previous).map(|(l, _, _)| l);
    let nonassoc = infix_binding_power(op).is_some_and(|(_, _, a)| a == Assoc::None);
    if nonassoc && previous_bp == Some(lbp) {
        p.push_error(
            SyntaxError::new(
                SyntaxErrorKind::NonAssociative,
                format!("{} cannot be chained with {}", op.describe(), previous.describe()),
                range,
            )
            .with_help("add parentheses to say which comparison comes first".into()),
        );
        true
    } else if matches!((previous, op), (PIPE_LEFT, PIPE_RIGHT) | (PIPE_RIGHT, PIPE_LEFT)) {
        p.push_error(
            SyntaxError::new(
                SyntaxErrorKind::MixedPipes,
                "`|>` and `<|` cannot be mixed without parentheses".into(),
                range,
            )
            .with_help("add parentheses around one of the pipelines".into()),
        );
        true
    } else {
        false
    }
}

fn prefix(p: &mut Parser<'_>, operand_bp: u8) {
    p.start_node(UNARY_OP);
    p.bump();
    expr_bp(p, operand_bp, None);
    p.finish_node();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assoc {
    Left,
    Right,
    None,
}

/// Binding power of the operand of prefix `-`: tighter than every infix operator.
const NEGATION_BP: u8 = 26;
/// Binding power of the operand of `!`: it takes `+` and everything tighter, as in Nix.
const NOT_OPERAND_BP: u8 = 18;

/// `(left binding power, right binding power, associativity)` of an infix operator.
fn infix_binding_power(op: SyntaxKind) -> Option<(u8, u8, Assoc)> {
    let (level, assoc) = match op {
        T![|>] => (1, Assoc::Left),
        T![<|] => (1, Assoc::Right),
        T![->] => (2, Assoc::Right),
        T![||] => (3, Assoc::Left),
        T![&&] => (4, Assoc::Left),
        T![==] | T![!=] => (5, Assoc::None),
        T![<] | T![<=] | T![>] | T![>=] => (6, Assoc::None),
        T!["//"] => (7, Assoc::Right),
        T![+] | T![-] => (9, Assoc::Left),
        T![*] | T![/] => (10, Assoc::Left),
        T![++] => (11, Assoc::Right),
        // Nix's grammar says non-associative, but its parser reads `a ? b ? c` as `(a ? b) ? c`.
        T![?] => (12, Assoc::Left),
        _ => return None,
    };
    let lbp = level * 2;
    let rbp = if assoc == Assoc::Right { lbp } else { lbp + 1 };
    Some((lbp, rbp, assoc))
}

/// Application: `f a b`, left-associative, arguments are selections.
fn expr_app(p: &mut Parser<'_>) {
    let checkpoint = p.checkpoint();
    expr_select(p);
    // Built in a loop, as a chain of operators is: no recursion for the number of arguments.
    while starts_argument(p) {
        p.start_node_at(checkpoint, APPLY);
        expr_select(p);
        p.finish_node();
    }
}

fn starts_argument(p: &mut Parser<'_>) -> bool {
    match p.current() {
        T![let] => p.nth(1) == L_BRACE,
        kind => starts_atom(kind),
    }
}

fn starts_atom(kind: SyntaxKind) -> bool {
    matches!(
        kind,
        IDENT
            | INT
            | FLOAT
            | URI
            | DQUOTE
            | IND_QUOTE
            | PATH_CONTENT
            | SEARCH_PATH
            | L_PAREN
            | L_BRACE
            | L_BRACK
            | REC_KW
    )
}

/// `e`, `e.a.b`, `e.a.b or default`.
fn expr_select(p: &mut Parser<'_>) {
    p.with_stack(expr_select_inner);
}

fn expr_select_inner(p: &mut Parser<'_>) {
    if !p.enter(1) {
        return;
    }
    let checkpoint = p.checkpoint();
    atom(p);
    if p.at(T![.]) {
        p.start_node_at(checkpoint, SELECT);
        p.bump();
        attrpath(p);
        if p.eat(T![or]) {
            expr_select(p);
        }
        p.finish_node();
    } else if p.at(T![or]) {
        // Nix reads `f or` as `f` applied to a variable named `or`.
        p.start_node_at(checkpoint, APPLY);
        p.start_node(REF);
        p.bump();
        p.finish_node();
        p.finish_node();
    }
    p.leave(1);
}

fn atom(p: &mut Parser<'_>) {
    match p.current() {
        IDENT => {
            p.start_node(REF);
            p.bump();
            p.finish_node();
        }
        INT | FLOAT | URI => {
            p.start_node(LITERAL);
            p.bump();
            p.finish_node();
        }
        DQUOTE | IND_QUOTE => string(p, STRING),
        PATH_CONTENT => path(p),
        SEARCH_PATH => {
            p.start_node(PATH);
            p.bump();
            p.finish_node();
        }
        L_PAREN => {
            let open = p.current_range();
            p.start_node(PAREN);
            p.bump();
            expr(p);
            expect_closing(p, R_PAREN, open);
            p.finish_node();
        }
        L_BRACK => list(p),
        L_BRACE | REC_KW => attr_set(p),
        LET_KW => legacy_let(p),
        kind if ends_construct(kind) => p.error_expected("an expression"),
        _ => p.err_and_bump("an expression"),
    }
}

/// Tokens that close something opened further out: never swallowed while recovering.
fn ends_construct(kind: SyntaxKind) -> bool {
    matches!(
        kind,
        EOF | R_PAREN
            | R_BRACK
            | R_BRACE
            | SEMICOLON
            | COMMA
            | IN_KW
            | THEN_KW
            | ELSE_KW
            | DQUOTE
            | IND_QUOTE
    )
}

fn list(p: &mut Parser<'_>) {
    let open = p.current_range();
    p.start_node(LIST);
    p.bump();
    loop {
        match p.current() {
            R_BRACK | EOF => break,
            kind if starts_atom(kind) => expr_select(p),
            T![let] if p.nth(1) == L_BRACE => expr_select(p),
            kind if ends_construct(kind) => break,
            _ => p.err_and_bump("a list element or `]`"),
        }
    }
    expect_closing(p, R_BRACK, open);
    p.finish_node();
}

/// `{ … }` and `rec { … }`.
fn attr_set(p: &mut Parser<'_>) {
    let start = p.current_range().start();
    p.start_node(ATTR_SET);
    p.eat(T![rec]);
    let open = p.current_range();
    if p.expect(T!['{']) {
        bindings(p, R_BRACE, (ATTR_SET, start));
        expect_closing(p, R_BRACE, open);
    }
    p.finish_node();
}

/// `let { …; body = …; }`, the old form of `let` that Nix still accepts.
fn legacy_let(p: &mut Parser<'_>) {
    let start = p.current_range().start();
    p.start_node(LEGACY_LET);
    p.bump();
    let open = p.current_range();
    p.expect(T!['{']);
    bindings(p, R_BRACE, (LEGACY_LET, start));
    expect_closing(p, R_BRACE, open);
    p.finish_node();
}

/// Bindings up to (not including) `end`: `a.b = e;`, `inherit x;`, `inherit (s) y;`.
///
/// On the way it collects the plain first names; when one repeats, or a name is quoted or
/// dynamic, the node (`node`: its kind and start) is marked for the full check in `validation`.
fn bindings(p: &mut Parser<'_>, end: SyntaxKind, node: (SyntaxKind, TextSize)) {
    let mut names = Vec::new();
    let mut complex = false;
    loop {
        match p.current() {
            kind if kind == end => break,
            EOF | R_BRACE | R_PAREN | R_BRACK | IN_KW => break,
            INHERIT_KW => complex |= inherit(p, &mut names),
            // In `let`, a name not followed by `=` or `.` is more likely the body after a
            // forgotten `in`.
            IDENT if end == IN_KW && !matches!(p.nth(1), T![=] | T![.]) => break,
            IDENT | OR_KW => {
                names.push(p.current_text());
                binding(p);
            }
            DQUOTE | INTERPOL_START => {
                complex = true;
                binding(p);
            }
            _ => p.err_and_bump("an attribute name or `inherit`"),
        }
    }
    if complex || has_duplicates(&mut names) {
        p.mark_for_validation(node.0, node.1);
    }
}

fn has_duplicates(names: &mut [&str]) -> bool {
    names.sort_unstable();
    names.windows(2).any(|w| w[0] == w[1])
}

fn binding(p: &mut Parser<'_>) {
    p.start_node(ATTRPATH_VALUE);
    attrpath(p);
    let has_eq = p.expect(T![=]);
    let value_start = p.current_range().start();
    if has_eq || !ends_construct(p.current()) {
        expr(p);
    }
    finish_binding(p, Some(value_start));
    p.finish_node();
}

/// `inherit …;`, adding plain names to `names`; `true` when a name is quoted or dynamic.
fn inherit<'t>(p: &mut Parser<'t>, names: &mut Vec<&'t str>) -> bool {
    let mut complex = false;
    p.start_node(INHERIT);
    p.bump();
    if p.at(T!['(']) {
        let open = p.current_range();
        p.start_node(INHERIT_FROM);
        p.bump();
        expr(p);
        expect_closing(p, R_PAREN, open);
        p.finish_node();
    }
    loop {
        match p.current() {
            IDENT | OR_KW => names.push(p.current_text()),
            DQUOTE | INTERPOL_START => complex = true,
            _ => break,
        }
        attr(p);
    }
    finish_binding(p, None);
    p.finish_node();
    complex
}

/// Expects the `;` that ends a binding; when it is missing, skips to the next `;`, the end of
/// the set, or a line that starts a new binding, so that one mistake yields one diagnostic.
fn finish_binding(p: &mut Parser<'_>, value_start: Option<TextSize>) {
    if p.eat(T![;]) {
        return;
    }
    let help = || "every binding ends with `;`".to_owned();
    let error = match value_start.and_then(|start| swallowed_line_break(p, start)) {
        Some(at) => SyntaxError::new(SyntaxErrorKind::UnexpectedToken, "expected `;`".into(), at)
            .with_help(help()),
        // Where the set or the `let` ends, the `;` was evidently left out, unless an earlier
        // mistake threw the parser off; elsewhere (the end of the file, a stray character)
        // something else is wrong.
        None if p.errors.is_empty() && matches!(p.current(), R_BRACE | IN_KW) => {
            p.expected("`;`").with_help(help())
        }
        None => p.expected("`;`"),
    };
    p.push_error(error);
    if matches!(p.current(), R_BRACE | IN_KW | EOF) {
        return;
    }
    p.start_node(ERROR);
    let mut open = 0u32;
    loop {
        match p.current() {
            EOF => break,
            R_BRACE | IN_KW if open == 0 => break,
            T![;] if open == 0 => {
                p.bump();
                break;
            }
            IDENT | DQUOTE | INHERIT_KW if starts_binding_line(p) => break,
            L_PAREN | L_BRACK | L_BRACE | INTERPOL_START => open += 1,
            R_PAREN | R_BRACK | R_BRACE => open = open.saturating_sub(1),
            _ => {}
        }
        p.bump();
    }
    p.finish_node();
}

/// `a = 1` followed on the next line by `b = 2;` parses as `a = 1 b` and then stops at `=`.
/// When that happened, the `;` is missing at the end of the value's last full line.
fn swallowed_line_break(p: &Parser<'_>, value_start: TextSize) -> Option<TextRange> {
    if !matches!(p.nth(0), T![=] | T![.]) {
        return None;
    }
    let here = p.current_range().start();
    let value = p.text_between(value_start, here);
    let line_break = value.rfind('\n')?;
    let before = value[..line_break].trim_end();
    if before.is_empty() {
        return None;
    }
    Some(TextRange::empty(value_start + TextSize::of(before)))
}

/// A token at the start of a line that begins a binding: `name =`, `name.x =`, `inherit`.
fn starts_binding_line(p: &Parser<'_>) -> bool {
    let here = p.current_range().start();
    if !p.text_between(p.last_end(), here).contains('\n') {
        return false;
    }
    p.nth(0) == INHERIT_KW || matches!(p.nth(1), T![=] | T![.])
}

/// `a.b."c".${d}`
fn attrpath(p: &mut Parser<'_>) {
    p.start_node(ATTRPATH);
    attr(p);
    while p.at(T![.]) {
        p.bump();
        attr(p);
    }
    p.finish_node();
}

/// One attribute name: `a`, `or`, `"a b"`, `${e}`.
fn attr(p: &mut Parser<'_>) {
    match p.current() {
        IDENT | OR_KW => name(p),
        DQUOTE => string(p, STRING),
        INTERPOL_START => interpolation(p, DYNAMIC),
        _ => p.error_expected("an attribute name"),
    }
}

fn name(p: &mut Parser<'_>) {
    p.start_node(NAME);
    p.bump();
    p.finish_node();
}

/// `"…"` or `''…''`: literal pieces and interpolations; the lexer's mode keeps them apart.
fn string(p: &mut Parser<'_>, kind: SyntaxKind) {
    let delimiter = p.current();
    let open = p.current_range();
    p.start_node(kind);
    p.bump();
    loop {
        match p.raw() {
            STRING_CONTENT => p.bump_raw(),
            INTERPOL_START => interpolation(p, INTERPOL),
            k if k == delimiter => {
                p.bump_raw();
                break;
            }
            _ => {
                let close = if delimiter == DQUOTE { "\"" } else { "''" };
                p.push_error(
                    SyntaxError::new(
                        SyntaxErrorKind::UnterminatedString,
                        "unterminated string".into(),
                        open,
                    )
                    .with_help(format!("close the string with `{close}`")),
                );
                break;
            }
        }
    }
    p.finish_node();
}

/// `${ e }`, as a string or path piece (`INTERPOL`) or an attribute name (`DYNAMIC`).
fn interpolation(p: &mut Parser<'_>, kind: SyntaxKind) {
    let open = p.current_range();
    p.start_node(kind);
    p.bump();
    if p.at(R_BRACE) {
        p.error_expected("an expression");
    } else {
        expr(p);
    }
    if !p.at(R_BRACE) && !p.at(EOF) {
        // The lexer guarantees a `}` closes this interpolation; skip what is in between.
        p.error_expected("`}`");
        p.start_node(ERROR);
        let mut open_braces = 0u32;
        loop {
            match p.current() {
                EOF => break,
                R_BRACE if open_braces == 0 => break,
                L_BRACE | INTERPOL_START => open_braces += 1,
                R_BRACE => open_braces -= 1,
                _ => {}
            }
            p.bump();
        }
        p.finish_node();
    }
    expect_closing(p, R_BRACE, open);
    p.finish_node();
}

/// `./a/b`, `/abs`, `~/x`, `./a/${b}/c`.
fn path(p: &mut Parser<'_>) {
    p.start_node(PATH);
    p.bump();
    while p.raw() == INTERPOL_START {
        interpolation(p, INTERPOL);
        if p.raw() == PATH_CONTENT {
            p.bump_raw();
        }
    }
    p.finish_node();
}

/// Bumps the closing delimiter, or reports it missing with a label on the opening one.
fn expect_closing(p: &mut Parser<'_>, close: SyntaxKind, open: TextRange) {
    if p.eat(close) {
        return;
    }
    let found = p.current();
    let at = p.current_range();
    let message = if found == EOF {
        format!("expected {}, found end of file", close.describe())
    } else {
        format!("expected {}, found {}", close.describe(), found.describe())
    };
    p.push_error(
        SyntaxError::new(SyntaxErrorKind::UnclosedDelimiter, message, at)
            .with_label(open, "unclosed delimiter opened here".into()),
    );
}
