//! Lowering strings and paths: escapes decoded, indented strings stripped exactly as Nix
//! strips them, paths made absolute.

use alloc_shim::thin::RcStr;
use std::{path::PathBuf, rc::Rc};

use lang::{
    Span,
    ast::{self, StrPart},
};

use crate::{
    ir::{Expr, ExprId, Part},
    lower::Lowerer,
};

enum Chunk {
    /// Text whose leading spaces are indentation.
    Text(String),
    /// An escape (`''$`, `'''`, `''\n`, a lone `$` or `'`): opaque to indentation, as in Nix.
    Escaped(String),
    Interpolation(ExprId),
}

/// String literals up to this long share their text with names (`Arena::name`); longer ones
/// are prose, never looked up.
const NAME_LIKE: usize = 64;

pub(super) fn string(l: &mut Lowerer<'_>, s: &ast::Str, span: Span) -> ExprId {
    let indented = s.is_indented();
    // Most strings are one piece of plain text, mostly without escapes: their text is taken
    // as it is (one allocation, where the general path below makes four).
    if !indented {
        let mut parts = s.parts();
        match (parts.next(), parts.next()) {
            (None, _) => return l.push(Expr::Str("".into()), span),
            (Some(StrPart::Literal(token)), None) => {
                let raw = token.text();
                let text: RcStr = if raw.contains(['\\', '\r']) {
                    let mut text = String::with_capacity(raw.len());
                    ast::unescape_into(raw, &mut text);
                    text.into()
                } else if raw.len() <= NAME_LIKE {
                    // Shares its text with the attribute of that name, if the program writes
                    // one: `removeAttrs s [ "b" ]`, `s ? "b"`, `getAttr "b" s` then find the
                    // entry by address, comparing no bytes.
                    l.arena.name(raw)
                } else {
                    raw.into()
                };
                return l.push(Expr::Str(text), span);
            }
            _ => {}
        }
    }
    let mut chunks = Vec::new();
    for (i, part) in s.parts().enumerate() {
        match part {
            StrPart::Literal(token) if indented => {
                let mut text = token.text();
                // Nix's lexer swallows `''` followed by spaces and a newline.
                if i == 0 {
                    let spaces = text.bytes().take_while(|b| *b == b' ').count();
                    if text.as_bytes().get(spaces) == Some(&b'\n') {
                        text = &text[spaces + 1..];
                    }
                }
                indented_chunks(text, &mut chunks);
            }
            StrPart::Literal(token) => {
                let mut text = String::new();
                ast::unescape_into(token.text(), &mut text);
                chunks.push(Chunk::Text(text));
            }
            StrPart::Interpolation(interpolation) => {
                let id = l.expr(interpolation.expr(), span);
                chunks.push(Chunk::Interpolation(id));
            }
        }
    }
    if indented {
        chunks = strip_indentation(chunks);
    }
    let mut parts: Vec<Part> = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Text(text) | Chunk::Escaped(text) => match parts.last_mut() {
                Some(Part::Literal(last)) => *last = format!("{last}{text}").into(),
                _ => parts.push(Part::Literal(text.into())),
            },
            Chunk::Interpolation(id) => parts.push(Part::Expr(id)),
        }
    }
    let expr = match parts.as_slice() {
        [] => Expr::Str("".into()),
        [Part::Literal(text)] => Expr::Str(text.clone()),
        _ => Expr::Interpolate(parts),
    };
    l.push(expr, span)
}

/// Splits an indented string piece the way Nix's lexer does: runs of plain text, and escapes
/// (`''$` → `$`, `'''` → `''`, `''\n` and friends, a `$` or `'` the plain rule cannot take).
fn indented_chunks(raw: &str, out: &mut Vec<Chunk>) {
    let bytes = raw.as_bytes();
    let mut text = String::new();
    let mut i = 0;
    let flush = |text: &mut String, out: &mut Vec<Chunk>| {
        if !text.is_empty() {
            out.push(Chunk::Text(std::mem::take(text)));
        }
    };
    while i < bytes.len() {
        let rest = &raw[i..];
        if let Some(after) = rest.strip_prefix("''") {
            flush(&mut text, out);
            let mut chars = after.chars();
            let (escaped, used) = match chars.next() {
                Some('$') => ("$".to_owned(), 3),
                Some('\'') => ("''".to_owned(), 3),
                Some('\\') => match chars.next() {
                    Some('n') => ("\n".to_owned(), 4),
                    Some('r') => ("\r".to_owned(), 4),
                    Some('t') => ("\t".to_owned(), 4),
                    Some(c) => (c.to_string(), 3 + c.len_utf8()),
                    None => (String::new(), 3),
                },
                _ => ("''".to_owned(), 2),
            };
            out.push(Chunk::Escaped(escaped));
            i += used;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        let next = bytes.get(i + 1).copied();
        match (c, next) {
            // `$` then `{` never occurs here (that is an interpolation).
            ('$', Some(b'\'') | None) | ('\'', Some(b'$') | None) => {
                flush(&mut text, out);
                out.push(Chunk::Escaped(c.to_string()));
                i += 1;
            }
            ('$', Some(_)) => {
                // `$x` is plain text, two characters at once (so `$$` hides a following `{`).
                let second = rest[1..].chars().next().unwrap_or(' ');
                text.push('$');
                text.push(second);
                i += 1 + second.len_utf8();
            }
            _ => {
                text.push(c);
                i += c.len_utf8();
            }
        }
    }
    flush(&mut text, out);
}

/// Nix's indentation stripping for `''…''` strings (`stripIndentation` in its parser): the
/// smallest indentation (in spaces) of the lines with content is removed from every line, and a
/// closing line of only spaces is dropped. When measuring, escapes and interpolations end a
/// line's indentation; when stripping, escapes count as text.
fn strip_indentation(chunks: Vec<Chunk>) -> Vec<Chunk> {
    let mut min_indent = usize::MAX;
    let (mut at_line_start, mut indent) = (true, 0);
    for chunk in &chunks {
        match chunk {
            Chunk::Text(text) => {
                for c in text.chars() {
                    if at_line_start {
                        match c {
                            ' ' => indent += 1,
                            '\n' => indent = 0,
                            _ => {
                                at_line_start = false;
                                min_indent = min_indent.min(indent);
                            }
                        }
                    } else if c == '\n' {
                        at_line_start = true;
                        indent = 0;
                    }
                }
            }
            Chunk::Escaped(_) | Chunk::Interpolation(_) => {
                if at_line_start {
                    at_line_start = false;
                    min_indent = min_indent.min(indent);
                }
            }
        }
    }
    let n_chunks = chunks.len();
    let (mut at_line_start, mut dropped) = (true, 0);
    let mut out = Vec::with_capacity(n_chunks);
    for (i, chunk) in chunks.into_iter().enumerate() {
        match chunk {
            Chunk::Interpolation(_) => {
                at_line_start = false;
                dropped = 0;
                out.push(chunk);
            }
            // Here escapes are text like any other (an escaped newline starts a line), as in
            // Nix's trimming pass.
            Chunk::Text(text) | Chunk::Escaped(text) => {
                let mut kept = String::with_capacity(text.len());
                for c in text.chars() {
                    if at_line_start {
                        match c {
                            ' ' => {
                                if dropped >= min_indent {
                                    kept.push(c);
                                }
                                dropped += 1;
                            }
                            '\n' => {
                                dropped = 0;
                                kept.push(c);
                            }
                            _ => {
                                at_line_start = false;
                                dropped = 0;
                                kept.push(c);
                            }
                        }
                    } else {
                        kept.push(c);
                        if c == '\n' {
                            at_line_start = true;
                        }
                    }
                }
                if i + 1 == n_chunks
                    && let Some(newline) = kept.rfind('\n')
                    && kept[newline + 1..].bytes().all(|b| b == b' ')
                {
                    kept.truncate(newline + 1);
                }
                out.push(Chunk::Text(kept));
            }
        }
    }
    out
}

pub(super) fn path(l: &mut Lowerer<'_>, path: &ast::Path, span: Span) -> ExprId {
    let mut parts = Vec::new();
    for (i, part) in path.parts().enumerate() {
        match part {
            StrPart::Literal(token) if i == 0 => {
                parts.push(Part::Literal(absolute(l, token.text()).into()));
            }
            StrPart::Literal(token) => parts.push(Part::Literal(token.text().into())),
            StrPart::Interpolation(interpolation) => {
                parts.push(Part::Expr(l.expr(interpolation.expr(), span)));
            }
        }
    }
    let expr = match parts.as_slice() {
        [Part::Literal(text)] => Expr::Path(Rc::new(PathBuf::from(canonical(text)))),
        _ => Expr::PathInterpolate(parts),
    };
    l.push(expr, span)
}

/// The first piece of a path literal made absolute (a trailing `/` kept for what follows).
fn absolute(l: &Lowerer<'_>, text: &str) -> String {
    if text.starts_with('/') {
        return text.to_owned();
    }
    if let Some(rest) = text.strip_prefix("~/") {
        return format!("{}/{rest}", l.home().unwrap_or(""));
    }
    format!("{}/{text}", l.base_dir().display())
}

/// Removes `.` and `..` segments and repeated slashes, lexically, as Nix's `canonPath`.
pub(crate) fn canonical(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    format!("/{}", segments.join("/"))
}
