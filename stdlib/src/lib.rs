//! The `stdlib` crate: see docs/ARCHITECTURE.md.
