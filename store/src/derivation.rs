//! `Derivation`: the canonical description of how a store object is made. Its hash names it;
//! a realisation maps that hash to the object built. The encoding is versioned JSON with
//! sorted keys and no floats, so that the same derivation hashes the same everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// The wire format version of derivations; part of every hash.
const VERSION: u32 = 1;

/// How an object is built: the builder's name and its inputs (strings: text, or the digests
/// of other objects, in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derivation {
    pub version: u32,
    /// The object's readable name (`backend.tf.json`, `dev-vpc`).
    pub name: String,
    /// `"text"` (write `inputs.text`), `"workdir"` (join the objects named by the inputs), …
    pub builder: String,
    pub inputs: BTreeMap<String, String>,
}

impl Derivation {
    pub fn new(name: &str, builder: &str, inputs: BTreeMap<String, String>) -> Derivation {
        Derivation { version: VERSION, name: name.to_owned(), builder: builder.to_owned(), inputs }
    }

    /// The canonical encoding: JSON, keys sorted (the struct's fields in a fixed order,
    /// `BTreeMap`s sorted), no whitespace.
    pub fn canonical(&self) -> Vec<u8> {
        // Invariant: a struct of strings and string maps always serialises.
        serde_json::to_vec(self).expect("a derivation serialises")
    }

    pub fn hash(&self) -> Digest {
        Digest::of(&self.canonical())
    }
}
