//! `SyntaxKind`: the kind of every token and node in the lossless tree.
//!
//! Tokens come first, then nodes; `T![...]` names punctuation and keyword tokens the way they
//! are written in source, so grammar code reads like the grammar.

/// The kind of a token or a node of the syntax tree.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum SyntaxKind {
    // Trivia.
    WHITESPACE = 0,
    COMMENT,
    /// A character (or an unterminated construct) the lexer could not make sense of.
    ERROR,

    // Keywords.
    ASSERT_KW,
    ELSE_KW,
    IF_KW,
    IN_KW,
    INHERIT_KW,
    LET_KW,
    OR_KW,
    REC_KW,
    THEN_KW,
    WITH_KW,

    // Punctuation.
    L_BRACE,
    R_BRACE,
    L_BRACK,
    R_BRACK,
    L_PAREN,
    R_PAREN,
    SEMICOLON,
    COLON,
    COMMA,
    DOT,
    ELLIPSIS,
    AT,
    EQ,
    QUESTION,

    // Operators.
    CONCAT,
    PLUS,
    MINUS,
    STAR,
    SLASH,
    UPDATE,
    BANG,
    LT,
    LT_EQ,
    GT,
    GT_EQ,
    EQ2,
    NEQ,
    AMP2,
    PIPE2,
    IMPLICATION,
    PIPE_RIGHT,
    PIPE_LEFT,

    // Literals.
    IDENT,
    INT,
    FLOAT,
    URI,
    /// `"`: opens and closes a double-quoted string.
    DQUOTE,
    /// `''`: opens and closes an indented string.
    IND_QUOTE,
    /// Literal text inside a string, escapes included verbatim.
    STRING_CONTENT,
    /// `${`: opens an interpolation; it is closed by `R_BRACE`.
    INTERPOL_START,
    /// A piece of a path literal (`./a/b`, `~/x`, or a piece after an interpolation).
    PATH_CONTENT,
    /// `<nixpkgs>`-style search path: `<infra>`, `<infra/lib>`.
    SEARCH_PATH,

    // Nodes.
    SOURCE_FILE,
    APPLY,
    ASSERT,
    ATTR_SET,
    ATTRPATH,
    ATTRPATH_VALUE,
    BIN_OP,
    DYNAMIC,
    HAS_ATTR,
    IF_ELSE,
    INHERIT,
    INHERIT_FROM,
    INTERPOL,
    LAMBDA,
    LEGACY_LET,
    LET_IN,
    LIST,
    LITERAL,
    NAME,
    PAREN,
    PAT_BIND,
    PAT_ENTRY,
    PATTERN,
    PARAM,
    PATH,
    REF,
    SELECT,
    STRING,
    UNARY_OP,
    WITH,

    #[doc(hidden)]
    __LAST,
}

use SyntaxKind::*;

impl SyntaxKind {
    /// Whitespace and comments: kept in the tree, skipped by the grammar.
    pub fn is_trivia(self) -> bool {
        matches!(self, WHITESPACE | COMMENT)
    }

    /// Keywords, which are never identifiers (except `or`, in a few places, as in Nix).
    pub fn is_keyword(self) -> bool {
        (ASSERT_KW as u16..=WITH_KW as u16).contains(&(self as u16))
    }

    /// Everything that is a token rather than a node.
    pub fn is_token(self) -> bool {
        (self as u16) < SOURCE_FILE as u16
    }

    /// How the kind is written in a message: `` `;` ``, `an identifier`, `end of file`.
    pub fn describe(self) -> &'static str {
        match self {
            WHITESPACE => "whitespace",
            COMMENT => "a comment",
            ERROR => "an invalid token",
            ASSERT_KW => "`assert`",
            ELSE_KW => "`else`",
            IF_KW => "`if`",
            IN_KW => "`in`",
            INHERIT_KW => "`inherit`",
            LET_KW => "`let`",
            OR_KW => "`or`",
            REC_KW => "`rec`",
            THEN_KW => "`then`",
            WITH_KW => "`with`",
            L_BRACE => "`{`",
            R_BRACE => "`}`",
            L_BRACK => "`[`",
            R_BRACK => "`]`",
            L_PAREN => "`(`",
            R_PAREN => "`)`",
            SEMICOLON => "`;`",
            COLON => "`:`",
            COMMA => "`,`",
            DOT => "`.`",
            ELLIPSIS => "`...`",
            AT => "`@`",
            EQ => "`=`",
            QUESTION => "`?`",
            CONCAT => "`++`",
            PLUS => "`+`",
            MINUS => "`-`",
            STAR => "`*`",
            SLASH => "`/`",
            UPDATE => "`//`",
            BANG => "`!`",
            LT => "`<`",
            LT_EQ => "`<=`",
            GT => "`>`",
            GT_EQ => "`>=`",
            EQ2 => "`==`",
            NEQ => "`!=`",
            AMP2 => "`&&`",
            PIPE2 => "`||`",
            IMPLICATION => "`->`",
            PIPE_RIGHT => "`|>`",
            PIPE_LEFT => "`<|`",
            IDENT => "an identifier",
            INT => "an integer",
            FLOAT => "a float",
            URI => "a URI",
            DQUOTE => "`\"`",
            IND_QUOTE => "`''`",
            STRING_CONTENT => "string text",
            INTERPOL_START => "`${`",
            PATH_CONTENT => "a path",
            SEARCH_PATH => "a search path",
            __LAST => "end of file",
            _ => "a syntax node",
        }
    }
}

impl From<u16> for SyntaxKind {
    fn from(raw: u16) -> SyntaxKind {
        let raw = raw.min(__LAST as u16);
        // Every value up to `__LAST` names a variant because the enum is `repr(u16)` and its
        // discriminants are contiguous from zero; `ALL` is checked against that in a test.
        ALL[raw as usize]
    }
}

/// Every kind, indexed by its discriminant.
pub(crate) const ALL: [SyntaxKind; __LAST as usize + 1] = {
    let mut all = [__LAST; __LAST as usize + 1];
    let mut i = 0;
    while i <= __LAST as usize {
        all[i] = kind_at(i);
        i += 1;
    }
    all
};

const fn kind_at(i: usize) -> SyntaxKind {
    const KINDS: &[SyntaxKind] = &[
        WHITESPACE,
        COMMENT,
        ERROR,
        ASSERT_KW,
        ELSE_KW,
        IF_KW,
        IN_KW,
        INHERIT_KW,
        LET_KW,
        OR_KW,
        REC_KW,
        THEN_KW,
        WITH_KW,
        L_BRACE,
        R_BRACE,
        L_BRACK,
        R_BRACK,
        L_PAREN,
        R_PAREN,
        SEMICOLON,
        COLON,
        COMMA,
        DOT,
        ELLIPSIS,
        AT,
        EQ,
        QUESTION,
        CONCAT,
        PLUS,
        MINUS,
        STAR,
        SLASH,
        UPDATE,
        BANG,
        LT,
        LT_EQ,
        GT,
        GT_EQ,
        EQ2,
        NEQ,
        AMP2,
        PIPE2,
        IMPLICATION,
        PIPE_RIGHT,
        PIPE_LEFT,
        IDENT,
        INT,
        FLOAT,
        URI,
        DQUOTE,
        IND_QUOTE,
        STRING_CONTENT,
        INTERPOL_START,
        PATH_CONTENT,
        SEARCH_PATH,
        SOURCE_FILE,
        APPLY,
        ASSERT,
        ATTR_SET,
        ATTRPATH,
        ATTRPATH_VALUE,
        BIN_OP,
        DYNAMIC,
        HAS_ATTR,
        IF_ELSE,
        INHERIT,
        INHERIT_FROM,
        INTERPOL,
        LAMBDA,
        LEGACY_LET,
        LET_IN,
        LIST,
        LITERAL,
        NAME,
        PAREN,
        PAT_BIND,
        PAT_ENTRY,
        PATTERN,
        PARAM,
        PATH,
        REF,
        SELECT,
        STRING,
        UNARY_OP,
        WITH,
        __LAST,
    ];
    KINDS[i]
}

/// Names a token kind by its spelling: `T![;]`, `T![let]`, `T![${]`.
#[macro_export]
macro_rules! T {
    [assert] => { $crate::SyntaxKind::ASSERT_KW };
    [else] => { $crate::SyntaxKind::ELSE_KW };
    [if] => { $crate::SyntaxKind::IF_KW };
    [in] => { $crate::SyntaxKind::IN_KW };
    [inherit] => { $crate::SyntaxKind::INHERIT_KW };
    [let] => { $crate::SyntaxKind::LET_KW };
    [or] => { $crate::SyntaxKind::OR_KW };
    [rec] => { $crate::SyntaxKind::REC_KW };
    [then] => { $crate::SyntaxKind::THEN_KW };
    [with] => { $crate::SyntaxKind::WITH_KW };
    ['{'] => { $crate::SyntaxKind::L_BRACE };
    ['}'] => { $crate::SyntaxKind::R_BRACE };
    ['['] => { $crate::SyntaxKind::L_BRACK };
    [']'] => { $crate::SyntaxKind::R_BRACK };
    ['('] => { $crate::SyntaxKind::L_PAREN };
    [')'] => { $crate::SyntaxKind::R_PAREN };
    [;] => { $crate::SyntaxKind::SEMICOLON };
    [:] => { $crate::SyntaxKind::COLON };
    [,] => { $crate::SyntaxKind::COMMA };
    [.] => { $crate::SyntaxKind::DOT };
    [...] => { $crate::SyntaxKind::ELLIPSIS };
    [@] => { $crate::SyntaxKind::AT };
    [=] => { $crate::SyntaxKind::EQ };
    [?] => { $crate::SyntaxKind::QUESTION };
    [++] => { $crate::SyntaxKind::CONCAT };
    [+] => { $crate::SyntaxKind::PLUS };
    [-] => { $crate::SyntaxKind::MINUS };
    [*] => { $crate::SyntaxKind::STAR };
    [/] => { $crate::SyntaxKind::SLASH };
    ["//"] => { $crate::SyntaxKind::UPDATE };
    [!] => { $crate::SyntaxKind::BANG };
    [<] => { $crate::SyntaxKind::LT };
    [<=] => { $crate::SyntaxKind::LT_EQ };
    [>] => { $crate::SyntaxKind::GT };
    [>=] => { $crate::SyntaxKind::GT_EQ };
    [==] => { $crate::SyntaxKind::EQ2 };
    [!=] => { $crate::SyntaxKind::NEQ };
    [&&] => { $crate::SyntaxKind::AMP2 };
    [||] => { $crate::SyntaxKind::PIPE2 };
    [->] => { $crate::SyntaxKind::IMPLICATION };
    [|>] => { $crate::SyntaxKind::PIPE_RIGHT };
    [<|] => { $crate::SyntaxKind::PIPE_LEFT };
    ['"'] => { $crate::SyntaxKind::DQUOTE };
    ["''"] => { $crate::SyntaxKind::IND_QUOTE };
    ["${"] => { $crate::SyntaxKind::INTERPOL_START };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discriminants_match_table() {
        for (i, kind) in ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{kind:?}");
        }
    }
}
