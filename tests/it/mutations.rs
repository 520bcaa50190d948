//! Every kind of input a component has, changed alone, re-plans exactly that component (and
//! its readers when an output it reads changes); irrelevant changes plan nothing. One table,
//! with the real Terraform 1.0.3: apply once, then per row mutate, `infra plan`, compare the
//! components that are not up to date, revert, and check everything is up to date again.

#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Output,
};

use crate::support::{infra_with_terraform, scratch_dir, terraform, write_script};

struct Project {
    dir: PathBuf,
    identity: PathBuf,
}

impl Project {
    fn infra(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let identity = self.identity.to_string_lossy().into_owned();
        let mut all =
            vec![("INFRA_AGE_IDENTITY", identity.as_str()), ("INFRA_TEST_REGION", "eu-1")];
        all.extend_from_slice(env);
        infra_with_terraform(&self.dir, args, &all)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path(rel)).expect("read");
        assert!(text.contains(from), "`{from}` not in {rel}");
        std::fs::write(self.path(rel), text.replacen(from, to, 1)).expect("write");
    }

    fn encrypt_secret(&self) {
        let plain = self.dir.join("secret-plain.json");
        std::fs::write(&plain, "{\"a\": {\"token\": \"tok-1\"}}").expect("write");
        let out = self.path("secrets/dev.age");
        let output = self.infra(
            &["secrets", "encrypt", &plain.to_string_lossy(), "-o", &out.to_string_lossy()],
            &[],
        );
        let _ = std::fs::remove_file(&plain);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    /// The components a `plan` did not find up to date (those skipped because an upstream
    /// failed are left out: a changed backend fails `init` until its state is moved, as
    /// Terraform wants, and its readers wait).
    fn not_up_to_date(&self, env: &[(&str, &str)]) -> BTreeSet<String> {
        self.plan_statuses(env).into_keys().collect()
    }

    /// `plan`'s status of every node that is not up to date (nor skipped), by name.
    fn plan_statuses(&self, env: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
        let output = self.infra(&["plan", "--json"], env);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| {
                e["event"] == "finished" && e["status"] != "up-to-date" && e["status"] != "skipped"
            })
            .map(|e| {
                let name = e["address"].as_str().unwrap_or_default().trim_start_matches("dev/");
                (name.to_owned(), e["status"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }
}

const MAIN: &str = r#"let
  config = infra.lib.loadHierarchy ./config "env=dev";
  u = infra.component "u" { source = ./modules/u; inputs.seed = "s1"; };
  a = infra.component "a" {
    source = ./modules/a;
    inputs = {
      from_u = u.outputs.v;
      region = builtins.getEnv "INFRA_TEST_REGION";
      level = config.a.level;
      token = infra.secret ./secrets/dev.age "a.token";
    };
    files."tpl.tf" = infra.template ./templates/tpl.tf.in { v = "1"; };
    backend = infra.backend "local" { workspace_dir = "w1"; };
    providers.terraform = { };
    hooks.postApply = [ "true" ];
    requiredOutputs = [ "out" ];
  };
  b = infra.component "b" { source = ./modules/b; inputs.from_a = a.outputs.out; };
  c = infra.component "c" { source = ./modules/c; inputs.n = "1"; };
  r = infra.component "r" {
    source = ./modules/c;
    inputs.n = "r";
    files."remote_state.tf.json" = infra.remoteState "dev/u";
  };
in { dev = infra.stack "dev" { backend = infra.backend "local" { }; components = [ u a b c r ]; }; }
"#;

fn project() -> Project {
    let dir = scratch_dir("mutations");
    let _ = std::fs::remove_dir_all(&dir);
    let identity = dir.with_extension("identity.txt");
    let _ = std::fs::remove_file(&identity);
    let project = Project { dir, identity };
    project.write("main.infra", MAIN);
    project.write(
        "modules/u/main.tf",
        "variable \"seed\" { type = string }\noutput \"v\" { value = var.seed }\n",
    );
    project.write(
        "modules/a/main.tf",
        "variable \"from_u\" { type = string }\nvariable \"region\" { type = string }\n\
         variable \"level\" { type = number }\nvariable \"token\" { type = string }\n\
         output \"out\" { value = var.from_u }\noutput \"level\" { value = var.level }\n",
    );
    project.write("modules/a/removable.tf", "locals { removable = 1 }\n");
    project.write("modules/a/script.sh", "#!/bin/sh\necho hello\n");
    project.write("templates/tpl.tf.in", "locals { t = \"{{v}}\" }\n");
    project.write(
        "modules/b/main.tf",
        "variable \"from_a\" { type = string }\noutput \"x\" { value = var.from_a }\n",
    );
    project.write(
        "modules/c/main.tf",
        "variable \"n\" { type = string }\noutput \"n\" { value = var.n }\n",
    );
    project.write("config/defaults.yaml", "a:\n  level: 1\n");
    project.write("config/env=dev/env.yaml", "a:\n  level: 2\n");
    std::fs::create_dir_all(project.path("secrets")).expect("mkdir");
    let keygen = project.infra(&["secrets", "keygen"], &[]);
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    std::fs::write(project.path(".infra-recipients"), &keygen.stdout).expect("recipients");
    project.encrypt_secret();
    project
}

type Step = Box<dyn Fn(&Project)>;

/// One kind of change: how to make it, how to undo it, what must be planned, and the
/// environment to plan with.
struct Row {
    name: &'static str,
    mutate: Step,
    revert: Step,
    expected: Vec<String>,
    env: Vec<(String, String)>,
}

fn row(
    name: &'static str,
    mutate: impl Fn(&Project) + 'static,
    revert: impl Fn(&Project) + 'static,
    expected: &[&str],
) -> Row {
    let expected = expected.iter().map(|s| (*s).to_owned()).collect();
    Row { name, mutate: Box::new(mutate), revert: Box::new(revert), expected, env: Vec::new() }
}

fn edit_row(
    name: &'static str,
    file: &'static str,
    from: &'static str,
    to: &'static str,
    expected: &[&str],
) -> Row {
    row(name, move |p| p.edit(file, from, to), move |p| p.edit(file, to, from), expected)
}

fn chmod(path: &Path, mode: u32) {
    store::fsutil::set_mode(path, mode).expect("chmod");
}

#[test]
fn each_input_changed_alone_replans_exactly_its_component() {
    let project = project();
    let applied = project.infra(&["apply", "--auto-approve", "--json"], &[]);
    assert!(
        applied.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&applied.stdout),
        String::from_utf8_lossy(&applied.stderr)
    );
    assert_eq!(project.not_up_to_date(&[]), BTreeSet::new(), "all applied");
    // A stand-in for a newer Terraform (named as such): the real binary, another version.
    let newer = project.dir.with_extension("newer-terraform");
    write_script(
        &newer,
        &format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo '{{\"terraform_version\":\"1.0.99\"}}'; exit 0; fi\nexec '{}' \"$@\"\n",
            terraform().display()
        ),
    );
    let newer_tool = newer.to_string_lossy().into_owned();
    let mut table = vec![
        edit_row(
            "module file content",
            "modules/a/main.tf",
            "output \"out\"",
            "# a comment\noutput \"out\"",
            &["a"],
        ),
        row(
            "an added file",
            |p| p.write("modules/a/added.tf", "locals { added = 1 }\n"),
            |p| std::fs::remove_file(p.path("modules/a/added.tf")).expect("rm"),
            &["a"],
        ),
        row(
            "a removed file",
            |p| std::fs::remove_file(p.path("modules/a/removable.tf")).expect("rm"),
            |p| p.write("modules/a/removable.tf", "locals { removable = 1 }\n"),
            &["a"],
        ),
        row(
            "the exec bit",
            |p| chmod(&p.path("modules/a/script.sh"), 0o755),
            |p| chmod(&p.path("modules/a/script.sh"), 0o644),
            &["a"],
        ),
        edit_row("a template variable", "main.infra", "{ v = \"1\"; }", "{ v = \"2\"; }", &["a"]),
        edit_row("a hierarchy value", "config/env=dev/env.yaml", "level: 2", "level: 3", &["a"]),
        row("a secret file", |p| p.encrypt_secret(), |_| {}, &["a"]),
        edit_row(
            "the backend",
            "main.infra",
            "workspace_dir = \"w1\"",
            "workspace_dir = \"w2\"",
            &["a"],
        ),
        edit_row(
            "the providers",
            "main.infra",
            "providers.terraform = { };",
            "providers.terraform = { alias = \"x\"; };",
            &["a"],
        ),
        edit_row(
            "an upstream output value",
            "main.infra",
            "inputs.seed = \"s1\"",
            "inputs.seed = \"s2\"",
            &["u", "a", "b", "r"],
        ),
        edit_row(
            "a hook command",
            "main.infra",
            "[ \"true\" ]",
            "[ \"true\" \"true\" ]",
            &["a.postApply"],
        ),
        edit_row("requiredOutputs", "main.infra", "[ \"out\" ]", "[ \"out\" \"level\" ]", &["a"]),
        edit_row("a comment in main.infra", "main.infra", "let\n", "let # a comment\n", &[]),
        edit_row(
            "another component's input",
            "main.infra",
            "inputs.n = \"1\"",
            "inputs.n = \"2\"",
            &["c"],
        ),
        row(
            "a file outside the source",
            |p| p.write("modules/notes.md", "notes\n"),
            |p| std::fs::remove_file(p.path("modules/notes.md")).expect("rm"),
            &[],
        ),
    ];
    let mut env_row = row("an environment variable read during evaluation", |_| {}, |_| {}, &["a"]);
    env_row.env = vec![("INFRA_TEST_REGION".to_owned(), "eu-2".to_owned())];
    table.push(env_row);
    let mut tool_row = row("the tool version", |_| {}, |_| {}, &["u", "a", "b", "c", "r"]);
    tool_row.env = vec![("INFRA_TF".to_owned(), newer_tool)];
    table.push(tool_row);

    let mut failures = Vec::new();
    for Row { name, mutate, revert, expected, env } in &table {
        mutate(&project);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let statuses = project.plan_statuses(&env);
        let changed: BTreeSet<String> = statuses.keys().cloned().collect();
        // `a`'s postApply hook, a step of its own, runs again after each apply of `a` (and is
        // skipped when `a` fails to plan).
        let mut expected: BTreeSet<String> = expected.iter().cloned().collect();
        if expected.contains("a") && statuses.get("a").is_some_and(|s| s != "failed") {
            expected.insert("a.postApply".to_owned());
        }
        if changed != expected {
            let output = project.infra(&["plan"], &env);
            failures.push(format!(
                "{name}: planned {changed:?}, expected {expected:?}\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        revert(&project);
        if *name == "a secret file" {
            // Re-encrypted: a new ciphertext, so apply it to get back to up to date.
            let applied =
                project.infra(&["apply", "--auto-approve", "--json", "dev/a", "--only"], &[]);
            assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stdout));
        }
        let after = project.not_up_to_date(&[]);
        if !after.is_empty() {
            failures.push(format!("{name}: after the revert, {after:?} still not up to date"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A reader of an upstream's state (`infra.remoteState`) counts its outputs: after the
    // upstream alone applies new ones, the reader is no longer up to date.
    project.edit("main.infra", "inputs.seed = \"s1\"", "inputs.seed = \"s9\"");
    let upstream = project.infra(&["apply", "--auto-approve", "--json", "--only", "dev/u"], &[]);
    assert!(upstream.status.success(), "{}", String::from_utf8_lossy(&upstream.stdout));
    let why = project.infra(&["why", "dev/r"], &[]);
    let why = String::from_utf8_lossy(&why.stdout);
    assert!(
        why.contains("the outputs of `dev/u` (read with `infra.remoteState`) changed"),
        "{why}"
    );
    let _ = std::fs::remove_dir_all(&project.dir);
    let _ = std::fs::remove_file(&project.identity);
    let _ = std::fs::remove_file(&newer);
}
