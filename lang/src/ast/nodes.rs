//! Node types, one per node kind, and the `Expr`, `Attr`, `Binding`, `Param` and `StrPart` sums.

use crate::{
    SyntaxKind::{self, *},
    SyntaxNode, SyntaxToken,
    ast::{AstNode, BinaryOp, UnaryOpKind, child, token},
};

macro_rules! nodes {
    ($($(#[$doc:meta])* $name:ident = $kind:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(SyntaxNode);

        impl AstNode for $name {
            fn can_cast(kind: SyntaxKind) -> bool {
                kind == $kind
            }
            fn cast(node: SyntaxNode) -> Option<Self> {
                Self::can_cast(node.kind()).then(|| Self(node))
            }
            fn syntax(&self) -> &SyntaxNode {
                &self.0
            }
        }
    )*};
}

nodes! {
    /// The root of a file.
    SourceFile = SOURCE_FILE;
    /// `f x`
    Apply = APPLY;
    /// `assert c; body`
    Assert = ASSERT;
    /// `{ … }` or `rec { … }`
    AttrSet = ATTR_SET;
    /// `a.b."c".${d}`
    Attrpath = ATTRPATH;
    /// `a.b = value;`
    AttrpathValue = ATTRPATH_VALUE;
    /// `a + b`, `a // b`, …
    BinOp = BIN_OP;
    /// `${e}` as an attribute name.
    Dynamic = DYNAMIC;
    /// `e ? a.b`
    HasAttr = HAS_ATTR;
    /// `if c then a else b`
    IfElse = IF_ELSE;
    /// `inherit a b;` or `inherit (s) a b;`
    Inherit = INHERIT;
    /// `(s)` in `inherit (s) a;`
    InheritFrom = INHERIT_FROM;
    /// `${e}` inside a string or path.
    Interpol = INTERPOL;
    /// `x: body`, `{ a, b ? 1 }: body`
    Lambda = LAMBDA;
    /// `let { …; body = …; }`
    LegacyLet = LEGACY_LET;
    /// `let … in body`
    LetIn = LET_IN;
    /// `[ a b c ]`
    List = LIST;
    /// An integer, float or URI.
    Literal = LITERAL;
    /// A plain name: an attribute, a formal argument, a lambda parameter.
    Name = NAME;
    /// `(e)`
    Paren = PAREN;
    /// `args@` or `@args` in a pattern.
    PatBind = PAT_BIND;
    /// `a` or `a ? default` in a pattern.
    PatEntry = PAT_ENTRY;
    /// `{ a, b ? 1, ... }` (with its `@` binding, if any).
    Pattern = PATTERN;
    /// `x` in `x: body`.
    Param = PARAM;
    /// `./a/b`, `~/x`, `/abs`, `./a/${b}`, `<infra>`.
    Path = PATH;
    /// A variable reference.
    Ref = REF;
    /// `e.a.b` or `e.a.b or default`
    Select = SELECT;
    /// `"…"` or `''…''`
    Str = STRING;
    /// `-e` or `!e`
    UnaryOp = UNARY_OP;
    /// `with e; body`
    With = WITH;
}

macro_rules! sums {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name { $($variant($variant)),* }

        impl AstNode for $name {
            fn can_cast(kind: SyntaxKind) -> bool {
                $($variant::can_cast(kind))||*
            }
            fn cast(node: SyntaxNode) -> Option<Self> {
                $(if $variant::can_cast(node.kind()) {
                    return Some(Self::$variant($variant(node)));
                })*
                None
            }
            fn syntax(&self) -> &SyntaxNode {
                match self { $(Self::$variant(it) => it.syntax()),* }
            }
        }
    )*};
}

sums! {
    /// Any expression.
    Expr {
        Apply, Assert, AttrSet, BinOp, HasAttr, IfElse, Lambda, LegacyLet, LetIn, List, Literal,
        Paren, Path, Ref, Select, Str, UnaryOp, With,
    }
    /// One attribute name in an attribute path or an `inherit`.
    Attr { Name, Str, Dynamic }
    /// A binding in a set or `let`.
    Binding { AttrpathValue, Inherit }
}

impl SourceFile {
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl Apply {
    pub fn lambda(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
    pub fn argument(&self) -> Option<Expr> {
        child(&self.0, 1)
    }
}

impl Assert {
    pub fn condition(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
    pub fn body(&self) -> Option<Expr> {
        child(&self.0, 1)
    }
}

impl With {
    pub fn namespace(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
    pub fn body(&self) -> Option<Expr> {
        child(&self.0, 1)
    }
}

/// Nodes that hold bindings: sets and both forms of `let`.
pub trait HasBindings: AstNode {
    fn bindings(&self) -> impl Iterator<Item = Binding> {
        self.syntax().children().filter_map(Binding::cast)
    }
}

impl HasBindings for AttrSet {}
impl HasBindings for LetIn {}
impl HasBindings for LegacyLet {}

impl AttrSet {
    pub fn rec_token(&self) -> Option<SyntaxToken> {
        token(&self.0, REC_KW)
    }
    pub fn is_rec(&self) -> bool {
        self.rec_token().is_some()
    }
}

impl LetIn {
    pub fn let_token(&self) -> Option<SyntaxToken> {
        token(&self.0, LET_KW)
    }
    pub fn body(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl Attrpath {
    pub fn attrs(&self) -> impl Iterator<Item = Attr> {
        self.0.children().filter_map(Attr::cast)
    }
}

impl AttrpathValue {
    pub fn attrpath(&self) -> Option<Attrpath> {
        child(&self.0, 0)
    }
    pub fn value(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl Inherit {
    pub fn from(&self) -> Option<InheritFrom> {
        child(&self.0, 0)
    }
    pub fn attrs(&self) -> impl Iterator<Item = Attr> {
        self.0.children().filter_map(Attr::cast)
    }
}

impl InheritFrom {
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl BinOp {
    pub fn lhs(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
    pub fn rhs(&self) -> Option<Expr> {
        child(&self.0, 1)
    }
    pub fn operator_token(&self) -> Option<SyntaxToken> {
        self.0
            .children_with_tokens()
            .filter_map(|e| e.into_token())
            .find(|t| BinaryOp::from_kind(t.kind()).is_some())
    }
    pub fn operator(&self) -> Option<BinaryOp> {
        self.operator_token().and_then(|t| BinaryOp::from_kind(t.kind()))
    }
}

impl UnaryOp {
    pub fn operator(&self) -> Option<UnaryOpKind> {
        self.0.children_with_tokens().filter_map(|e| e.into_token()).find_map(|t| match t.kind() {
            MINUS => Some(UnaryOpKind::Negate),
            BANG => Some(UnaryOpKind::Not),
            _ => None,
        })
    }
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl HasAttr {
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
    pub fn attrpath(&self) -> Option<Attrpath> {
        child(&self.0, 0)
    }
}

impl Select {
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
    pub fn attrpath(&self) -> Option<Attrpath> {
        child(&self.0, 0)
    }
    pub fn default_expr(&self) -> Option<Expr> {
        child(&self.0, 1)
    }
}

impl IfElse {
    pub fn condition(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
    pub fn body(&self) -> Option<Expr> {
        child(&self.0, 1)
    }
    pub fn else_body(&self) -> Option<Expr> {
        child(&self.0, 2)
    }
}

impl Lambda {
    pub fn param(&self) -> Option<Param> {
        child(&self.0, 0)
    }
    pub fn pattern(&self) -> Option<Pattern> {
        child(&self.0, 0)
    }
    pub fn body(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl Param {
    pub fn name(&self) -> Option<Name> {
        child(&self.0, 0)
    }
}

impl Pattern {
    pub fn pat_bind(&self) -> Option<PatBind> {
        child(&self.0, 0)
    }
    pub fn entries(&self) -> impl Iterator<Item = PatEntry> {
        self.0.children().filter_map(PatEntry::cast)
    }
    pub fn ellipsis_token(&self) -> Option<SyntaxToken> {
        token(&self.0, ELLIPSIS)
    }
}

impl PatBind {
    pub fn name(&self) -> Option<Name> {
        child(&self.0, 0)
    }
}

impl PatEntry {
    pub fn name(&self) -> Option<Name> {
        child(&self.0, 0)
    }
    pub fn default(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl Name {
    pub fn token(&self) -> Option<SyntaxToken> {
        self.0.first_token().filter(|t| matches!(t.kind(), IDENT | OR_KW))
    }
    pub fn text(&self) -> Option<String> {
        self.token().map(|t| t.text().to_owned())
    }
}

impl Ref {
    pub fn token(&self) -> Option<SyntaxToken> {
        self.0.first_token()
    }
}

impl Literal {
    pub fn token(&self) -> Option<SyntaxToken> {
        self.0.first_token()
    }
}

impl Paren {
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl List {
    pub fn items(&self) -> impl Iterator<Item = Expr> {
        self.0.children().filter_map(Expr::cast)
    }
}

impl Dynamic {
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

impl Interpol {
    pub fn expr(&self) -> Option<Expr> {
        child(&self.0, 0)
    }
}

/// A piece of a string or path: literal text (escapes still in it) or an interpolation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StrPart {
    Literal(SyntaxToken),
    Interpolation(Interpol),
}

fn parts(node: &SyntaxNode, literal: SyntaxKind) -> impl Iterator<Item = StrPart> {
    node.children_with_tokens().filter_map(move |e| match e {
        rowan::NodeOrToken::Token(t) if t.kind() == literal => Some(StrPart::Literal(t)),
        rowan::NodeOrToken::Node(n) => Interpol::cast(n).map(StrPart::Interpolation),
        rowan::NodeOrToken::Token(_) => None,
    })
}

impl Str {
    /// `true` for `''…''` strings.
    pub fn is_indented(&self) -> bool {
        self.0.first_token().is_some_and(|t| t.kind() == IND_QUOTE)
    }
    pub fn parts(&self) -> impl Iterator<Item = StrPart> {
        parts(&self.0, STRING_CONTENT)
    }
}

impl Path {
    /// `<infra/lib>`-style search paths have a single `SEARCH_PATH` token.
    pub fn search_path(&self) -> Option<SyntaxToken> {
        token(&self.0, SEARCH_PATH)
    }
    pub fn parts(&self) -> impl Iterator<Item = StrPart> {
        parts(&self.0, PATH_CONTENT)
    }
}

impl Attr {
    /// The attribute's name when it is known without evaluation: `a`, `"a"`, `${"a"}`.
    pub fn static_name(&self) -> Option<String> {
        match self {
            Attr::Name(name) => name.text(),
            Attr::Str(s) => plain_string(s),
            Attr::Dynamic(d) => match d.expr()? {
                Expr::Str(s) => plain_string(&s),
                _ => None,
            },
        }
    }
}

/// The text of a `"…"` string without interpolations, with escapes decoded.
fn plain_string(s: &Str) -> Option<String> {
    let mut out = String::new();
    for part in s.parts() {
        match part {
            StrPart::Literal(t) if !s.is_indented() => unescape_into(t.text(), &mut out),
            _ => return None,
        }
    }
    Some(out)
}

/// Decodes the escapes of a `"…"` string piece: `\n`, `\r`, `\t`, and `\c` for any other `c`.
/// A raw carriage return (alone or before a newline) becomes a newline, as in Nix.
pub fn unescape_into(text: &str, out: &mut String) {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
            continue;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
}
