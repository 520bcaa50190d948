//! The content-addressed store: blake3 digests (`digest`), the canonical hash of files and
//! directory trees (`tree`), the on-disk store of immutable objects with atomic writes and
//! realisations (`local`), derivations as a versioned canonical wire type (`derivation`), and
//! `verify`/`gc`.
//!
//! The store knows nothing about the language or Terraform: it stores bytes and trees under
//! the hash of their canonical form, so two machines that store the same content get the
//! same names.

mod batch;
#[cfg(feature = "remote")]
pub mod cache;
mod derivation;
mod digest;
mod error;
pub mod fsutil;
mod gc;
mod local;
mod realisations;
mod tree;

#[cfg(test)]
mod tests;

pub use crate::{
    batch::Batch,
    derivation::Derivation,
    digest::Digest,
    error::{StoreError, StoreErrorKind},
    gc::GcReport,
    local::{ObjectName, Problem, Store},
    tree::{Entry, Filter, Tree, hash_file_node, hash_tree_dir, tree_from_files},
};
