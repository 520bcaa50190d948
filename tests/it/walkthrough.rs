//! Example READMEs work as written: every ```console block of `examples/guarded/README.md`
//! is run in order in a fresh copy of the example — each `$ COMMAND` with `bash -c`, with the
//! real `infra`, Terraform 1.0.3 and the test provider — and each line under a command must
//! appear in what it printed (stdout and stderr, colour off).

#![allow(clippy::disallowed_methods)]

use std::{
    path::Path,
    process::{Command, Stdio},
};

use crate::support::{copy_tree, root, scratch_dir, terraform, test_provider_rc};

/// The commands of the README's console blocks, each with the lines it must print.
fn steps(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_console = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_console = line.trim() == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push((command.to_owned(), Vec::new()));
        } else if let Some((_, expected)) = steps.last_mut()
            && !line.trim().is_empty()
        {
            expected.push(line.trim().to_owned());
        }
    }
    steps
}

fn walk(example: &str) {
    let dir = scratch_dir(&format!("walkthrough-{example}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&root().join("examples").join(example), &dir);
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("the README");
    let steps = steps(&readme);
    assert!(steps.len() >= 5, "{steps:?}");
    let infra =
        Path::new(env!("CARGO_BIN_EXE_infra")).parent().map(Path::to_path_buf).unwrap_or_default();
    let terraform = terraform().parent().map(Path::to_path_buf).unwrap_or_default();
    for (command, expected) in steps {
        let output = Command::new("bash")
            .args(["-c", &command])
            .current_dir(&dir)
            .env("PATH", format!("{}:{}:/usr/bin:/bin", infra.display(), terraform.display()))
            .env("TF_CLI_CONFIG_FILE", test_provider_rc())
            .env("NO_COLOR", "1")
            .env_remove("INFRA_USER")
            .env_remove("INFRA_NOW")
            .env_remove("INFRA_TF")
            .stdin(Stdio::null())
            .output()
            .expect("run a README command");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for line in &expected {
            assert!(
                printed.contains(line.as_str()),
                "`{command}` did not print `{line}`:\n{printed}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_guarded_example_works_as_its_readme_says() {
    walk("guarded");
}
