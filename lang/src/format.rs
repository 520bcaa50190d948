//! `infra fmt`: the lossless tree printed back with consistent layout, meaning untouched.
//!
//! What it changes: indentation (two spaces per open `{`, `[`, `(`, `let` and dynamic `${`,
//! and one more for a line that continues an expression begun on an earlier line — a binding's
//! value after `=`, an argument, an operand, `then`/`else`), runs of blanks between tokens
//! (one space), trailing blanks, blank lines (at most one in a row, none at the start or the
//! end), line endings (`\n`, one at the end). What it keeps: every token and every line break
//! as written, every comment, and strings and paths byte for byte (an indented string's lines
//! are its content). So the result parses to the same tree with other whitespace, and
//! formatting twice gives the same text. It never removes or adds a blank between two tokens,
//! only shortens a run of them, so no two tokens can fuse.

use rowan::{NodeOrToken, TextSize, WalkEvent};

use crate::{
    FileId, SourceMap, SyntaxError, SyntaxKind,
    SyntaxKind::{
        ASSERT, COMMENT, IN_KW, INTERPOL_START, L_BRACE, L_BRACK, L_PAREN, LAMBDA, LEGACY_LET,
        LET_IN, LET_KW, PATH, R_BRACE, R_BRACK, R_PAREN, SOURCE_FILE, STRING, WHITESPACE, WITH,
    },
    SyntaxNode, SyntaxToken,
};

/// `text` formatted; its syntax errors when it does not parse (it is then left alone).
pub fn format(text: &str) -> Result<String, Vec<SyntaxError>> {
    let parse = crate::parse(text);
    if !parse.errors().is_empty() {
        return Err(parse.errors().to_vec());
    }
    let root = parse.syntax_node();
    let mut lines = SourceMap::new();
    let file = lines.add(String::new(), text.to_owned());
    let lines = Lines(&lines, file);
    // The atoms grouped by output line, with the blank lines before each (0 or 1).
    let mut grouped: Vec<(usize, Vec<Atom>)> = Vec::new();
    let mut blank_lines = 0;
    let mut new_line = true;
    for atom in atoms(&root) {
        match atom {
            Atom::Blank { breaks } if breaks > 0 => {
                if !grouped.is_empty() {
                    blank_lines = (blank_lines + breaks - usize::from(!new_line)).min(1);
                }
                new_line = true;
            }
            Atom::Blank { .. } => {
                if let Some((_, line)) = grouped.last_mut().filter(|_| !new_line) {
                    line.push(Atom::Blank { breaks: 0 });
                }
            }
            atom => {
                if new_line {
                    grouped.push((blank_lines, Vec::new()));
                    blank_lines = 0;
                    new_line = false;
                }
                if let Some((_, line)) = grouped.last_mut() {
                    line.push(atom);
                }
            }
        }
    }
    // Each open bracket remembers the indentation of the line that opened it: the lines inside
    // are one level deeper, the line that closes it (starting with the closer) is at its level.
    let mut open: Vec<(usize, Option<SyntaxNode>)> = Vec::new();
    let mut out = String::with_capacity(text.len());
    for (blank, line) in &grouped {
        let leading = line
            .iter()
            .filter(|a| !matches!(a, Atom::Blank { .. }))
            .take_while(|a| a.token().is_some_and(|t| is_closer(t.kind())))
            .count();
        let indent = if leading > 0 {
            let mut at = 0;
            for _ in 0..leading {
                at = open.pop().map_or(0, |(indent, _)| indent);
            }
            at
        } else {
            let first = line.iter().find_map(Atom::token);
            let owner = open.last().and_then(|(_, owner)| owner.as_ref());
            let continuation = first.is_some_and(|t| continues(t, owner, &lines));
            open.last().map_or(0, |(i, _)| i + 2) + if continuation { 2 } else { 0 }
        };
        if !out.is_empty() {
            out.push('\n');
            if *blank > 0 {
                out.push('\n');
            }
        }
        out.extend(std::iter::repeat_n(' ', indent));
        let mut seen = 0;
        let mut space = false;
        for atom in line {
            let (token, text) = match atom {
                Atom::Blank { .. } => {
                    space = true;
                    continue;
                }
                Atom::Text { token, text } | Atom::Verbatim { first: token, text } => (token, text),
            };
            if space && !out.ends_with(' ') && !out.ends_with('\n') {
                out.push(' ');
            }
            space = false;
            out.push_str(text);
            let kind = token.kind();
            seen += 1;
            if is_closer(kind) && seen > leading {
                open.pop();
            } else if is_opener(kind) {
                open.push((indent, token.parent()));
            }
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

fn is_opener(kind: SyntaxKind) -> bool {
    matches!(kind, L_BRACE | L_BRACK | L_PAREN | LET_KW | INTERPOL_START)
}

fn is_closer(kind: SyntaxKind) -> bool {
    matches!(kind, R_BRACE | R_BRACK | R_PAREN | IN_KW)
}

impl Atom {
    fn token(&self) -> Option<&SyntaxToken> {
        match self {
            Atom::Text { token, .. } | Atom::Verbatim { first: token, .. } => Some(token),
            Atom::Blank { .. } => None,
        }
    }
}

/// A piece of the output.
enum Atom {
    /// Blanks between tokens: how many line breaks they hold.
    Blank { breaks: usize },
    /// A token, its text as it is (a comment without trailing blanks).
    Text { token: SyntaxToken, text: String },
    /// A string or path node, byte for byte (its first token places it).
    Verbatim { first: SyntaxToken, text: String },
}

/// The tree as atoms, in order: strings and paths whole, other tokens one by one.
fn atoms(root: &SyntaxNode) -> Vec<Atom> {
    let mut out = Vec::new();
    let mut walk = root.preorder_with_tokens();
    while let Some(event) = walk.next() {
        let WalkEvent::Enter(element) = event else { continue };
        match element {
            NodeOrToken::Node(node) if matches!(node.kind(), STRING | PATH) => {
                if let Some(first) = node.first_token() {
                    out.push(Atom::Verbatim { first, text: node.text().to_string() });
                }
                walk.skip_subtree();
            }
            NodeOrToken::Node(_) => {}
            NodeOrToken::Token(token) if token.kind() == WHITESPACE => {
                let text = token.text();
                let breaks = text.matches('\n').count()
                    + text.matches('\r').count().saturating_sub(text.matches("\r\n").count());
                out.push(Atom::Blank { breaks });
            }
            NodeOrToken::Token(token) => {
                let text = if token.kind() == COMMENT && !token.text().starts_with("/*") {
                    token.text().trim_end().to_owned()
                } else {
                    token.text().to_owned()
                };
                // A line comment ends its line: what follows starts a new one.
                let ends_line = token.kind() == COMMENT && token.text().starts_with('#');
                out.push(Atom::Text { token, text });
                if ends_line {
                    out.push(Atom::Blank { breaks: 0 });
                }
            }
        }
    }
    out
}

/// Whether the line starting with `token` continues an expression begun on an earlier line
/// inside the innermost open bracket (whose node is `owner`): an ancestor below it that
/// starts before this line. A function, `with`, `assert` and `let … in` do not count by
/// themselves (their bodies are not indented: `{ lib }:` then the file's body), only what
/// holds them (a binding's value on the next line is).
fn continues(token: &SyntaxToken, owner: Option<&SyntaxNode>, lines: &Lines<'_>) -> bool {
    let line = lines.line(token.text_range().start().into());
    for ancestor in token.parent_ancestors() {
        if Some(&ancestor) == owner {
            return false;
        }
        if matches!(ancestor.kind(), LAMBDA | WITH | ASSERT | LET_IN | LEGACY_LET | SOURCE_FILE) {
            continue;
        }
        if lines.line(ancestor.text_range().start().into()) < line {
            return true;
        }
    }
    false
}

/// Line numbers of offsets in the original text.
struct Lines<'a>(&'a SourceMap, FileId);

impl Lines<'_> {
    fn line(&self, offset: u32) -> u32 {
        self.0.line_col(self.1, TextSize::from(offset)).line
    }
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    fn check(input: &str, expected: Expect) {
        let once = super::format(input).expect("it parses");
        expected.assert_eq(&once);
        let twice = super::format(&once).expect("its output parses");
        assert_eq!(once, twice, "not idempotent");
    }

    #[test]
    fn indentation_follows_brackets_and_continuations() {
        check(
            "{\nfoo =   1;\n    bar = {\n  x = [ 1\n2 ];\n      };\n\n\n\nbaz =\nif true\nthen 1\nelse 2;   \n}",
            expect![[r#"
                {
                  foo = 1;
                  bar = {
                    x = [ 1
                      2 ];
                  };

                  baz =
                    if true
                    then 1
                    else 2;
                }
            "#]],
        );
    }

    #[test]
    fn strings_comments_and_let_are_kept() {
        check(
            "let\n# a comment   \n  s = ''\n      keep   this\n    '';\nin\n    s + \"a  b\"  # end\n",
            expect![[r#"
                let
                  # a comment
                  s = ''
                      keep   this
                    '';
                in
                s + "a  b" # end
            "#]],
        );
    }

    #[test]
    fn a_file_that_does_not_parse_is_not_formatted() {
        assert!(super::format("{ a = ; }").is_err());
    }
}
