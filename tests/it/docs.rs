//! Generated documentation stays in sync with the code: `docs/reference/diagnostics.md` lists
//! every syntax error code with the doc comment of its `SyntaxErrorKind` variant.
//! `UPDATE_EXPECT=1 cargo test` rewrites it.

#![allow(clippy::disallowed_methods)]

use std::fmt::Write;

use crate::support::root;

#[test]
fn diagnostics_reference_is_fresh() {
    let source = std::fs::read_to_string(root().join("lang/src/syntax_error.rs")).expect("read");
    let docs = variant_docs(&source);
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         Generated from the source by `cargo test` (`tests/it/docs.rs`); do not edit by hand.\n\
         Every diagnostic `infra` prints carries one of these codes.\n\n\
         ## Syntax (`infra::parse::…`)\n\n\
         | code | meaning |\n| --- | --- |\n",
    );
    for kind in lang::SyntaxErrorKind::ALL {
        let name = format!("{kind:?}");
        let doc = docs.iter().find(|(n, _)| *n == name).map(|(_, d)| d.as_str());
        let doc = doc.unwrap_or_else(|| panic!("`SyntaxErrorKind::{name}` has no doc comment"));
        let _ = writeln!(out, "| `{}` | {} |", kind.code(), doc.replace('|', "\\|"));
    }
    out.push_str("\n## Evaluation (`infra::eval::…`)\n\n| code | meaning |\n| --- | --- |\n");
    let source = std::fs::read_to_string(root().join("evaluator/src/error.rs")).expect("read");
    for (name, doc) in enum_docs(&source, "pub enum ErrorKind {") {
        let code = source
            .lines()
            .find(|l| {
                l.trim_start().starts_with(&format!("ErrorKind::{name} "))
                    || l.trim_start().starts_with(&format!("ErrorKind::{name}("))
                    || l.trim_start().starts_with(&format!("ErrorKind::{name} =>"))
            })
            .and_then(|l| l.split('"').nth(1))
            .unwrap_or_else(|| panic!("`ErrorKind::{name}` has no code"));
        assert!(!doc.is_empty(), "`ErrorKind::{name}` has no doc comment");
        let _ = writeln!(out, "| `{code}` | {} |", doc.replace('|', "\\|"));
    }
    out.push_str(
        "\n## Files and input (`infra::io::…`)\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::io::read` | A file named on the command line cannot be read. |\n\
         | `infra::io::invalid_utf8` | A source file is not valid UTF-8. |\n\
         | `infra::io::too_large` | A source file is over 2 GiB. |\n",
    );
    out.push_str(
        "\n## Building (`infra::build::…`, `infra::store::…`)\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::project::not_found` | No `main.infra` in the directory or above it. |\n\
         | `infra::build::store` | Reading a module or writing the store failed. |\n\
         | `infra::build::source` | A module source holds a symbolic link. |\n\
         | `infra::build::export` | An exported directory cannot be written (or is not empty). |\n\
         | `infra::build::unknown_target` | A target names no stack or component. |\n\
         | `infra::store::open` | The store directory cannot be created. |\n\
         | `infra::store::io` | `infra store verify` or `gc` failed to read or remove. |\n\
         | `infra::store::corrupt` | An object whose content does not hash to its name. |\n",
    );
    out.push_str(
        "\n## Running (`infra::run::…`)\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::run::tool_not_found` | Neither `INFRA_TF`, the component's `tool`, `tofu` nor `terraform` can be found. |\n\
         | `infra::run::locked` | Another infra process holds the project (`--lock-timeout` waits). |\n\
         | `infra::run::lock` | The project lock file cannot be opened or locked. |\n\
         | `infra::run::not_approved` | `apply`/`destroy` without a terminal and without `--auto-approve`. |\n\
         | `infra::run::no_target` | `destroy` without targets. |\n\
         | `infra::run::never_applied` | `output` of a component with no recorded apply. |\n\
         | `infra::run::unknown_output` | `infra output STACK/NAME OUTPUT` of an output the last apply did not record (the nearest name as a suggestion). |\n\
         | `infra::run::sensitive_output` | `infra output STACK/NAME OUTPUT` of a sensitive output: infra records no value for it (`infra tf STACK/NAME -- output -raw OUTPUT` reads it from Terraform). |\n\
         | `infra::run::io` | The run could not start (runtime, log directory). |\n\
         \n\
         A component that fails says why with one of these (in the summary and in `--json` events):\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::run::upstream` | An upstream value is missing: never applied and no `mockOutputs`, no such output, or its state cannot be read. |\n\
         | `infra::run::secret` | A secret cannot be read or decrypted. |\n\
         | `infra::run::files` | infra's own files (work directory, record, kept plan) cannot be written. |\n\
         | `infra::run::spawn` | The tool or a hook cannot be started. |\n\
         | `infra::run::init` | `terraform init` failed (its diagnostics follow). |\n\
         | `infra::run::hook` | A `prePlan` or `postApply` hook (a step of its own, `NAME.prePlan` or `NAME.postApply`) failed; it runs again next time, without another apply of its component. |\n\
         | `infra::run::plan` | `terraform plan` failed. |\n\
         | `infra::run::apply` | `terraform apply` failed (the component is planned again next time). |\n\
         | `infra::run::reviewed_plan` | After an interactive review, the reviewed plan cannot be applied as it is (stale, or the inputs changed): nothing unreviewed is applied. |\n\
         | `infra::run::outputs` | The outputs cannot be read, or a `requiredOutputs` name is missing. |\n\
         | `infra::run::destroy` | `terraform destroy` (or a step's `destroy` program) failed. |\n\
         | `infra::run::step` | A step's program failed (after its retries); the message ends with its last output. |\n\
         | `infra::run::timeout` | A step ran past its `timeout` (its process group was killed), or a wait was not ready in time. |\n\
         | `infra::run::stopped` | The run was stopped (Ctrl-C, SIGTERM, `--fail-fast`) before or during this component. |\n\
         | `infra::run::internal` | A bug: a component task ended unexpectedly. |\n\
         | `infra::run::tf` | The command `infra tf` ran exited with a status other than 0 (infra exits with the same status), or the node is a step, which has no Terraform directory. |\n",
    );
    out.push_str(
        "\n## Policies, approvals, history (`infra::policy::…`, `infra::approve::…`, `infra::history::…`)\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::policy::deny` | A policy denied the plan (the message names the policy, why, and the resource): the component is `denied`, not applied; its dependents are skipped. |\n\
         | `infra::policy::error` | A policy could not be evaluated: it failed, or returned something other than a list of verdicts (the message says where). |\n\
         | `infra::policy::clock` | `INFRA_NOW` is neither seconds since the epoch nor `YYYY-MM-DDTHH:MM:SSZ`. |\n\
         | `infra::approve::not_required` | `infra approve` of a component whose `approval` is not required. |\n\
         | `infra::approve::no_plan` | `infra approve` of a component with no kept plan (`infra plan` or `infra apply` makes one). |\n\
         | `infra::approve::not_allowed` | `infra approve` (or the web view's button) by a user that the component's `approval.approvers` does not list. |\n\
         | `infra::approve::io` | The approval cannot be written. |\n\
         | `infra::history::open` | The history database (`.infra/history.db`) cannot be opened or migrated. |\n\
         | `infra::history::read` | The history database cannot be read. |\n\
         | `infra::history::no_run` | `infra history show RUN` names no run (or a prefix of several). |\n",
    );
    out.push_str(
        "\n## Secrets (`infra::secrets::…`)\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::secrets::no_identity` | The age identity file cannot be read (`INFRA_AGE_IDENTITY`, `infra secrets keygen`). |\n\
         | `infra::secrets::bad_identity` | The identity file holds no usable age identity. |\n\
         | `infra::secrets::identity_exists` | `keygen` would replace an identity (`--force`). |\n\
         | `infra::secrets::no_recipients` | `.infra-recipients` is missing or lists no key. |\n\
         | `infra::secrets::bad_recipient` | A line of `.infra-recipients` is not an `age1…` key. |\n\
         | `infra::secrets::wrong_key` | None of your identities can decrypt the file. |\n\
         | `infra::secrets::corrupt` | The file is not a readable age file (truncated, tampered). |\n\
         | `infra::secrets::not_a_document` | The decrypted text (or an edit) is not JSON or YAML. |\n\
         | `infra::secrets::missing_key` | The document has no value at the key path. |\n\
         | `infra::secrets::encrypt` | Encryption failed. |\n\
         | `infra::secrets::editor` | `secrets edit`: the editor could not run or failed. |\n\
         | `infra::secrets::io` | A secrets file could not be read or written. |\n",
    );
    out.push_str(
        "\n## Caches and locks (`infra::cache::…`, `infra::lock::…`)\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::cache::unavailable` | A warning: the cache failed or is down; the run goes on without it. |\n\
         | `infra::cache::bad_url` | `--cache`, `INFRA_CACHE` or `.infra-cache` gives something that is not a cache URL (`file:///dir` or an absolute path, `http(s)://…`, `s3://…`). |\n\
         | `infra::cache::mismatch` | `build --check`: a work directory differs from the cache's realisation of the same derivation. |\n\
         | `infra::cache::no_cache` | `build --check` without a cache URL. |\n\
         | `infra::cache::keygen` | `infra cache keygen` could not make or write the key. |\n\
         | `infra::cache::signing_key` | `INFRA_CACHE_SIGNING_KEY` is neither a key nor a readable file holding one. |\n\
         | `infra::cache::trusted_key` | A line of `.infra-cache-keys` is not a public key. |\n\
         | `infra::lock::no_cache` | `--lock cache` without a cache URL. |\n\
         | `infra::lock::held` | Another run holds the estate lock in the cache (`--lock-timeout` waits). |\n\
         | `infra::lock::taken_over` | A warning: the estate lock of a run whose lease expired was taken over. |\n\
         | `infra::lock::lost` | The estate lock could not be renewed before its lease ran out; the run stopped. |\n",
    );
    out.push_str(
        "\n## The command line (`infra::cli::…`, `infra::init::…`, `infra::lsp::…`, `infra::ui::…`)\n\n\
         | code | meaning |\n| --- | --- |\n\
         | `infra::cli::usage` | The command was given nothing to work on (`infra eval` without a file, `-E` or a path). |\n\
         | `infra::cli::io` | The manual page could not be rendered. |\n\
         | `infra::io::cwd` | The current directory cannot be read. |\n\
         | `infra::io::write` | An output file (`infra ci -o FILE`) cannot be written. |\n\
         | `infra::io::broken_pipe` | The reader of the output went away (exits quietly). |\n\
         | `infra::init::exists` | `infra init` in a directory that already has a `main.infra`. |\n\
         | `infra::init::io` | `infra init` could not write the project. |\n\
         | `infra::lsp::protocol` | The language server lost the editor's connection. |\n\
         | `infra::ui::serve` | The web view could not listen or serve. |\n",
    );
    let path = root().join("docs/reference/diagnostics.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &out).expect("write");
    } else {
        assert!(
            current == out,
            "docs/reference/diagnostics.md is stale: run `UPDATE_EXPECT=1 cargo test`"
        );
    }
}

/// `(variant name, doc text)` for each documented variant of `SyntaxErrorKind`.
fn variant_docs(source: &str) -> Vec<(String, String)> {
    enum_docs(source, "pub enum SyntaxErrorKind {")
}

/// `(variant name, doc text)` for each variant of the enum that starts with `header`.
fn enum_docs(source: &str, header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut doc = String::new();
    let body = source.split(header).nth(1).unwrap_or("");
    for line in body.lines().map(str::trim) {
        if line == "}" {
            break;
        }
        if let Some(text) = line.strip_prefix("///") {
            if !doc.is_empty() {
                doc.push(' ');
            }
            doc.push_str(text.trim());
        } else if line.starts_with(|c: char| c.is_ascii_uppercase()) {
            let name: String = line.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            out.push((name, std::mem::take(&mut doc)));
        }
    }
    out
}

/// Builtins that Nix 2.8 does not have.
const INFRA_ONLY: &[&str] = &["fromYAML", "importJSON", "importTOML", "importYAML", "warn"];
/// Nix 2.8's builtins that work on its store, which infra does not have: stand-ins.
const NO_STORE: &[&str] = &[
    "appendContext",
    "derivationStrict",
    "fetchGit",
    "fetchMercurial",
    "fetchTarball",
    "fetchTree",
    "fetchurl",
    "filterSource",
    "getContext",
    "hasContext",
    "path",
    "placeholder",
    "storePath",
    "toFile",
    "unsafeDiscardOutputDependency",
    "unsafeDiscardStringContext",
];

/// `docs/reference/builtins.md`: every builtin of the `builtins` set (name, arguments, Nix's
/// or infra's, and the doc comment of the function that implements it), the constants, and
/// the domain's `__infra*` builtins behind `infra.*`.
#[test]
fn builtins_reference_is_fresh() {
    let evaluator = root().join("evaluator/src");
    let table = std::fs::read_to_string(evaluator.join("builtins.rs")).expect("read");
    let mut out = String::from(
        "# Builtins\n\n\
         Generated from the source by `cargo test` (`tests/it/docs.rs`); do not edit by hand.\n\
         Every builtin is `builtins.NAME` and the global `__NAME`; `abort`, `baseNameOf`,\n\
         `derivation`, `dirOf`, `fetch*`, `fromTOML`, `import`, `isNull`, `map`, `placeholder`,\n\
         `removeAttrs`, `scopedImport`, `throw` and `toString` are also global, as in Nix.\n\
         \"Nix 2.8\" means it behaves as Nix 2.8's (the conformance corpus checks it against the\n\
         real `nix-instantiate`); the note says where infra differs or what infra adds.\n\n\
         | builtin | arguments | from | notes |\n| --- | --- | --- | --- |\n",
    );
    for (name, arity, module, function) in table_entries(&table, "const TABLE") {
        let source = std::fs::read_to_string(evaluator.join(format!("builtins/{module}.rs")))
            .unwrap_or_else(|_| panic!("builtins/{module}.rs"));
        let from = if INFRA_ONLY.contains(&name.as_str()) {
            "infra"
        } else if NO_STORE.contains(&name.as_str()) {
            "Nix 2.8, stand-in"
        } else {
            "Nix 2.8"
        };
        let doc = fn_doc(&source, &function);
        let _ = writeln!(out, "| `{name}` | {arity} | {from} | {} |", doc.replace('|', "\\|"));
    }
    out.push_str(
        "\n## Constants\n\n`builtins.currentSystem` (the platform infra was built for, \
         `x86_64-linux`), `builtins.langVersion` (6), `builtins.nixVersion` (`\"2.8.0\"`, the \
         language infra implements), `builtins.nixPath` (`[ ]`), `builtins.storeDir` \
         (`\"/nix/store\"`, for the stand-ins), `builtins.builtins` (the set itself), `true`, \
         `false`, `null`. Nix 2.8's \
         `currentTime` is left out: a pure evaluation has no clock.\n",
    );
    out.push_str(
        "\n## The domain's builtins\n\nUsed by `<infra>` (`stdlib/lib/default.infra`) to build \
         what `infra.*` returns; call `infra.*`, not these.\n\n| builtin | arguments | implements |\n| --- | --- | --- |\n",
    );
    let domain = std::fs::read_to_string(evaluator.join("domain.rs")).expect("read");
    for (name, arity, module, function) in table_entries(&domain, "const PRIMOPS") {
        let file = if module.is_empty() {
            domain.clone()
        } else {
            std::fs::read_to_string(evaluator.join(format!("domain/{module}.rs"))).expect("read")
        };
        let doc = fn_doc(&file, &function);
        let _ = writeln!(out, "| `{name}` | {arity} | {} |", doc.replace('|', "\\|"));
    }
    expect_test::expect_file![root().join("docs/reference/builtins.md")].assert_eq(&out);
}

/// `(name, arity, module, function)` of each `("name", arity, module::function)` line of the
/// table that starts with `header` (a function without a module is in the same file).
fn table_entries(source: &str, header: &str) -> Vec<(String, String, String, String)> {
    let body = source.split(header).nth(1).unwrap_or("");
    let body = body.split("];").next().unwrap_or("");
    body.lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("(\"")?;
            let (name, rest) = line.split_once("\", ")?;
            let (arity, rest) = rest.split_once(", ")?;
            let path = rest.trim_end_matches("),").trim();
            let (module, function) = path.rsplit_once("::").unwrap_or(("", path));
            Some((name.to_owned(), arity.to_owned(), module.to_owned(), function.to_owned()))
        })
        .collect()
}

/// The doc comment above `fn NAME(` in `source`, on one line; "As in Nix 2.8." without one.
fn fn_doc(source: &str, name: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let Some(at) = lines.iter().position(|l| {
        let l = l.trim_start();
        l.starts_with(&format!("pub(super) fn {name}("))
            || l.starts_with(&format!("pub(crate) fn {name}("))
            || l.starts_with(&format!("fn {name}("))
            || l.starts_with(&format!("pub fn {name}("))
            || l.contains(&format!("fn {name}("))
    }) else {
        // Made by a macro: the builtins that need a store or the network.
        if source.contains(&format!("{name} => \"")) {
            return "Needs a Nix store, which infra does not have: an error that says so.".into();
        }
        return "As in Nix 2.8.".into();
    };
    let mut doc: Vec<&str> = Vec::new();
    for line in lines[..at].iter().rev() {
        match line.trim_start().strip_prefix("///") {
            Some(text) => doc.push(text.trim()),
            None if line.trim_start().starts_with("#[") => {}
            None => break,
        }
    }
    doc.reverse();
    if doc.is_empty() { "As in Nix 2.8.".into() } else { doc.join(" ") }
}
