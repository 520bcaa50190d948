//! The standard library of the infra language, written in the language itself and embedded
//! in the binary. `<infra>` evaluates `default.infra`; `<infra/NAME>` evaluates `NAME.infra`.
//! This crate holds only data: it depends on nothing, and its behaviour is tested through the
//! evaluator (`tests/conformance/stdlib/` and the evaluator's tests).

/// One library file.
#[derive(Debug, Clone, Copy)]
pub struct Module {
    /// The name after `<infra/…>`, without `.infra` (`default` for `<infra>` itself).
    pub name: &'static str,
    pub source: &'static str,
}

const MODULES: &[Module] = &[
    Module { name: "default", source: include_str!("../lib/default.infra") },
    Module { name: "lib", source: include_str!("../lib/lib.infra") },
    Module { name: "policy", source: include_str!("../lib/policy.infra") },
];

/// Every embedded module.
pub fn modules() -> &'static [Module] {
    MODULES
}

/// The module named `name`, if there is one.
pub fn module(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.name == name)
}
