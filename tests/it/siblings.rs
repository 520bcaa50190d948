//! Modules that call their siblings (`module "s" { source = "../shared" }`), with the real
//! Terraform: the called directories (and what they call in turn) are shipped with the
//! component and its call rewritten, so `init` and `apply` work; editing a called module
//! re-plans exactly its callers; a call that leaves the project is an error at its `.tf` line.
//! And `files` mapping a name to a directory ships all of it.

#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::support::{infra_with_terraform, scratch_dir};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn statuses(output: &std::process::Output) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "finished")
        .map(|e| {
            (
                e["address"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn sibling_modules_ship_with_their_callers_and_replan_only_them() {
    let dir = scratch_dir("siblings");
    let _ = std::fs::remove_dir_all(&dir);
    write(&dir, "modules/lib/main.tf", "output \"v\" { value = \"v1\" }\n");
    write(
        &dir,
        "modules/shared/main.tf",
        "variable \"name\" { type = string }\nmodule \"lib\" {\n  source = \"../lib\"\n}\noutput \"greeting\" { value = \"hello ${var.name} ${module.lib.v}\" }\n",
    );
    write(
        &dir,
        "modules/app/main.tf",
        "module \"s\" {\n  source = \"../shared\"\n  name   = \"app\"\n}\noutput \"greeting\" { value = module.s.greeting }\n",
    );
    write(&dir, "modules/other/main.tf", "output \"x\" { value = 1 }\n");
    write(
        &dir,
        "main.infra",
        "{\n  dev = infra.stack \"dev\" {\n    components = [\n      (infra.component \"app\" { source = ./modules/app; })\n      (infra.component \"other\" { source = ./modules/other; })\n    ];\n  };\n}\n",
    );
    let applied = infra_with_terraform(&dir, &["apply", "--auto-approve", "--json"], &[]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let output = infra_with_terraform(&dir, &["output", "dev/app", "--json"], &[]);
    let outputs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(outputs["greeting"], "hello app v1");
    // Without an address: every applied component's outputs.
    let every = infra_with_terraform(&dir, &["output", "--json"], &[]);
    let every: serde_json::Value = serde_json::from_slice(&every.stdout).expect("JSON");
    assert_eq!(
        every,
        serde_json::json!({ "dev/app": { "greeting": "hello app v1" }, "dev/other": { "x": 1 } })
    );
    let shipped = dir.join(".infra/work/dev/app/.infra-modules/modules");
    assert!(shipped.join("shared/main.tf").is_file() && shipped.join("lib/main.tf").is_file());
    let rewritten =
        std::fs::read_to_string(dir.join(".infra/work/dev/app/main.tf")).unwrap_or_default();
    assert!(rewritten.contains("source = \"./.infra-modules/modules/shared\""), "{rewritten}");
    // The user's file is untouched.
    let original = std::fs::read_to_string(dir.join("modules/app/main.tf")).unwrap_or_default();
    assert!(original.contains("source = \"../shared\""));

    // A module two calls away changes: its caller's caller re-plans, nothing else.
    write(&dir, "modules/lib/main.tf", "output \"v\" { value = \"v2\" }\n");
    let plan = infra_with_terraform(&dir, &["plan", "--json"], &[]);
    assert_eq!(
        statuses(&plan),
        [
            ("dev/app".to_owned(), "planned".to_owned()),
            ("dev/other".to_owned(), "up-to-date".to_owned())
        ]
    );
    let applied = infra_with_terraform(&dir, &["apply", "--auto-approve"], &[]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let output = infra_with_terraform(&dir, &["output", "dev/app", "--json"], &[]);
    let outputs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(outputs["greeting"], "hello app v2");

    // `files` may map a name to a directory: all of it is shipped, and it is an input.
    write(&dir, "scripts/run.sh", "echo hi\n");
    write(&dir, "scripts/sub/data.txt", "1\n");
    let main = std::fs::read_to_string(dir.join("main.infra")).unwrap_or_default();
    let main = main.replace(
        "source = ./modules/app;",
        "source = ./modules/app; files.\"scripts\" = ./scripts;",
    );
    std::fs::write(dir.join("main.infra"), main).expect("write");
    let applied = infra_with_terraform(&dir, &["apply", "--auto-approve"], &[]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    assert!(dir.join(".infra/work/dev/app/scripts/sub/data.txt").is_file());
    write(&dir, "scripts/sub/data.txt", "2\n");
    let plan = infra_with_terraform(&dir, &["plan", "--json"], &[]);
    assert_eq!(
        statuses(&plan),
        [
            ("dev/app".to_owned(), "planned".to_owned()),
            ("dev/other".to_owned(), "up-to-date".to_owned())
        ]
    );

    // Out of the project: an error at the call, in the `.tf` file.
    write(
        &dir,
        "modules/app/main.tf",
        "module \"s\" {\n  source = \"../../../elsewhere\"\n  name   = \"app\"\n}\n",
    );
    let outside = infra_with_terraform(&dir, &["plan"], &[]);
    assert_eq!(outside.status.code(), Some(1));
    let text = String::from_utf8_lossy(&outside.stderr);
    assert!(text.contains("infra::project::invalid_spec"), "{text}");
    assert!(
        text.contains("modules/app/main.tf:2:12") && text.contains("reaches outside the project"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A module may live outside the project (its own submodules come with it), and a call that
/// leaves a module and comes back into it (`../app/sub` from `app`) is made direct.
#[test]
fn modules_outside_the_project_and_calls_that_come_back() {
    let dir = scratch_dir("siblings-outside");
    let _ = std::fs::remove_dir_all(&dir);
    write(&dir, "external/mod/sub/main.tf", "output \"v\" { value = \"from sub\" }\n");
    write(
        &dir,
        "external/mod/main.tf",
        "module \"s\" {\n  source = \"./sub\"\n}\nmodule \"back\" {\n  source = \"../mod/sub\"\n}\noutput \"v\" { value = \"${module.s.v}/${module.back.v}\" }\n",
    );
    write(
        &dir,
        "project/main.infra",
        "{ dev = infra.stack \"dev\" { components = [ (infra.component \"ext\" { source = ../external/mod; }) ]; }; }\n",
    );
    let project = dir.join("project");
    let applied = infra_with_terraform(&project, &["apply", "--auto-approve"], &[]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let output = infra_with_terraform(&project, &["output", "dev/ext", "--json"], &[]);
    let outputs: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(outputs["v"], "from sub/from sub");
    let rewritten =
        std::fs::read_to_string(project.join(".infra/work/dev/ext/main.tf")).unwrap_or_default();
    assert!(
        rewritten.contains("source = \"./sub\"\n}\nmodule \"back\" {\n  source = \"./sub\""),
        "{rewritten}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
