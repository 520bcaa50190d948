//! Builds the green tree, as rowan's `GreenNodeBuilder` does, with a token cache of its own.
//!
//! rowan 0.16 interns every token in a map keyed by rustc-hash 1.1's `FxHasher`, whose low bits
//! cluster for short texts that differ little (`"-1"`, `"-2"`, …): a file of a million distinct
//! string literals took 40 s to parse (Nix: half a second). Here tokens are interned by a
//! 64-bit SipHash of kind and text, and nodes of at most three children (`x = 1;` written
//! twice is one node) by a SipHash of their kind and their children's addresses (children
//! are interned first, so identical small subtrees are the same objects). A collision shares
//! nothing, and is harmless.

use std::{
    collections::{HashMap, hash_map::Entry},
    hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState},
};

use rowan::{GreenNode, GreenToken, NodeOrToken, SyntaxKind};

/// Where a node may later be opened around what was built since (`start_node_at`).
#[derive(Clone, Copy)]
pub(crate) struct Checkpoint(usize);

#[derive(Default)]
pub(crate) struct GreenBuilder {
    /// The open nodes: their kind and where their first child is in `children`.
    parents: Vec<(SyntaxKind, usize)>,
    children: Vec<NodeOrToken<GreenNode, GreenToken>>,
    /// Tokens by the hash of kind and text.
    tokens: HashMap<u64, GreenToken, BuildHasherDefault<Identity>>,
    /// Nodes of at most three children, by the hash of kind and children's addresses.
    nodes: HashMap<u64, GreenNode, BuildHasherDefault<Identity>>,
    hasher: RandomState,
}

impl GreenBuilder {
    pub(crate) fn token(&mut self, kind: SyntaxKind, text: &str) {
        let key = self.hasher.hash_one((kind.0, text));
        let token = match self.tokens.entry(key) {
            Entry::Occupied(entry) if entry.get().kind() == kind && entry.get().text() == text => {
                entry.get().clone()
            }
            Entry::Occupied(_) => GreenToken::new(kind, text),
            Entry::Vacant(entry) => entry.insert(GreenToken::new(kind, text)).clone(),
        };
        self.children.push(NodeOrToken::Token(token));
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

    pub(crate) fn finish_node(&mut self) {
        // Invariant: the grammar closes only the nodes it opened.
        let Some((kind, first)) = self.parents.pop() else { return };
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
            match self.nodes.entry(key) {
                Entry::Occupied(entry) if same(entry.get()) => {
                    self.children.truncate(first);
                    entry.get().clone()
                }
                Entry::Occupied(_) => GreenNode::new(kind, self.children.drain(first..)),
                Entry::Vacant(entry) => {
                    entry.insert(GreenNode::new(kind, self.children.drain(first..))).clone()
                }
            }
        } else {
            GreenNode::new(kind, self.children.drain(first..))
        };
        self.children.push(NodeOrToken::Node(node));
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

/// The hasher of keys that are hashes already.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}
