//! The `evaluator` crate: see docs/ARCHITECTURE.md.
