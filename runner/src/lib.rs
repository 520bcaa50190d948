//! The `runner` crate: see docs/ARCHITECTURE.md.
