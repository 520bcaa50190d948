//! The rowan `Language` for infra and the tree type aliases everything else uses.

use crate::SyntaxKind;

/// Marker type tying rowan's untyped trees to `SyntaxKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InfraLanguage {}

impl rowan::Language for InfraLanguage {
    type Kind = SyntaxKind;

    fn kind_from_raw(raw: rowan::SyntaxKind) -> SyntaxKind {
        SyntaxKind::from(raw.0)
    }

    fn kind_to_raw(kind: SyntaxKind) -> rowan::SyntaxKind {
        rowan::SyntaxKind(kind as u16)
    }
}

/// A node of the lossless syntax tree.
pub type SyntaxNode = rowan::SyntaxNode<InfraLanguage>;
/// A token (leaf) of the lossless syntax tree.
pub type SyntaxToken = rowan::SyntaxToken<InfraLanguage>;
/// A node or a token.
pub type SyntaxElement = rowan::SyntaxElement<InfraLanguage>;
