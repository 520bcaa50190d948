//! The lexer: source text → tokens, total and lossless.
//!
//! Each token is recognised by a small nom parser; a driver loop picks the recogniser from the
//! current mode (code, `"…"` string, `''…''` string, path after an interpolation) and keeps a mode
//! stack for `${ … }` nesting. Nothing here can fail: a byte sequence no recogniser accepts becomes
//! a one-character `ERROR` token, so the token lengths always add up to the text's length.
//! Like Nix's flex lexer, words use longest match: `a/b` is a path and `x:x` is a URI.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_until, take_while, take_while_m_n, take_while1},
    character::complete::{one_of, satisfy},
    combinator::{opt, recognize},
    multi::many1,
    sequence::preceded,
};

use crate::{SyntaxKind, SyntaxKind::*, TextRange, TextSize};

/// One token: its kind and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: SyntaxKind,
    pub range: TextRange,
}

/// A problem found while lexing; the token is still produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexErrorKind {
    UnterminatedComment,
    UnknownChar,
    TrailingSlash,
    IntegerOverflow,
    InvalidFloat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) kind: LexErrorKind,
    pub(crate) range: TextRange,
}

/// The result of lexing: parallel arrays of kinds and start offsets, plus lexical errors.
pub(crate) struct Lexed {
    pub(crate) kinds: Vec<SyntaxKind>,
    /// `starts[i]` is where token `i` begins; `starts[len]` is the end of the text.
    pub(crate) starts: Vec<u32>,
    pub(crate) errors: Vec<LexError>,
}

impl Lexed {
    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    pub(crate) fn range(&self, i: usize) -> TextRange {
        TextRange::new(TextSize::new(self.starts[i]), TextSize::new(self.starts[i + 1]))
    }
}

/// Splits `text` into tokens; trivia included, nothing dropped.
pub fn tokenize(text: &str) -> Vec<Token> {
    let lexed = lex(text);
    (0..lexed.len()).map(|i| Token { kind: lexed.kinds[i], range: lexed.range(i) }).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Inside `{ … }` in code.
    Brace,
    /// Inside `${ … }`.
    Interpol,
    /// Inside `"…"`.
    Str,
    /// Inside `''…''`.
    IndStr,
    /// After a path piece that was directly followed by `${`.
    Path,
}

pub(crate) fn lex(text: &str) -> Lexed {
    // Texts over 4 GiB cannot be addressed by `TextSize`; callers reject them before lexing.
    debug_assert!(u32::try_from(text.len()).is_ok());
    let mut lexer = Lexer {
        text,
        pos: 0,
        no_path_before: 0,
        stack: Vec::new(),
        out: Lexed {
            kinds: Vec::with_capacity(text.len() / 3),
            starts: Vec::with_capacity(text.len() / 3 + 1),
            errors: Vec::new(),
        },
    };
    while lexer.pos < text.len() {
        let start = lexer.pos;
        let kind = lexer.next_token();
        debug_assert!(lexer.pos > start, "the lexer must always make progress");
        lexer.out.kinds.push(kind);
        lexer.out.starts.push(start as u32);
    }
    lexer.out.starts.push(text.len() as u32);
    lexer.out
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// No path literal starts before this offset: the run of path characters from the last
    /// failed attempt ends here without a `/`. Keeps `-----…` linear.
    no_path_before: usize,
    stack: Vec<Mode>,
    out: Lexed,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn error(&mut self, kind: LexErrorKind, start: usize) {
        let range = TextRange::new(TextSize::new(start as u32), TextSize::new(self.pos as u32));
        self.out.errors.push(LexError { kind, range });
    }

    fn next_token(&mut self) -> SyntaxKind {
        match self.stack.last() {
            Some(Mode::Str) => self.string_token(),
            Some(Mode::IndStr) => self.ind_string_token(),
            Some(Mode::Path) => self.path_token(),
            Some(Mode::Brace | Mode::Interpol) | None => self.code_token(),
        }
    }

    fn take(&mut self, len: usize, kind: SyntaxKind) -> SyntaxKind {
        self.pos += len;
        kind
    }

    /// Takes one whole character as an `ERROR` token and records the error.
    fn unknown_char(&mut self) -> SyntaxKind {
        let start = self.pos;
        let len = self.rest().chars().next().map_or(1, char::len_utf8);
        self.pos += len;
        self.error(LexErrorKind::UnknownChar, start);
        ERROR
    }

    fn code_token(&mut self) -> SyntaxKind {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let second = bytes.get(1).copied();
        match bytes[0] {
            b' ' | b'\t' | b'\r' | b'\n' => {
                let len = run_bytes(whitespace, bytes);
                self.take(len, WHITESPACE)
            }
            b'#' => {
                // A line comment ends at a line feed or a carriage return (as in Nix).
                let len = rest.find(['\n', '\r']).unwrap_or(rest.len());
                self.take(len, COMMENT)
            }
            b'/' if second == Some(b'*') => match block_comment(rest) {
                Ok((_, comment)) => self.take(comment.len(), COMMENT),
                Err(_) => {
                    let start = self.pos;
                    self.pos = self.text.len();
                    self.error(LexErrorKind::UnterminatedComment, start);
                    COMMENT
                }
            },
            b'"' => {
                self.stack.push(Mode::Str);
                self.take(1, DQUOTE)
            }
            b'\'' if second == Some(b'\'') => {
                self.stack.push(Mode::IndStr);
                self.take(2, IND_QUOTE)
            }
            b'$' if second == Some(b'{') => {
                self.stack.push(Mode::Interpol);
                self.take(2, INTERPOL_START)
            }
            b'{' => {
                self.stack.push(Mode::Brace);
                self.take(1, L_BRACE)
            }
            b'}' => {
                // Closing `${ … }` returns to the string or path it interrupted.
                if matches!(self.stack.last(), Some(Mode::Brace | Mode::Interpol)) {
                    self.stack.pop();
                }
                self.take(1, R_BRACE)
            }
            b'[' => self.take(1, L_BRACK),
            b']' => self.take(1, R_BRACK),
            b'(' => self.take(1, L_PAREN),
            b')' => self.take(1, R_PAREN),
            b';' => self.take(1, SEMICOLON),
            b':' => self.take(1, COLON),
            b',' => self.take(1, COMMA),
            b'@' => self.take(1, AT),
            b'?' => self.take(1, QUESTION),
            b'*' => self.take(1, STAR),
            b'=' if second == Some(b'=') => self.take(2, EQ2),
            b'=' => self.take(1, EQ),
            b'!' if second == Some(b'=') => self.take(2, NEQ),
            b'!' => self.take(1, BANG),
            b'&' if second == Some(b'&') => self.take(2, AMP2),
            b'|' if second == Some(b'|') => self.take(2, PIPE2),
            b'|' if second == Some(b'>') => self.take(2, PIPE_RIGHT),
            b'>' if second == Some(b'=') => self.take(2, GT_EQ),
            b'>' => self.take(1, GT),
            b'<' if second == Some(b'=') => self.take(2, LT_EQ),
            b'<' if second == Some(b'|') => self.take(2, PIPE_LEFT),
            b'<' => match search_path(rest) {
                Ok((_, path)) => self.take(path.len(), SEARCH_PATH),
                Err(_) => self.take(1, LT),
            },
            b'/' => match self.path_literal() {
                Some(kind) => kind,
                None if second == Some(b'/') => self.take(2, UPDATE),
                None => self.take(1, SLASH),
            },
            b'~' => self.path_literal().unwrap_or_else(|| self.unknown_char()),
            b'-' | b'+' | b'.' => {
                if let Some(kind) = self.word() {
                    return kind;
                }
                match (bytes[0], second) {
                    (b'-', Some(b'>')) => self.take(2, IMPLICATION),
                    (b'-', _) => self.take(1, MINUS),
                    (b'+', Some(b'+')) => self.take(2, CONCAT),
                    (b'+', _) => self.take(1, PLUS),
                    _ if rest.starts_with("...") => self.take(3, ELLIPSIS),
                    _ => self.take(1, DOT),
                }
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => {
                self.word().unwrap_or_else(|| self.unknown_char())
            }
            _ => self.unknown_char(),
        }
    }

    /// Identifiers, keywords, numbers, paths and URIs: the longest match wins, as in Nix.
    fn word(&mut self) -> Option<SyntaxKind> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut best = (0, ERROR);
        let mut consider = |len: usize, kind: SyntaxKind| {
            if len > best.0 {
                best = (len, kind);
            }
        };
        if bytes[0].is_ascii_alphabetic() || bytes[0] == b'_' {
            let len = run_bytes(ident, bytes);
            // The common case: a name followed by a character no path, URI or float continues
            // with. Path characters are identifier characters but for `.` and `+`, so the run
            // of path characters ends where the name does, with neither `/` nor `:` after it.
            if !matches!(bytes.get(len), Some(b'/' | b':' | b'.' | b'+')) {
                return Some(self.take(len, keyword(&rest[..len]).unwrap_or(IDENT)));
            }
            consider(len, IDENT);
        }
        if bytes[0].is_ascii_digit() {
            let len = run_bytes(int, bytes);
            // The common case again: digits followed by a character that continues no float,
            // path or URI (nor a name: `1a/b` is a path). Fewer than 19 digits cannot overflow.
            let ends = |b: &u8| !(b.is_ascii_alphanumeric() || b"._-+/:'".contains(b));
            if len < 19 && bytes.get(len).is_none_or(ends) {
                return Some(self.take(len, INT));
            }
            consider(len, INT);
        }
        // A float needs a dot right after its leading digits (or first).
        let digits = run_bytes(int, bytes);
        if bytes.get(digits) == Some(&b'.') {
            consider(run(float, rest), FLOAT);
        }
        // Paths and URIs continue a run of path characters with `/` or `:`; most words stop at
        // neither, and then need no further look.
        let mut path = 0;
        if self.pos >= self.no_path_before {
            let chars = run_bytes(path_chars, bytes);
            match bytes.get(chars) {
                Some(b'/') => path = path_len(rest),
                Some(b':') => {
                    if bytes[0].is_ascii_alphabetic() {
                        consider(run(uri, rest), URI);
                    }
                }
                // No token starting inside this run can be a path or a URI either.
                _ => self.no_path_before = self.pos + chars,
            }
        }
        if path > best.0 {
            return Some(self.finish_path(path));
        }
        match best {
            (0, _) => None,
            (len, IDENT) => Some(self.take(len, keyword(&rest[..len]).unwrap_or(IDENT))),
            (len, INT) => {
                if rest[..len].parse::<i64>().is_err() {
                    let start = self.pos;
                    self.pos += len;
                    self.error(LexErrorKind::IntegerOverflow, start);
                    return Some(INT);
                }
                Some(self.take(len, INT))
            }
            (len, FLOAT) if !float_in_range(&rest[..len]) => {
                let start = self.pos;
                self.pos += len;
                self.error(LexErrorKind::InvalidFloat, start);
                Some(FLOAT)
            }
            (len, kind) => Some(self.take(len, kind)),
        }
    }

    /// A path literal (`./a`, `/abs`, `a/b`, `~/x`) starting here, if there is one.
    fn path_literal(&mut self) -> Option<SyntaxKind> {
        let len = path_len(self.rest());
        if len == 0 { None } else { Some(self.finish_path(len)) }
    }

    /// Takes a path literal of `len` bytes, entering path mode when `${` follows.
    fn finish_path(&mut self, len: usize) -> SyntaxKind {
        let start = self.pos;
        self.pos += len;
        if self.rest().starts_with("${") {
            self.stack.push(Mode::Path);
        } else if self.text.as_bytes()[self.pos - 1] == b'/' {
            self.error(LexErrorKind::TrailingSlash, start);
        }
        PATH_CONTENT
    }

    /// Inside a path after an interpolation: more path text, another `${`, or the end of it.
    fn path_token(&mut self) -> SyntaxKind {
        let rest = self.rest();
        if rest.starts_with("${") {
            self.stack.push(Mode::Interpol);
            return self.take(2, INTERPOL_START);
        }
        let len = run(path_piece, rest);
        if len == 0 {
            self.stack.pop();
            return self.code_token();
        }
        let start = self.pos;
        self.pos += len;
        if self.rest().starts_with("${") {
            return PATH_CONTENT;
        }
        self.stack.pop();
        if rest.as_bytes()[len - 1] == b'/' {
            self.error(LexErrorKind::TrailingSlash, start);
        }
        PATH_CONTENT
    }

    fn string_token(&mut self) -> SyntaxKind {
        let rest = self.rest();
        if rest.starts_with('"') {
            self.stack.pop();
            return self.take(1, DQUOTE);
        }
        if rest.starts_with("${") {
            self.stack.push(Mode::Interpol);
            return self.take(2, INTERPOL_START);
        }
        let len = string_text_len(rest.as_bytes());
        self.take(len, STRING_CONTENT)
    }

    fn ind_string_token(&mut self) -> SyntaxKind {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        if bytes.starts_with(b"''") && !matches!(bytes.get(2), Some(b'$' | b'\'' | b'\\')) {
            self.stack.pop();
            return self.take(2, IND_QUOTE);
        }
        if rest.starts_with("${") {
            self.stack.push(Mode::Interpol);
            return self.take(2, INTERPOL_START);
        }
        let len = ind_string_text_len(rest);
        self.take(len, STRING_CONTENT)
    }
}

/// Runs a recogniser and returns how many bytes it matched (zero when it did not match).
fn run(recogniser: fn(&str) -> IResult<&str, &str>, input: &str) -> usize {
    recogniser(input).map_or(0, |(_, matched)| matched.len())
}

type ByteRecogniser = fn(&[u8]) -> IResult<&[u8], &[u8]>;

/// `run` for byte-level recognisers, used on the hot paths (they need no UTF-8 decoding).
fn run_bytes(recogniser: ByteRecogniser, input: &[u8]) -> usize {
    recogniser(input).map_or(0, |(_, matched)| matched.len())
}

fn keyword(word: &str) -> Option<SyntaxKind> {
    Some(match word {
        "assert" => ASSERT_KW,
        "else" => ELSE_KW,
        "if" => IF_KW,
        "in" => IN_KW,
        "inherit" => INHERIT_KW,
        "let" => LET_KW,
        "or" => OR_KW,
        "rec" => REC_KW,
        "then" => THEN_KW,
        "with" => WITH_KW,
        _ => return None,
    })
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')
}

fn whitespace(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))(i)
}

fn block_comment(i: &str) -> IResult<&str, &str> {
    recognize((tag("/*"), take_until("*/"), tag("*/"))).parse(i)
}

/// `[a-zA-Z_][a-zA-Z0-9_'-]*`
fn ident(i: &[u8]) -> IResult<&[u8], &[u8]> {
    recognize((
        take_while_m_n(1, 1, |b: u8| b.is_ascii_alphabetic() || b == b'_'),
        take_while(|b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'\'' | b'-')),
    ))
    .parse(i)
}

/// `[0-9]+`
/// Whether a float literal's value is what it says, as Nix's `std::stod` requires: not
/// overflowing to infinity (`1.0e400`), not underflowing to a subnormal number or to zero
/// (`1.0e-320`; `0.0e-400` is zero and fine).
fn float_in_range(text: &str) -> bool {
    let Ok(value) = text.parse::<f64>() else { return false };
    let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
    let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    value.is_finite() && (value == 0.0 && !nonzero || value.abs() >= f64::MIN_POSITIVE)
}

fn int(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|b: u8| b.is_ascii_digit())(i)
}

/// `[a-zA-Z0-9._+-]*`, the characters of a path segment.
fn path_chars(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while(|b: u8| is_path_char(b as char))(i)
}

fn digits(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_digit())(i)
}

/// `(([1-9][0-9]*\.[0-9]*)|(0?\.[0-9]+))([Ee][+-]?[0-9]+)?`
fn float(i: &str) -> IResult<&str, &str> {
    let mantissa = alt((
        recognize((
            satisfy(|c| matches!(c, '1'..='9')),
            take_while(|c: char| c.is_ascii_digit()),
            tag("."),
            take_while(|c: char| c.is_ascii_digit()),
        )),
        recognize((opt(tag("0")), tag("."), digits)),
    ));
    let exponent = (one_of("eE"), opt(one_of("+-")), digits);
    recognize((mantissa, opt(exponent))).parse(i)
}

/// `[a-zA-Z][a-zA-Z0-9+\-.]*:[a-zA-Z0-9%/?:@&=+$,\-_.!~*']+`
fn uri(i: &str) -> IResult<&str, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic()),
        take_while(|c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')),
        tag(":"),
        take_while1(|c: char| c.is_ascii_alphanumeric() || "%/?:@&=+$,-_.!~*'".contains(c)),
    ))
    .parse(i)
}

/// `<infra>`, `<infra/lib>`.
fn search_path(i: &str) -> IResult<&str, &str> {
    recognize((
        tag("<"),
        take_while1(is_path_char),
        many1(preceded(tag("/"), take_while1(is_path_char))).map(|_| ()).or(|i| Ok((i, ()))),
        tag(">"),
    ))
    .parse(i)
}

/// A piece of a path after an interpolation: path characters and slashes.
fn path_piece(i: &str) -> IResult<&str, &str> {
    take_while1(|c| is_path_char(c) || c == '/')(i)
}

/// Length of a path literal at the start of `s`, or zero.
///
/// `PATH_CHAR* ('/' PATH_CHAR+)+ '/'?`, `'~' ('/' PATH_CHAR+)+ '/'?`, and the segment forms
/// `PATH_CHAR* '/'` and `'~/'` when an interpolation follows.
fn path_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let prefix = if bytes.first() == Some(&b'~') {
        1
    } else {
        bytes.iter().take_while(|&&b| is_path_char(b as char)).count()
    };
    let mut i = prefix;
    let mut segments = 0;
    while bytes.get(i) == Some(&b'/') {
        let seg = bytes[i + 1..].iter().take_while(|&&b| is_path_char(b as char)).count();
        if seg == 0 {
            break;
        }
        i += 1 + seg;
        segments += 1;
    }
    let trailing = bytes.get(i) == Some(&b'/');
    if segments == 0 {
        // Only `prefix/${` (or `~/${`) forms a path without a full segment.
        return if trailing && s[i + 1..].starts_with("${") { i + 1 } else { 0 };
    }
    if trailing { i + 1 } else { i }
}

/// Length of literal text at the start of a `"…"` string body (never zero unless at its end).
fn string_text_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => break,
            b'\\' => i += 2,
            b'$' => match bytes.get(i + 1) {
                Some(b'{') => break,
                Some(b'"' | b'\\') | None => i += 1,
                Some(_) => i += 2,
            },
            _ => i += 1,
        }
    }
    // An escape can step onto the middle of a multi-byte character; move to its end.
    clamp_to_char(bytes, i)
}

/// Length of literal text at the start of a `''…''` string body.
fn ind_string_text_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => match bytes.get(i + 2) {
                Some(b'$' | b'\'') => i += 3,
                Some(b'\\') => i += 4,
                _ => break,
            },
            b'$' => match bytes.get(i + 1) {
                Some(b'{') => break,
                Some(b'\'') | None => i += 1,
                Some(_) => i += 2,
            },
            _ => i += 1,
        }
    }
    clamp_to_char(bytes, i)
}

fn clamp_to_char(bytes: &[u8], mut i: usize) -> usize {
    if i >= bytes.len() {
        return bytes.len();
    }
    while i < bytes.len() && (bytes[i] & 0xC0) == 0x80 {
        i += 1;
    }
    i
}
