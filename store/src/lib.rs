//! The `store` crate: see docs/ARCHITECTURE.md.
