//! Builds the green tree, as rowan's `GreenNodeBuilder` does, with a token cache of its own.
//!
//! rowan 0.16 interns every token in a map keyed by rustc-hash 1.1's `FxHasher`, whose low bits
//! cluster for short texts that differ little (`"-1"`, `"-2"`, …): a file of a million distinct
//! string literals took 40 s to parse (Nix: half a second). Here tokens are shared through a
//! cache keyed by a 64-bit foldhash of kind and text, and nodes of at most three children (`x =
//! 1;` written twice is one node) by a foldhash of their kind and their children's addresses
//! (children are looked up first, so identical small subtrees are the same objects). The
//! caches are direct-mapped, of a fixed size: what repeats (keywords, operators, whitespace,
//! common names and small bindings) stays and is shared, while a file of millions of distinct
//! literals costs no map that grows with it (an unbounded map made such a file's parse grow
//! faster than its size). A collision shares nothing, and is harmless.

use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;

use rowan::{GreenNode, GreenToken, NodeOrToken, SyntaxKind};

/// Where a node may later be opened around what was built since (`start_node_at`).
#[derive(Clone, Copy)]
pub(crate) struct Checkpoint(usize);

/// The most entries of each cache (a power of two: the slot is the hash's top bits).
const MAX_CACHE_BITS: u32 = 18;

pub(crate) struct GreenBuilder {
    /// The open nodes: their kind and where their first child is in `children`.
    parents: Vec<(SyntaxKind, usize)>,
    children: Vec<NodeOrToken<GreenNode, GreenToken>>,
    /// The height of each of `children` (a token's is 0, a node's one more than its
    /// tallest child's): how deep the tree is, measured as it is built.
    heights: Vec<u32>,
    /// The tallest node built so far.
    tallest: u32,
    /// Tokens by the hash of kind and text (the hash kept to skip most comparisons).
    tokens: Box<[Option<(u64, GreenToken)>]>,
    /// Nodes of at most three children, by the hash of kind and children's addresses.
    nodes: Box<[Option<(u64, GreenNode)>]>,
    /// The caches' size, as a power of two.
    bits: u32,
    hasher: RandomState,
}

impl GreenBuilder {
    /// A builder for `tokens` tokens or so: caches of about one entry per two tokens (a
    /// small expression does not pay for a large cache), at most 262,144.
    pub(crate) fn new(tokens: usize) -> GreenBuilder {
        let bits = (tokens / 2).max(64).ilog2().min(MAX_CACHE_BITS);
        GreenBuilder {
            parents: Vec::new(),
            children: Vec::new(),
            heights: Vec::new(),
            tallest: 0,
            tokens: empty(1 << bits),
            nodes: empty(1 << bits),
            bits,
            hasher: RandomState::default(),
        }
    }

    /// The cache slot of a hash.
    fn slot(&self, key: u64) -> usize {
        (key >> (64 - self.bits)) as usize
    }

    pub(crate) fn token(&mut self, kind: SyntaxKind, text: &str) {
        let key = self.hasher.hash_one((kind.0, text));
        let entry = &mut self.tokens[self.slot(key)];
        let token = match entry {
            Some((k, token)) if *k == key && token.kind() == kind && token.text() == text => {
                token.clone()
            }
            _ => {
                let token = GreenToken::new(kind, text);
                *entry = Some((key, token.clone()));
                token
            }
        };
        self.children.push(NodeOrToken::Token(token));
        self.heights.push(0);
    }

    /// The height of the tallest node built so far.
    pub(crate) fn tallest(&self) -> u32 {
        self.tallest
    }

    pub(crate) fn start_node(&mut self, kind: SyntaxKind) {
        self.parents.push((kind, self.children.len()));
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint(self.children.len())
    }

    /// Opens a node whose first child is what was built at `checkpoint`.
    pub(crate) fn start_node_at(&mut self, checkpoint: Checkpoint, kind: SyntaxKind) {
        // Invariant (as rowan asserts): the checkpoint is inside the innermost open node.
        debug_assert!(self.parents.last().is_none_or(|&(_, first)| checkpoint.0 >= first));
        self.parents.push((kind, checkpoint.0.min(self.children.len())));
    }

    /// Closes the innermost open node; returns its height.
    pub(crate) fn finish_node(&mut self) -> u32 {
        // Invariant: the grammar closes only the nodes it opened.
        let Some((kind, first)) = self.parents.pop() else { return 0 };
        let height = 1 + self.heights[first..].iter().copied().max().unwrap_or(0);
        self.heights.truncate(first);
        self.tallest = self.tallest.max(height);
        let node = if self.children.len() - first <= 3 {
            let children = &self.children[first..];
            let mut hasher = self.hasher.build_hasher();
            hasher.write_u16(kind.0);
            for child in children {
                hasher.write_usize(address(child));
            }
            let key = hasher.finish();
            let same = |node: &GreenNode| {
                node.kind() == kind
                    && node.children().len() == children.len()
                    && node.children().zip(children).all(|(a, b)| element_address(a) == address(b))
            };
            let entry = &mut self.nodes[self.slot(key)];
            match entry {
                Some((k, node)) if *k == key && same(node) => {
                    let node = node.clone();
                    self.children.truncate(first);
                    node
                }
                _ => {
                    let node = GreenNode::new(kind, self.children.drain(first..));
                    *entry = Some((key, node.clone()));
                    node
                }
            }
        } else {
            GreenNode::new(kind, self.children.drain(first..))
        };
        self.children.push(NodeOrToken::Node(node));
        self.heights.push(height);
        height
    }

    /// The root: the one node built at the top.
    pub(crate) fn finish(mut self) -> GreenNode {
        while !self.parents.is_empty() {
            self.finish_node();
        }
        match self.children.pop() {
            Some(NodeOrToken::Node(root)) if self.children.is_empty() => root,
            // Invariant: the grammar opens one root and builds everything inside it.
            other => {
                self.children.extend(other);
                GreenNode::new(SyntaxKind(crate::SyntaxKind::SOURCE_FILE as u16), self.children)
            }
        }
    }
}

/// A cache of `size` empty slots.
fn empty<T>(size: usize) -> Box<[Option<T>]> {
    std::iter::repeat_with(|| None).take(size).collect()
}

/// Where a child lives: the identity of an interned token or node.
fn address(child: &NodeOrToken<GreenNode, GreenToken>) -> usize {
    match child {
        NodeOrToken::Node(node) => &**node as *const rowan::GreenNodeData as usize,
        NodeOrToken::Token(token) => &**token as *const rowan::GreenTokenData as usize,
    }
}

fn element_address(child: NodeOrToken<&rowan::GreenNodeData, &rowan::GreenTokenData>) -> usize {
    match child {
        NodeOrToken::Node(node) => node as *const rowan::GreenNodeData as usize,
        NodeOrToken::Token(token) => token as *const rowan::GreenTokenData as usize,
    }
}
