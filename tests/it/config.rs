//! Configuration layers as teams write them (`infra.lib.loadHierarchy`), read by the real
//! binary: YAML merge keys, `null` deleting an inherited key (and `loadHierarchyWith {
//! keepNulls = true; }` keeping it), exact floats in `eval --json`, an empty layer, a level
//! value with a typo, a broken layer and a too-large integer placed in their own file.

#![allow(clippy::disallowed_methods)]

use std::path::Path;

use crate::support::{infra, scratch_dir};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn eval_json(dir: &Path, expr: &str) -> Result<serde_json::Value, String> {
    let out = infra(dir, &["eval", "--json", "-E", expr]);
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn layers_merge_delete_and_keep_their_numbers() {
    let dir = scratch_dir("config-layers");
    let _ = std::fs::remove_dir_all(&dir);
    write(
        &dir,
        "config/base.yaml",
        "defaults: &defaults\n  size: 1\n  ratio: 1048576.1\nmodules_to_deploy:\n  module1: { <<: *defaults }\n  module2: { <<: *defaults, size: 2 }\nregion: eu-west-1\n",
    );
    write(
        &dir,
        "config/env=dev/10-drop.yaml",
        "modules_to_deploy:\n  module2: null\n  module3: { size: 3, note: null }\n",
    );
    write(&dir, "config/env=dev/20-empty.yaml", "# nothing here yet\n");
    write(
        &dir,
        "config/env=prod/main.json",
        "{\"region\": \"us-east-1\", \"precision\": 1.000001}\n",
    );

    let merged = eval_json(&dir, "(import <infra>).lib.loadHierarchy ./config \"env=dev\"");
    assert_eq!(
        merged,
        Ok(serde_json::json!({
            "defaults": { "ratio": 1048576.1, "size": 1 },
            "modules_to_deploy": {
                "module1": { "ratio": 1048576.1, "size": 1 },
                "module3": { "size": 3 }
            },
            "region": "eu-west-1"
        }))
    );
    let kept = eval_json(
        &dir,
        "(import <infra>).lib.loadHierarchyWith { keepNulls = true; } ./config \"env=dev\"",
    );
    let kept = kept.expect("keepNulls evaluates");
    assert_eq!(kept["modules_to_deploy"]["module2"], serde_json::Value::Null);
    assert!(kept["modules_to_deploy"].as_object().is_some_and(|m| m.contains_key("module2")));
    // The text of the numbers, not only their value: nothing rounded on the way out.
    let out = infra(
        &dir,
        &["eval", "--json", "-E", "(import <infra>).lib.loadHierarchy ./config \"env=prod\""],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1048576.1") && text.contains("1.000001"), "{text}");

    let typo = eval_json(&dir, "(import <infra>).lib.loadHierarchy ./config \"env=devx\"");
    let message = typo.expect_err("a typo is an error");
    assert!(
        message.contains("`env=devx` matches no directory")
            && message.contains("env is one of dev, prod"),
        "{message}"
    );
    // A level whose key has no directory at all is optional.
    assert!(
        eval_json(&dir, "(import <infra>).lib.loadHierarchy ./config \"env=dev/cluster=c1\"")
            .is_ok()
    );

    write(&dir, "config/env=dev/30-bad.yaml", "a: [1, 2\nb: 3\n");
    let bad = eval_json(&dir, "(import <infra>).lib.loadHierarchy ./config \"env=dev\"");
    let message = bad.expect_err("a broken layer is an error");
    // Placed in the layer's own file, with its text.
    assert!(message.contains("config/env=dev/30-bad.yaml:2:2"), "{message}");
    // Shown relative to where the user stands (the test runs infra in `dir`).
    assert!(!message.contains(&dir.display().to_string()), "{message}");
    assert!(message.contains("invalid YAML") && message.contains(" 2 │ b: 3"), "{message}");
    // An integer beyond 64 bits: an error at its place in the file, never another number.
    std::fs::remove_file(dir.join("config/env=dev/30-bad.yaml")).expect("rm");
    write(&dir, "config/env=dev/40-big.json", "{\n  \"limit\": 18446744073709551615\n}\n");
    let big = eval_json(&dir, "(import <infra>).lib.loadHierarchy ./config \"env=dev\"");
    let message = big.expect_err("an integer beyond 64 bits is an error");
    assert!(message.contains("config/env=dev/40-big.json:2:12"), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `examples/hierarchy` (merge keys, a deleted key, a float, a sibling module) applied by the
/// real Terraform: what Terraform holds is exactly what its YAML says.
#[test]
fn the_hierarchy_example_gives_terraform_exactly_its_values() {
    let dir = crate::support::example("hierarchy", "hierarchy-apply");
    let applied = crate::support::infra_with_terraform(&dir, &["apply", "--auto-approve"], &[]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let outputs = |address: &str| -> serde_json::Value {
        let out = crate::support::infra_with_terraform(&dir, &["output", address, "--json"], &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("outputs as JSON")
    };
    let dev = outputs("dev/c1");
    assert_eq!(dev["summary"], "platform-dev-c1: 1 x medium in a");
    assert_eq!(dev["cpu_ratio"].to_string(), "1048576.1");
    assert_eq!(dev["addons"], serde_json::json!(["monitoring"]), "backup deleted in dev");
    assert_eq!(
        dev["labels"],
        serde_json::json!({ "cost_center": "4711", "env": "dev", "team": "platform", "tier": "standard" })
    );
    let prod = outputs("prod/c2");
    assert_eq!(prod["addons"], serde_json::json!(["backup", "monitoring"]));
    assert_eq!(prod["summary"], "platform-prod-c2: 3 x large in a,b,c");
    // The variables file Terraform read holds the float as written.
    let tfvars = std::fs::read_to_string(dir.join(".infra/work/dev/c1/infra.auto.tfvars.json"))
        .unwrap_or_default();
    assert!(tfvars.contains("1048576.1"), "{tfvars}");
    let _ = std::fs::remove_dir_all(&dir);
}
