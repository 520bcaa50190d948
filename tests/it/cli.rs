//! The `infra` binary end to end: exit codes, diagnostics on stderr, JSON on stdout.

use expect_test::expect;

use crate::support::{copy_tree, infra, root, scratch_dir};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_clean_example_exits_zero() {
    let output = infra(&root(), &["check", "examples/quickstart/main.infra"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn check_reports_three_separate_mistakes() {
    let output = infra(&root(), &["check", "examples/mistakes/three-mistakes.infra"]);
    assert_eq!(output.status.code(), Some(1));
    expect![[r#"
        error[infra::parse::unexpected_token]: expected `;`, found `}`
           ╭─[examples/mistakes/three-mistakes.infra:3:38]
         2 │ {
         3 │   vpc = { cidr_block = "10.0.0.0/16" };
           ·                                      ┬
           ·                                      ╰── expected `;`
         4 │   gke = { name = "dev-gke"; name = "prod-gke"; };
           ╰────
          help: every binding ends with `;`
        error[infra::parse::duplicate_attr]: attribute `name` is defined twice
           ╭─[examples/mistakes/three-mistakes.infra:4:29]
         3 │   vpc = { cidr_block = "10.0.0.0/16" };
         4 │   gke = { name = "dev-gke"; name = "prod-gke"; };
           ·           ──┬─              ──┬─
           ·             │                 ╰── attribute `name` is defined twice
           ·             ╰── first defined here
         5 │   dns = { zone = [ "example.org" ; };
           ╰────
        error[infra::parse::unclosed_delimiter]: expected `]`, found `;`
           ╭─[examples/mistakes/three-mistakes.infra:5:34]
         4 │   gke = { name = "dev-gke"; name = "prod-gke"; };
         5 │   dns = { zone = [ "example.org" ; };
           ·                  ┬               ┬
           ·                  │               ╰── expected `]`
           ·                  ╰── unclosed delimiter opened here
         6 │ }
           ╰────
        3 errors in 1 file
    "#]]
    .assert_eq(&text(&output.stderr));
}

#[test]
fn check_json_is_one_object_per_diagnostic() {
    let output = infra(
        &root(),
        &["check", "--message-format", "json", "examples/mistakes/three-mistakes.infra"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stderr), "", "JSON mode prints nothing for people");
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let summary: Vec<String> = lines
        .iter()
        .map(|d| format!("{} {}:{}", d["code"], d["span"]["line"], d["span"]["column"]))
        .collect();
    assert_eq!(
        summary,
        [
            "\"infra::parse::unexpected_token\" 3:38",
            "\"infra::parse::duplicate_attr\" 4:29",
            "\"infra::parse::unclosed_delimiter\" 5:34",
        ]
    );
    assert_eq!(lines[1]["labels"][0]["message"], "first defined here");
    assert_eq!(lines[0]["version"], 1);
}

#[test]
fn check_goes_on_past_a_missing_file() {
    let output =
        infra(&root(), &["check", "no/such/file.infra", "examples/mistakes/three-mistakes.infra"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with("error[infra::io::read]: cannot read `no/such/file.infra`"),
        "{stderr}"
    );
    assert!(stderr.ends_with("4 errors in 2 files\n"), "{stderr}");
}

#[test]
fn invalid_utf8_is_a_clear_error() {
    let dir = scratch_dir("utf8");
    std::fs::write(dir.join("bad.infra"), b"{ a = \"\xff\"; }").expect("write");
    let output = infra(&dir, &["check", "bad.infra"]);
    assert_eq!(output.status.code(), Some(1));
    expect![[r#"
        error[infra::io::invalid_utf8]: `bad.infra` is not valid UTF-8 (at byte 7)
          help: infra source files must be UTF-8 encoded
        1 error in 1 file
    "#]]
    .assert_eq(&text(&output.stderr));
    let _ = std::fs::remove_dir_all(dir);
}

/// A mistake on a line of 70,000 characters (a generated file) is reported by place: the
/// snippet renderer panicked past 65,535 columns.
#[test]
fn a_mistake_on_a_very_long_line_is_reported_by_place() {
    let dir = scratch_dir("long-line");
    let line = format!("[ {} ]", "1 ".repeat(35_000)) + " }";
    std::fs::write(dir.join("long.infra"), line).expect("write");
    let output = infra(&dir, &["check", "long.infra"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("  at long.infra:1:70006 (a line too long to show)"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn parse_prints_the_tree() {
    let dir = scratch_dir("parse");
    std::fs::write(dir.join("a.infra"), "x: x + 1").expect("write");
    let output = infra(&dir, &["parse", "a.infra"]);
    assert_eq!(output.status.code(), Some(0));
    expect![[r#"
        SOURCE_FILE@0..8
          LAMBDA@0..8
            PARAM@0..1
              NAME@0..1
                IDENT@0..1 "x"
            COLON@1..2 ":"
            WHITESPACE@2..3 " "
            BIN_OP@3..8
              REF@3..4
                IDENT@3..4 "x"
              WHITESPACE@4..5 " "
              PLUS@5..6 "+"
              WHITESPACE@6..7 " "
              LITERAL@7..8
                INT@7..8 "1"
    "#]]
    .assert_eq(&text(&output.stdout));
    let _ = std::fs::remove_dir_all(dir);
}

/// `infra check` with no file checks the project: its files, then what `plan` would reject
/// before running Terraform. A file named `main.infra` checks its project too.
#[test]
fn check_without_files_checks_the_project() {
    let project = scratch_dir("check-project");
    let _ = std::fs::remove_dir_all(&project);
    copy_tree(&root().join("examples/quickstart"), &project);
    let clean = infra(&project, &["check"]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stderr));
    assert_eq!(text(&clean.stderr), "");
    // A misspelt attribute of a component: every file parses, the project does not hold.
    let main = project.join("main.infra");
    let source = std::fs::read_to_string(&main).expect("read");
    std::fs::write(&main, source.replacen("inputs = {", "inptus = {", 1)).expect("write");
    for args in [&["check"][..], &["check", "main.infra"]] {
        let typo = infra(&project, args);
        let stderr = text(&typo.stderr);
        assert_eq!(typo.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("infra::project::invalid_spec"), "{args:?}: {stderr}");
        assert!(stderr.contains("did you mean `inputs`?"), "{args:?}: {stderr}");
    }
    std::fs::write(&main, &source).expect("write");
    // A variable the module requires that no input gives: `plan` would learn it from
    // Terraform, `check` says it at once; `TF_VAR_…` in the environment is a value too.
    std::fs::write(
        project.join("modules/network/extra.tf"),
        "variable \"owner\" { type = string }\n",
    )
    .expect("write");
    let missing = infra(&project, &["check"]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains("infra::project::missing_input"),
        "{}",
        text(&missing.stderr)
    );
    let from_env =
        crate::support::infra_with_terraform(&project, &["check"], &[("TF_VAR_owner", "me")]);
    assert_eq!(from_env.status.code(), Some(0), "{}", text(&from_env.stderr));
    // So is a values file Terraform reads by itself, in the component's own files.
    let with_values = source.replacen(
        "source = ./modules/network;",
        "source = ./modules/network; files.\"owner.auto.tfvars\" = \"owner = \\\"me\\\"\\n\";",
        1,
    );
    std::fs::write(&main, &with_values).expect("write");
    let from_file = infra(&project, &["check"]);
    assert_eq!(from_file.status.code(), Some(0), "{}", text(&from_file.stderr));
    std::fs::remove_file(project.join("modules/network/extra.tf")).expect("rm");
    std::fs::write(&main, source.replacen("inputs = {", "inptus = {", 1)).expect("write");
    // Any `.infra` file under the root is checked, outside hidden directories and projects
    // of their own; a file that does not parse is reported, and does not hide the project's
    // errors.
    std::fs::create_dir_all(project.join("lib")).expect("mkdir");
    std::fs::write(project.join("lib/broken.infra"), "{ a = 1 }").expect("write");
    std::fs::create_dir_all(project.join(".hidden")).expect("mkdir");
    std::fs::write(project.join(".hidden/skipped.infra"), "{ b = }").expect("write");
    let broken = infra(&project, &["check"]);
    let stderr = text(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.infra:1:9"), "{stderr}");
    assert!(!stderr.contains("skipped.infra"), "{stderr}");
    assert!(stderr.contains("invalid_spec"), "{stderr}");
    std::fs::create_dir_all(project.join("inner")).expect("mkdir");
    std::fs::write(project.join("inner/main.infra"), "{ c = }").expect("write");
    // A link back up is not followed: each file is checked once, and the walk ends.
    #[cfg(unix)]
    std::os::unix::fs::symlink("..", project.join("lib/loop")).expect("symlink");
    let nested = text(&infra(&project, &["check"]).stderr);
    assert!(!nested.contains("inner"), "{nested}");
    assert_eq!(nested.matches("broken.infra:1:9").count(), 1, "{nested}");
    // A directory given is its files and its project.
    let given =
        text(&infra(&project.join(".."), &["check", project.to_str().expect("utf-8")]).stderr);
    assert!(given.contains("broken.infra:1:9") && given.contains("invalid_spec"), "{given}");
    // Outside a project there is nothing to check.
    let outside = infra(&std::env::temp_dir(), &["check"]);
    assert!(
        text(&outside.stderr).contains("infra::project::not_found"),
        "{}",
        text(&outside.stderr)
    );
    let _ = std::fs::remove_dir_all(&project);
}

/// `infra eval STACK.COMPONENT…` finds a stack by its attribute or by its own name (the one
/// addresses and messages use).
#[test]
fn eval_paths_find_a_stack_by_its_name() {
    let dir = scratch_dir("eval-stack-name");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("m")).expect("mkdir");
    std::fs::write(dir.join("m/main.tf"), "variable \"x\" { type = string }\n").expect("write");
    std::fs::write(
        dir.join("main.infra"),
        "let a = infra.component \"a\" { source = ./m; inputs.x = \"1\"; }; in\n\
         { development = infra.stack \"dev\" { components = [ a ]; }; }\n",
    )
    .expect("write");
    for path in ["dev.a.inputs.x", "development.a.inputs.x"] {
        let output = infra(&dir, &["eval", path]);
        assert_eq!(text(&output.stdout), "\"1\"\n", "{path}: {}", text(&output.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-C DIR` is `cd DIR` first: files named on the command line are found from DIR.
#[test]
fn dash_c_works_from_the_directory() {
    let dir = scratch_dir("dash-c");
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&root().join("examples/quickstart"), &dir.join("estate"));
    for args in [
        &["-C", "estate", "check", "main.infra"][..],
        &["-C", "estate", "fmt", "--check", "main.infra"],
    ] {
        let output = infra(&dir, args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", text(&output.stderr));
    }
    let missing = infra(&dir, &["-C", "nowhere", "check"]);
    assert!(
        text(&missing.stderr).contains("cannot work in `nowhere`"),
        "{}",
        text(&missing.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_exit_two() {
    let output = infra(&root(), &["check", "--no-such-flag"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("--no-such-flag"), "{}", text(&output.stderr));
    // `eval` takes a file or an expression: a bare `infra eval` names both.
    let output = infra(&root(), &["eval"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("<FILE|--expr <EXPR>>"), "{}", text(&output.stderr));
}

#[test]
fn an_unknown_address_suggests_the_nearest() {
    let project = scratch_dir("did-you-mean");
    let _ = std::fs::remove_dir_all(&project);
    copy_tree(&root().join("examples/quickstart"), &project);
    let mut all = String::new();
    for args in [
        &["output", "dev/clustr"][..],
        &["why", "dev/clustr"],
        &["export", "dev/netwrk", "-o", "out"],
        &["build", "dev/clustr"],
        &["build", "de"],
        &["output", "dev/cluster"],
    ] {
        let output = infra(&project, args);
        all.push_str(&format!("$ infra {}\n{}", args.join(" "), text(&output.stderr)));
        assert_eq!(output.status.code(), Some(1), "{all}");
    }
    expect![[r#"
        $ infra output dev/clustr
        error[infra::build::unknown_target]: `dev/clustr` is not a component of the project
          help: did you mean `dev/cluster`?
        $ infra why dev/clustr
        error[infra::build::unknown_target]: `dev/clustr` is not a component of the project
          help: did you mean `dev/cluster`?
        $ infra export dev/netwrk -o out
        error[infra::build::unknown_target]: `dev/netwrk` is not a component of the project
          help: did you mean `dev/network`?
        $ infra build dev/clustr
        error[infra::build::unknown_target]: `dev/clustr` names no stack or component
          help: did you mean `dev/cluster`?
        $ infra build de
        error[infra::build::unknown_target]: `de` names no stack or component
          help: did you mean `dev`?
        $ infra output dev/cluster
        error[infra::run::never_applied]: `dev/cluster` has no recorded apply
          help: run `infra apply dev/cluster`
    "#]]
    .assert_eq(&all);
    let _ = std::fs::remove_dir_all(&project);
}

/// The bash completion script, sourced by a real bash, completes `infra ap` to the commands
/// that start so; the manual page is roff for `man`.
#[test]
#[allow(clippy::disallowed_methods)]
fn completions_complete_in_bash_and_the_man_page_renders() {
    let dir = crate::support::scratch_dir("completions");
    let script = infra(&dir, &["completions", "bash"]);
    assert!(script.status.success());
    std::fs::write(dir.join("infra.bash"), &script.stdout).expect("write");
    let bash = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            "source ./infra.bash; COMP_WORDS=(infra ap); COMP_CWORD=1; COMP_LINE='infra ap'; \
             COMP_POINT=8; _infra infra ap infra; echo \"${COMPREPLY[@]}\"",
        )
        .current_dir(&dir)
        .output()
        .expect("run bash");
    let words = String::from_utf8_lossy(&bash.stdout);
    assert_eq!(words.trim(), "apply approve", "{}", String::from_utf8_lossy(&bash.stderr));
    for shell in ["zsh", "fish", "powershell"] {
        let out = infra(&dir, &["completions", shell]);
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}");
    }
    let man = infra(&dir, &["man"]);
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH infra 1") && page.contains("apply"), "{page}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `infra init` in an empty directory makes a project that builds, plans and applies with the
/// real Terraform at once; a second `init` refuses to touch it.
#[test]
fn init_makes_a_project_that_plans_and_applies_at_once() {
    let dir = crate::support::scratch_dir("init");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    let created = infra(&dir, &["init", "estate"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stderr).contains("cd estate"), "{}", text(&created.stderr));
    let project = dir.join("estate");
    assert!(infra(&project, &["check", "main.infra"]).status.success());
    // The files are the user's, with the mode an editor would give them (0666 less the
    // umask, as `std::fs::write` makes), not a temporary file's private 0600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &std::path::Path| {
            std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
        };
        std::fs::write(dir.join("editor"), "").expect("write");
        assert_eq!(mode(&project.join("main.infra")), mode(&dir.join("editor")));
    }
    // A project made inside another says so.
    let nested = infra(&project, &["init", "inner"]);
    assert!(nested.status.success(), "{}", text(&nested.stderr));
    assert!(text(&nested.stderr).contains("inside the project at"), "{}", text(&nested.stderr));
    assert!(!text(&created.stderr).contains("inside the project"), "{}", text(&created.stderr));
    std::fs::remove_dir_all(project.join("inner")).expect("remove the inner project");
    // Files already there are kept and said; a `.gitignore` gets infra's directory added.
    let partial = dir.join("partial");
    std::fs::create_dir_all(partial.join("config")).expect("mkdir");
    std::fs::write(partial.join("config/defaults.yaml"), "mine: 1\n").expect("write");
    std::fs::write(partial.join(".gitignore"), "target/").expect("write");
    let over = infra(&partial, &["init"]);
    assert!(over.status.success(), "{}", text(&over.stderr));
    assert!(
        text(&over.stderr)
            .contains("kept what was already there, not replaced: `config/defaults.yaml`"),
        "{}",
        text(&over.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(partial.join(name)).expect("read");
    assert_eq!(read("config/defaults.yaml"), "mine: 1\n");
    assert!(
        read(".gitignore").starts_with("target/\n#") && read(".gitignore").ends_with(".infra/\n"),
        "{}",
        read(".gitignore")
    );
    let run = |args: &[&str]| crate::support::infra_with_terraform(&project, args, &[]);
    let built = run(&["build"]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let planned = run(&["plan"]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    assert!(text(&planned.stdout).contains("prod-app: 3 replica(s)"), "{}", text(&planned.stdout));
    let applied = run(&["apply", "--auto-approve"]);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let outputs = run(&["output", "--json"]);
    let outputs: serde_json::Value = serde_json::from_slice(&outputs.stdout).expect("JSON");
    assert_eq!(
        outputs["dev/app"]["summary"],
        "dev-app: 1 replica(s), labels {\"env\":\"dev\",\"team\":\"platform\"}"
    );
    // One output alone: a string raw, for scripts; `--json` quotes it; a misspelt name is
    // refused with the nearest.
    let summary = run(&["output", "dev/app", "summary"]);
    assert_eq!(
        text(&summary.stdout),
        "dev-app: 1 replica(s), labels {\"env\":\"dev\",\"team\":\"platform\"}"
    );
    let quoted = run(&["output", "dev/app", "summary", "--json"]);
    assert_eq!(text(&quoted.stdout), format!("{}\n", outputs["dev/app"]["summary"]));
    let typo = run(&["output", "dev/app", "sumary"]);
    assert_eq!(typo.status.code(), Some(1), "{}", text(&typo.stderr));
    assert!(text(&typo.stderr).contains("did you mean `summary`?"), "{}", text(&typo.stderr));
    assert_eq!(
        std::fs::read_to_string(project.join(".gitignore")).map(|t| t.contains(".infra/")).ok(),
        Some(true)
    );
    // The summary's colours: with `--color always` a failure is red, an up-to-date one
    // green; with NO_COLOR (the test's `infra_with_terraform`) there is no escape at all.
    let module = project.join("modules/app/main.tf");
    let source = std::fs::read_to_string(&module).expect("read");
    std::fs::write(&module, format!("{source}broken\n")).expect("write");
    let failed = run(&["plan", "--color", "always"]);
    assert!(text(&failed.stderr).contains("\x1b[31mfailed"), "{}", text(&failed.stderr));
    let plain = run(&["plan"]);
    assert!(!text(&plain.stderr).contains('\x1b'), "{}", text(&plain.stderr));
    std::fs::write(&module, source).expect("write");
    let fine = run(&["plan", "--color", "always"]);
    assert!(text(&fine.stderr).contains("\x1b[32mup-to-date"), "{}", text(&fine.stderr));
    // A run that starts no process leaves no empty log directory.
    let logs = || std::fs::read_dir(project.join(".infra/logs")).map(|d| d.count()).unwrap_or(0);
    let before = logs();
    assert!(run(&["apply", "--auto-approve"]).status.success());
    assert_eq!(logs(), before, "an up-to-date apply made a log directory");
    // `infra tf`: Terraform itself in the work directory, with the current variables, its
    // exit status passed on.
    let state = run(&["tf", "dev/app", "--", "output", "-json"]);
    assert!(state.status.success(), "{}", text(&state.stderr));
    assert!(text(&state.stdout).contains("dev-app: 1 replica(s)"), "{}", text(&state.stdout));
    let defaults = project.join("config/defaults.yaml");
    let config = std::fs::read_to_string(&defaults).expect("read");
    std::fs::write(&defaults, config.replace("replicas: 1", "replicas: 2")).expect("write");
    let planned = run(&["tf", "dev/app", "--", "plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(planned.status.code(), Some(2), "{}", text(&planned.stderr));
    assert!(text(&planned.stdout).contains("dev-app: 2 replica(s)"), "{}", text(&planned.stdout));
    std::fs::write(&defaults, config).expect("write");
    let unknown = run(&["tf", "dev/nope", "--", "state", "list"]);
    assert!(text(&unknown.stderr).contains("infra::build::unknown_target"));
    let again = infra(&project, &["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("infra::init::exists"));
    let _ = std::fs::remove_dir_all(&dir);
}
