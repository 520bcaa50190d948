//! Secrets end to end with the real Terraform 1.0.3: a canary value reaches Terraform (its
//! length and hash come back as outputs) and nowhere else — no file under the project, nothing
//! infra prints; rotation re-plans exactly its consumers; every failure is a clear error;
//! `secrets edit` leaves no plaintext behind.

#![allow(clippy::disallowed_methods)]

use std::{
    path::{Path, PathBuf},
    process::Output,
};

use crate::support::{infra_with_terraform, scratch_dir, write_script};

struct Project {
    dir: PathBuf,
    identity: PathBuf,
}

impl Project {
    fn infra(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let identity = self.identity.to_string_lossy();
        let tmp = self.dir.join("tmp");
        let tmp = tmp.to_string_lossy();
        // The caller's `env` comes last, so a test can replace the identity.
        let mut all = vec![("INFRA_AGE_IDENTITY", identity.as_ref()), ("TMPDIR", tmp.as_ref())];
        all.extend_from_slice(env);
        infra_with_terraform(&self.dir, args, &all)
    }

    /// Encrypts `{"db": {"password": VALUE}}` into `secrets/dev.age` (the plaintext only ever
    /// passes through infra's stdin-less `encrypt` from a file outside the project).
    fn set_secret(&self, value: &str) {
        // Named after the project too: two tests of this process writing one file raced (one
        // removed it before the other's `encrypt` read it).
        let project = self.dir.file_name().expect("name").to_string_lossy();
        let plain = self
            .dir
            .parent()
            .expect("parent")
            .join(format!("{}-{project}-plain.json", std::process::id()));
        std::fs::write(
            &plain,
            format!("{{\"db\": {{\"password\": \"{value}\", \"user\": \"app\"}}}}"),
        )
        .expect("write");
        let out = self.dir.join("secrets/dev.age");
        let output = self.infra(
            &["secrets", "encrypt", &plain.to_string_lossy(), "-o", &out.to_string_lossy()],
            &[],
        );
        let _ = std::fs::remove_file(&plain);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

fn project(name: &str) -> Project {
    let dir = scratch_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("modules/db")).expect("mkdir");
    std::fs::create_dir_all(dir.join("modules/app")).expect("mkdir");
    std::fs::create_dir_all(dir.join("secrets")).expect("mkdir");
    std::fs::create_dir_all(dir.join("tmp")).expect("mkdir");
    std::fs::write(
        dir.join("modules/db/main.tf"),
        "variable \"password\" {\n  type      = string\n  sensitive = true\n}\n\
         variable \"user\" {\n  type = string\n}\n\
         output \"password_length\" {\n  value = nonsensitive(length(var.password))\n}\n\
         output \"password_sha256\" {\n  value = nonsensitive(sha256(var.password))\n}\n\
         output \"user\" {\n  value = var.user\n}\n",
    )
    .expect("write");
    std::fs::write(dir.join("modules/app/main.tf"), "output \"ok\" {\n  value = true\n}\n")
        .expect("write");
    std::fs::write(
        dir.join("main.infra"),
        "let\n\
         \x20 db = infra.component \"db\" {\n\
         \x20   source = ./modules/db;\n\
         \x20   inputs = {\n\
         \x20     password = infra.secret ./secrets/dev.age \"db.password\";\n\
         \x20     user = \"app\";\n\
         \x20   };\n\
         \x20 };\n\
         \x20 app = infra.component \"app\" { source = ./modules/app; };\n\
         in\n\
         { dev = infra.stack \"dev\" { components = [ db app ]; }; }\n",
    )
    .expect("write");
    let identity =
        dir.parent().expect("parent").join(format!("{name}-{}-identity.txt", std::process::id()));
    let _ = std::fs::remove_file(&identity);
    let project = Project { dir, identity };
    let output = project.infra(&["secrets", "keygen"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::write(project.dir.join(".infra-recipients"), &output.stdout).expect("recipients");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&project.identity).expect("identity").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the identity is private");
    }
    project
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            found.extend(files_containing(&path, needle));
        } else if std::fs::read(&path)
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

fn outputs(project: &Project, address: &str) -> serde_json::Value {
    let output = project.infra(&["output", address, "--json"], &[]);
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn statuses(output: &Output) -> std::collections::BTreeMap<String, String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "finished")
        .map(|e| {
            (
                e["address"].as_str().unwrap_or("").to_owned(),
                e["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_canary_secret_reaches_terraform_and_nothing_else() {
    let project = project("secrets-canary");
    let canary = format!("canary-{}-{}", std::process::id(), "Qx7Lm2");
    project.set_secret(&canary);
    let plan = project.infra(&["plan", "--json"], &[]);
    assert!(
        plan.status.success(),
        "{}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    // The kept plan of a secret-bearing component: a summary and a scrubbed JSON, no binary.
    assert_eq!(files_containing(&project.dir, &canary), Vec::<PathBuf>::new(), "after plan");
    assert!(!project.dir.join(".infra/plans/dev/db/plan.tfplan").exists());
    let show = project.infra(&["show", "--json", "dev/db"], &[]);
    let show = String::from_utf8_lossy(&show.stdout).into_owned();
    assert!(show.contains("\"address\":\"dev/db\"") && !show.contains(&canary), "{show}");
    let apply = project.infra(&["apply", "--auto-approve", "--json"], &[]);
    assert!(
        apply.status.success(),
        "{}{}",
        String::from_utf8_lossy(&apply.stdout),
        String::from_utf8_lossy(&apply.stderr)
    );
    // Terraform received it.
    let db = outputs(&project, "dev/db");
    assert_eq!(db["password_length"], serde_json::json!(canary.len()));
    assert_eq!(db["password_sha256"], serde_json::json!(sha256(&canary)));
    // Nothing else did.
    for output in [&plan, &apply] {
        assert!(!String::from_utf8_lossy(&output.stdout).contains(&canary));
        assert!(!String::from_utf8_lossy(&output.stderr).contains(&canary));
    }
    for verb in [
        vec!["status"],
        vec!["why", "dev/db"],
        vec!["output", "dev/db"],
        vec!["build"],
        vec!["eval", "--strict", "dev.db.inputs"],
        vec!["export", "dev/db", "-o", "exported"],
    ] {
        let output = project.infra(&verb, &[]);
        assert!(!String::from_utf8_lossy(&output.stdout).contains(&canary), "{verb:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains(&canary), "{verb:?}");
    }
    assert_eq!(files_containing(&project.dir, &canary), Vec::<PathBuf>::new());
    // The export names the secret input it leaves out, and says whose state it is.
    let export = project.infra(&["export", "dev/db", "-o", "exported-again"], &[]);
    let text = String::from_utf8_lossy(&export.stderr);
    assert!(text.contains("hold secrets and are not written: `password`"), "{text}");
    assert!(text.contains("`TF_VAR_password`") && text.contains("its state is the project's own"));

    // An unchanged secrets file re-plans nothing; a rotated one exactly its consumer.
    let again = project.infra(&["apply", "--auto-approve", "--json"], &[]);
    assert!(statuses(&again).values().all(|s| s == "up-to-date"));
    let rotated = format!("{canary}-rotated");
    project.set_secret(&rotated);
    let rotation = project.infra(&["apply", "--auto-approve", "--json"], &[]);
    let status = statuses(&rotation);
    assert_eq!(status["dev/db"], "applied");
    assert_eq!(status["dev/app"], "up-to-date");
    assert_eq!(outputs(&project, "dev/db")["password_sha256"], serde_json::json!(sha256(&rotated)));
    assert_eq!(files_containing(&project.dir, &rotated), Vec::<PathBuf>::new());
    // Destroying needs the secret too, and leaks it no more than applying.
    let destroy = project.infra(&["destroy", "dev/db", "--auto-approve", "--json"], &[]);
    assert!(destroy.status.success(), "{}", String::from_utf8_lossy(&destroy.stdout));
    assert_eq!(statuses(&destroy)["dev/db"], "destroyed");
    assert_eq!(files_containing(&project.dir, &rotated), Vec::<PathBuf>::new());
    let _ = std::fs::remove_dir_all(&project.dir);
    let _ = std::fs::remove_file(&project.identity);
}

#[test]
fn every_secrets_failure_is_a_clear_error_without_plaintext() {
    let project = project("secrets-errors");
    let canary = "canary-errors-8KmQ";
    project.set_secret(canary);
    let check = |env: &[(&str, &str)], expected: &str| {
        let output =
            project.infra(&["apply", "--auto-approve", "--json", "--force", "dev/db"], env);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "{text}");
        assert!(text.contains(expected), "expected `{expected}` in {text}");
        assert!(!text.contains(canary));
        assert!(!project.dir.join(".infra/records/dev/db.json").exists());
    };
    // No identity.
    let missing = project.dir.join("no-such-identity.txt");
    check(&[("INFRA_AGE_IDENTITY", &missing.to_string_lossy())], "cannot read the age identity");
    // Somebody else's identity.
    let other =
        project.dir.parent().expect("parent").join(format!("other-{}.txt", std::process::id()));
    let keygen = project.infra(
        &["secrets", "keygen", "--force"],
        &[("INFRA_AGE_IDENTITY", &other.to_string_lossy())],
    );
    assert!(keygen.status.success());
    check(
        &[("INFRA_AGE_IDENTITY", &other.to_string_lossy())],
        "none of your identities can decrypt",
    );
    let _ = std::fs::remove_file(&other);
    // A missing key path.
    let main = project.dir.join("main.infra");
    let text = std::fs::read_to_string(&main).expect("main");
    std::fs::write(&main, text.replace("\"db.password\"", "\"db.pasword\"")).expect("edit");
    check(&[], "has no `db.pasword`");
    std::fs::write(&main, &text).expect("restore");
    // A truncated file.
    let file = project.dir.join("secrets/dev.age");
    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
    check(&[], "secrets/dev.age");
    let _ = std::fs::remove_dir_all(&project.dir);
    let _ = std::fs::remove_file(&project.identity);
}

#[test]
fn secrets_edit_re_encrypts_and_leaves_no_plaintext_behind() {
    let project = project("secrets-edit");
    let canary = "canary-edit-P4sW";
    project.set_secret(canary);
    let file = project.dir.join("secrets/dev.age");
    let tmp = project.dir.join("tmp");
    // A scripted editor (a stand-in for a person): replace the value.
    let editor = project.dir.join("editor.sh");
    write_script(&editor, &format!("#!/bin/sh\nsed -i 's/{canary}/{canary}-edited/' \"$1\"\n"));
    let output = project.infra(
        &["secrets", "edit", &file.to_string_lossy()],
        &[("EDITOR", &editor.to_string_lossy()), ("VISUAL", "")],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let decrypted = project.infra(&["secrets", "decrypt", &file.to_string_lossy()], &[]);
    assert!(String::from_utf8_lossy(&decrypted.stdout).contains(&format!("{canary}-edited")));
    assert_eq!(std::fs::read_dir(&tmp).expect("tmp").count(), 0, "no temporary left after success");

    // An editor that fails, and one that writes invalid JSON: the file is unchanged.
    let before = std::fs::read(&file).expect("read");
    for script in ["#!/bin/sh\nexit 3\n", "#!/bin/sh\necho '{ not json: [' > \"$1\"\n"] {
        std::fs::write(&editor, script).expect("write");
        let output = project.infra(
            &["secrets", "edit", &file.to_string_lossy()],
            &[("EDITOR", &editor.to_string_lossy()), ("VISUAL", "")],
        );
        assert!(!output.status.success());
        assert_eq!(std::fs::read(&file).expect("read"), before);
        assert_eq!(
            std::fs::read_dir(&tmp).expect("tmp").count(),
            0,
            "no temporary left after a failure"
        );
    }
    assert!(files_containing(&project.dir, canary).is_empty());
    let _ = std::fs::remove_dir_all(&project.dir);
    let _ = std::fs::remove_file(&project.identity);
}

#[test]
fn secrets_files_with_one_name_in_two_directories_stay_apart() {
    let project = project("secrets-same-name");
    for (dir, value) in [("dev", "canary-dev-Kq2"), ("prod", "canary-prod-Zr9")] {
        std::fs::create_dir_all(project.dir.join("secrets").join(dir)).expect("mkdir");
        let name = format!("{dir}-plain.json");
        let plain = project.dir.parent().expect("parent").join(&name);
        std::fs::write(&plain, format!("{{\"db\": {{\"password\": \"{value}\"}}}}"))
            .expect("write");
        let out = project.dir.join("secrets").join(dir).join("app.age");
        let output = project.infra(
            &["secrets", "encrypt", &plain.to_string_lossy(), "-o", &out.to_string_lossy()],
            &[],
        );
        let _ = std::fs::remove_file(&plain);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    std::fs::write(
        project.dir.join("main.infra"),
        "let\n  db = infra.component \"db\" (ctx: {\n    source = ./modules/db;\n    inputs = {\n      password = infra.secret (./secrets + \"/${ctx.stack}/app.age\") \"db.password\";\n      user = \"app\";\n    };\n  });\nin\n{ dev = infra.stack \"dev\" { components = [ db ]; }; prod = infra.stack \"prod\" { components = [ db ]; }; }\n",
    )
    .expect("write");
    let apply = project.infra(&["apply", "--auto-approve", "--json"], &[]);
    assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stdout));
    assert_eq!(
        outputs(&project, "dev/db")["password_sha256"],
        serde_json::json!(sha256("canary-dev-Kq2"))
    );
    assert_eq!(
        outputs(&project, "prod/db")["password_sha256"],
        serde_json::json!(sha256("canary-prod-Zr9"))
    );
    let _ = std::fs::remove_dir_all(&project.dir);
    let _ = std::fs::remove_file(&project.identity);
}

#[test]
fn a_steps_secret_reaches_its_environment_and_nothing_else() {
    let project = project("secrets-step");
    let canary = format!("canary-{}-{}", std::process::id(), "Zp4Wd9");
    project.set_secret(&canary);
    // The step proves it got the value (its length and hash as outputs), prints it (the log
    // must scrub it), and a second step tries to pass it on as an output (refused).
    std::fs::write(
        project.dir.join("main.infra"),
        "let\n\
         \x20 pw = infra.secret ./secrets/dev.age \"db.password\";\n\
         \x20 use = infra.step \"use\" {\n\
         \x20   inputs.password = pw;\n\
         \x20   env.DB_PASSWORD = pw;\n\
         \x20   run = [ \"sh\" \"-c\" \"echo using $INFRA_INPUT_PASSWORD; test \\\"$DB_PASSWORD\\\" = \\\"$INFRA_INPUT_PASSWORD\\\"; printf '{\\\"length\\\": %s, \\\"sha256\\\": \\\"%s\\\"}' \\${#INFRA_INPUT_PASSWORD} $(printf %s \\\"$INFRA_INPUT_PASSWORD\\\" | sha256sum | cut -d' ' -f1) > $INFRA_OUTPUTS\" ];\n\
         \x20 };\n\
         \x20 leak = infra.step \"leak\" {\n\
         \x20   inputs.password = pw;\n\
         \x20   run = [ \"sh\" \"-c\" \"printf '{\\\"copy\\\": \\\"%s\\\"}' $INFRA_INPUT_PASSWORD > $INFRA_OUTPUTS\" ];\n\
         \x20 };\n\
         in\n\
         { dev = infra.stack \"dev\" { components = [ use leak ]; }; }\n",
    )
    .expect("write");
    let output = project.infra(&["apply", "--auto-approve", "--json"], &[]);
    let statuses = statuses(&output);
    assert_eq!(statuses.get("dev/use").map(String::as_str), Some("applied"), "{statuses:?}");
    assert_eq!(statuses.get("dev/leak").map(String::as_str), Some("failed"), "{statuses:?}");
    let events = String::from_utf8_lossy(&output.stdout);
    assert!(events.contains("output `copy` holds a secret"), "{events}");
    let used = outputs(&project, "dev/use");
    assert_eq!(used["length"], canary.len());
    assert_eq!(used["sha256"], sha256(&canary));
    // The log has the line, scrubbed.
    let logs = files_containing(&project.dir.join(".infra/logs"), "using (secret)");
    assert_eq!(logs.len(), 1, "{logs:?}");
    // Nowhere under the project, nothing printed, no temporary file left.
    assert_eq!(files_containing(&project.dir, &canary), Vec::<PathBuf>::new());
    let printed = format!("{events}{}", String::from_utf8_lossy(&output.stderr));
    assert!(!printed.contains(&canary), "{printed}");
    let tmp: Vec<_> = std::fs::read_dir(project.dir.join("tmp")).expect("tmp").collect();
    assert!(tmp.is_empty(), "the outputs file's private directory is removed: {tmp:?}");
}
