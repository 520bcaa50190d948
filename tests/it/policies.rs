//! Policies over plans, with real Terraform and a real provider (`support::test_provider_rc`):
//! `noDestroy` stops a plan that deletes a resource in `prod` (the resource is still there,
//! `dev` goes on), `--allow-destroy` lets it through, and the same for `infra destroy`; a change window with a fixed clock
//! (`INFRA_NOW`) leaves a component waiting outside it and applies it inside; a policy written
//! in the language and the same rule in Rego (regorus) give the same verdicts; a warning is
//! recorded; a policy that fails says where.

#![allow(clippy::disallowed_methods)]

use std::{collections::BTreeMap, path::PathBuf, process::Output};

use crate::support::{infra_with_terraform, scratch_dir, test_provider_rc};

/// Tuesday 2026-12-01 10:30 UTC, and Saturday 2026-12-05 10:30 UTC.
const TUESDAY: &str = "2026-12-01T10:30:00Z";
const SATURDAY: &str = "2026-12-05T10:30:00Z";

struct Project {
    dir: PathBuf,
    rc: PathBuf,
}

impl Project {
    fn new(name: &str, main: &str) -> Project {
        let dir = scratch_dir(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("modules/things")).expect("mkdir");
        std::fs::write(
            dir.join("modules/things/main.tf"),
            concat!(
                "terraform {\n",
                "  required_providers {\n",
                "    infratest = { source = \"infra.test/infra/infratest\" }\n",
                "  }\n",
                "}\n",
                "variable \"names\" { type = list(string) }\n",
                "variable \"value\" { type = string }\n",
                "resource \"infratest_thing\" \"each\" {\n",
                "  for_each = toset(var.names)\n",
                "  name     = each.key\n",
                "  value    = var.value\n",
                "}\n",
                "output \"count\" { value = length(infratest_thing.each) }\n",
            ),
        )
        .expect("write the module");
        std::fs::write(dir.join("main.infra"), main).expect("write main.infra");
        Project { dir, rc: test_provider_rc() }
    }

    fn infra(&self, args: &[&str], now: &str) -> Output {
        self.infra_as("alice", args, now)
    }

    fn infra_as(&self, user: &str, args: &[&str], now: &str) -> Output {
        let ledger = self.dir.join("ledger");
        let rc = self.rc.display().to_string();
        let ledger = ledger.display().to_string();
        let env = [
            ("TF_CLI_CONFIG_FILE", rc.as_str()),
            ("INFRATEST_LEDGER", ledger.as_str()),
            ("INFRA_NOW", now),
            ("INFRA_USER", user),
        ];
        infra_with_terraform(&self.dir, args, &env)
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("main.infra");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(from), "`{from}` not in main.infra");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
    }

    /// What the provider did, in order.
    fn ledger(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("ledger")).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    }
}

/// The `finished` events of a `--json` run, by address.
fn finished(output: &Output) -> BTreeMap<String, serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "finished")
        .map(|e| (e["address"].as_str().unwrap_or_default().to_owned(), e))
        .collect()
}

fn status(output: &Output, address: &str) -> String {
    finished(output)[address]["status"].as_str().unwrap_or_default().to_owned()
}

const GUARDED: &str = r#"let
  things = infra.component "things" { source = ./modules/things; inputs = { names = [ "a" "b" ]; value = "v1"; }; };
  policy = infra.lib.policy;
in {
  prod = infra.stack "prod" {
    policies = [
      (policy.noDestroy { })
      (policy.window { days = [ "mon" "tue" "wed" "thu" "fri" ]; from = 9; to = 17; })
    ];
    components = [ things ];
  };
  dev = infra.stack "dev" { components = [ things ]; };
}
"#;

#[test]
fn no_destroy_stops_a_delete_in_prod_and_allow_destroy_lets_it_through() {
    let project = Project::new("policies-destroy", GUARDED);
    let first = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(status(&first, "prod/things"), "applied");
    assert_eq!(project.ledger().iter().filter(|l| l.starts_with("create")).count(), 4);

    // `b` goes away everywhere: `dev` deletes it, `prod` is denied and keeps it.
    project.edit("[ \"a\" \"b\" ]", "[ \"a\" ]");
    let plan = project.infra(&["plan"], TUESDAY);
    assert_eq!(plan.status.code(), Some(1));
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("prod/things: +0 ~0 -1, 1 output (destroys or replaces) — denied by policy"),
        "{text}"
    );
    assert!(
        text.contains("deny (policy 1): `infratest_thing.each[\"b\"]` would be deleted"),
        "{text}"
    );
    let summary = String::from_utf8_lossy(&plan.stderr);
    assert!(summary.contains("error[infra::policy::deny]: denied by policy 1"), "{summary}");
    let denied = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(denied.status.code(), Some(1));
    let event = &finished(&denied)["prod/things"];
    assert_eq!(event["status"], "denied", "{event}");
    assert_eq!(event["code"], "infra::policy::deny");
    let message = event["message"].as_str().unwrap_or_default();
    assert!(message.contains("denied by policy 1"), "{message}");
    assert!(message.contains("`infratest_thing.each[\"b\"]` would be deleted"), "{message}");
    assert_eq!(event["verdicts"][0]["kind"], "deny");
    assert_eq!(event["verdicts"][0]["address"], "infratest_thing.each[\"b\"]");
    assert_eq!(status(&denied, "dev/things"), "applied");
    assert_eq!(project.ledger().iter().filter(|l| *l == "delete b").count(), 1, "dev only");

    let allowed = project.infra(&["apply", "--auto-approve", "--json", "--allow-destroy"], TUESDAY);
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    assert_eq!(status(&allowed, "prod/things"), "applied");
    assert_eq!(project.ledger().iter().filter(|l| *l == "delete b").count(), 2);

    // `infra destroy` of prod is judged too: its plan deletes `a`, denied; dev is destroyed.
    let destroy = project.infra(&["destroy", "*/things", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(destroy.status.code(), Some(1), "{}", String::from_utf8_lossy(&destroy.stderr));
    let event = &finished(&destroy)["prod/things"];
    assert_eq!(event["status"], "denied", "{event}");
    assert_eq!(event["code"], "infra::policy::deny");
    assert_eq!(event["verdicts"][0]["address"], "infratest_thing.each[\"a\"]");
    assert_eq!(status(&destroy, "dev/things"), "destroyed");
    assert_eq!(project.ledger().iter().filter(|l| *l == "delete a").count(), 1, "dev only");
    let status_now = project.infra(&["plan", "--detailed-exitcode"], TUESDAY);
    assert_eq!(status_now.status.code(), Some(2), "dev is gone, prod is untouched");
    let allowed =
        project.infra(&["destroy", "prod", "--auto-approve", "--json", "--allow-destroy"], TUESDAY);
    assert!(allowed.status.success(), "{}", String::from_utf8_lossy(&allowed.stderr));
    assert_eq!(status(&allowed, "prod/things"), "destroyed");
    assert_eq!(project.ledger().iter().filter(|l| *l == "delete a").count(), 2);
}

#[test]
fn a_change_window_leaves_a_component_waiting_outside_it() {
    let project = Project::new("policies-window", GUARDED);
    let first = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    project.edit("value = \"v1\"", "value = \"v2\"");
    // Saturday: prod waits (not a failure; `plan --detailed-exitcode` says there is work).
    let saturday = project.infra(&["apply", "--auto-approve", "--json"], SATURDAY);
    assert!(saturday.status.success(), "{}", String::from_utf8_lossy(&saturday.stderr));
    let event = &finished(&saturday)["prod/things"];
    assert_eq!(event["status"], "waiting", "{event}");
    let message = event["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            "outside the change window (mon,tue,wed,thu,fri 09:00–17:00 UTC): it is sat 10:30"
        ),
        "{message}"
    );
    assert_eq!(status(&saturday, "dev/things"), "applied");
    assert_eq!(project.ledger().iter().filter(|l| *l == "update a").count(), 1, "dev only");
    let plan = project.infra(&["plan", "--detailed-exitcode"], SATURDAY);
    assert_eq!(plan.status.code(), Some(2));
    // Tuesday: it goes.
    let tuesday = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert!(tuesday.status.success(), "{}", String::from_utf8_lossy(&tuesday.stderr));
    assert_eq!(status(&tuesday, "prod/things"), "applied");
    assert_eq!(status(&tuesday, "dev/things"), "up-to-date");
    assert_eq!(project.ledger().iter().filter(|l| *l == "update a").count(), 2);
}

/// A window in an IANA time zone follows daylight saving time (09:00 in Berlin is 08:00 UTC in
/// January and 07:00 UTC in July); a fixed offset does not; an unknown zone is an error.
#[test]
fn a_change_window_in_a_time_zone_follows_daylight_saving_time() {
    let dir = scratch_dir("policies-zone");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // 07:30 and 08:30 UTC on a January and a July Wednesday.
    let instants = "[ 1768375800 1768379400 1784010600 1784014200 ]";
    let verdicts = |window: &str| -> Vec<usize> {
        let expr = format!(
            "map (epoch: builtins.length ((import <infra>).lib.policy.window {window} \
             {{ stack = \"prod\"; now = {{ inherit epoch; }}; }})) {instants}"
        );
        let out = crate::support::infra(&dir, &["eval", "--strict", "--json", "-E", &expr]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("a JSON list")
    };
    let zone = "{ timeZone = \"Europe/Berlin\"; from = 9; to = 17; }";
    assert_eq!(verdicts(zone), [1, 0, 1, 0], "outside at 08:30 local, inside at 09:30");
    let fixed = "{ utcOffset = 1; from = 9; to = 17; }";
    assert_eq!(verdicts(fixed), [1, 0, 1, 1], "a fixed offset misses summer time");
    let out = crate::support::infra(
        &dir,
        &[
            "eval",
            "--strict",
            "-E",
            "(import <infra>).lib.policy.window { timeZone = \"Europe/Berln\"; } { stack = \"p\"; now.epoch = 0; }",
        ],
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("`Europe/Berln` is not a time zone infra knows"), "{text}");
}

#[test]
fn a_policy_in_the_language_and_one_in_rego_judge_alike() {
    // The same rule written by hand, on a component, with a warning besides.
    let main = GUARDED
        .replace(
            "prod = infra.stack \"prod\" {\n    policies = [\n      (policy.noDestroy { })\n      (policy.window { days = [ \"mon\" \"tue\" \"wed\" \"thu\" \"fri\" ]; from = 9; to = 17; })\n    ];",
            "prod = infra.stack \"prod\" {",
        )
        .replace(
            "inputs = { names = [ \"a\" \"b\" ]; value = \"v1\"; }; };",
            r#"inputs = { names = [ "a" "b" ]; value = "v1"; };
    policies = [
      (input: if input.stack != "prod" || input.flags.allowDestroy then [ ] else
        map (c: { deny = "`${c.address}` would be deleted"; address = c.address; })
          (builtins.filter (c: builtins.elem "delete" c.actions) input.changes))
      (input: [ { warn = "${input.user} changes ${toString (builtins.length input.changes)} resource(s) at ${toString input.now.hour}h"; } ])
    ];
  };"#,
        );
    let main = main.replace(
        "      (input: [ { warn = ",
        "      (infra.lib.policy.rego ./deletes.rego \"data.infra.deny\")\n      (input: [ { warn = ",
    );
    let project = Project::new("policies-language", &main);
    std::fs::write(
        project.dir.join("deletes.rego"),
        r#"package infra

deny contains {"msg": concat("", ["`", c.address, "` would be deleted"]), "address": c.address} if {
	input.stack == "prod"
	not input.flags.allowDestroy
	some c in input.changes
	"delete" in c.actions
}
"#,
    )
    .expect("write the Rego policy");
    let first = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let event = &finished(&first)["prod/things"];
    assert_eq!(event["verdicts"][0]["kind"], "warn", "{event}");
    assert_eq!(event["verdicts"][0]["message"], "alice changes 2 resource(s) at 10h");
    assert_eq!(event["verdicts"].as_array().map(Vec::len), Some(1), "{event}");
    // The warning is recorded with the apply.
    let record = std::fs::read_to_string(project.dir.join(".infra/records/prod/things.json"))
        .expect("the record");
    assert!(record.contains("alice changes 2 resource(s)"), "{record}");
    project.edit("[ \"a\" \"b\" ]", "[ \"a\" ]");
    let denied = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(denied.status.code(), Some(1));
    let event = &finished(&denied)["prod/things"];
    assert_eq!(event["status"], "denied");
    // The policy in the language (1) and the Rego one (2) say the same.
    let verdicts = event["verdicts"].as_array().cloned().unwrap_or_default();
    let denies: Vec<&serde_json::Value> = verdicts.iter().filter(|v| v["kind"] == "deny").collect();
    assert_eq!(denies.len(), 2, "{event}");
    assert_eq!((denies[0]["policy"].clone(), denies[1]["policy"].clone()), (1.into(), 2.into()));
    for deny in &denies {
        assert_eq!(deny["address"], "infratest_thing.each[\"b\"]");
        assert_eq!(deny["message"], "`infratest_thing.each[\"b\"]` would be deleted");
    }
    assert_eq!(status(&denied, "dev/things"), "applied");
    // A policy that fails is an error of its own, with where.
    project.edit("[ { warn = ", "[ { warn = builtins.throw \"broken\"; x = ");
    let broken = project.infra(&["apply", "--auto-approve", "--json", "--allow-destroy"], TUESDAY);
    let event = &finished(&broken)["prod/things"];
    assert_eq!(event["code"], "infra::policy::error", "{event}");
    let message = event["message"].as_str().unwrap_or_default();
    assert!(message.contains("broken") && message.contains("main.infra:"), "{message}");
}

#[test]
fn approvals_hold_a_plan_until_enough_people_approved_exactly_it() {
    let main = GUARDED
        .replace(
            "    policies = [\n      (policy.noDestroy { })\n      (policy.window { days = [ \"mon\" \"tue\" \"wed\" \"thu\" \"fri\" ]; from = 9; to = 17; })\n    ];",
            "    approval = { required = true; minApprovers = 2; };",
        );
    assert!(main.contains("minApprovers"));
    let project = Project::new("policies-approval", &main);
    let creates = |p: &Project| p.ledger().iter().filter(|l| l.starts_with("create")).count();
    // Nothing is approved: prod's plan is kept and waits; dev applies.
    let first = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let event = &finished(&first)["prod/things"];
    assert_eq!(event["status"], "awaiting-approval", "{event}");
    assert!(
        event["message"].as_str().unwrap_or_default().contains("awaiting approval: 0 of 2"),
        "{event}"
    );
    assert_eq!(status(&first, "dev/things"), "applied");
    assert_eq!(creates(&project), 2, "dev only");
    let not_needed = project.infra(&["approve", "dev/things"], TUESDAY);
    assert!(String::from_utf8_lossy(&not_needed.stderr).contains("infra::approve::not_required"));

    // Alice approves (twice: it counts once), the apply still waits; Bob approves, it goes.
    let alice = project.infra_as("alice", &["approve", "prod/things"], TUESDAY);
    assert!(alice.status.success(), "{}", String::from_utf8_lossy(&alice.stderr));
    let text = String::from_utf8_lossy(&alice.stdout);
    assert!(text.contains("+ infratest_thing.each[\"a\"] (create)"), "{text}");
    assert!(text.contains("approved: 1 of 2 (alice); 1 more needed"), "{text}");
    let again = project.infra_as("alice", &["approve", "prod/things"], TUESDAY);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already approved by you: 1 of 2"));
    let waiting = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(status(&waiting, "prod/things"), "awaiting-approval");
    assert_eq!(creates(&project), 2);
    let bob = project.infra_as("bob", &["approve", "prod/things", "--json"], TUESDAY);
    let bob: serde_json::Value = serde_json::from_slice(&bob.stdout).expect("JSON");
    assert_eq!(bob["approvedBy"], serde_json::json!(["alice", "bob"]));
    let applied = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let event = &finished(&applied)["prod/things"];
    assert_eq!(event["status"], "applied", "{event}");
    let notes = event["notes"].to_string();
    assert!(notes.contains("approved by alice, bob") && notes.contains("as it was"), "{notes}");
    assert_eq!(creates(&project), 4);
    assert!(!project.dir.join(".infra/approvals/prod/things.json").exists(), "used up");

    // A new plan: the approval of the one before it is void, and the apply says so.
    project.edit("value = \"v1\"", "value = \"v2\"");
    let waits = project.infra(&["apply", "--auto-approve", "--json", "prod/things"], TUESDAY);
    assert_eq!(status(&waits, "prod/things"), "awaiting-approval");
    project.infra_as("alice", &["approve", "prod/things"], TUESDAY);
    project.edit("value = \"v2\"", "value = \"v3\"");
    let stale = project.infra(&["apply", "--auto-approve", "--json", "prod/things"], TUESDAY);
    let event = &finished(&stale)["prod/things"];
    assert_eq!(event["status"], "awaiting-approval", "{event}");
    let message = event["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("0 of 2") && message.contains("1 approval of an earlier plan is void"),
        "{message}"
    );
    assert!(!project.ledger().iter().any(|l| l == "update a"), "nothing unapproved applied");

    // Only the listed approvers count: alice is refused (and alice's earlier approval of an
    // older plan is void anyway), carol's approval is enough.
    project.edit("minApprovers = 2; }", "minApprovers = 1; approvers = [ \"carol\" ]; }");
    let waits = project.infra(&["apply", "--auto-approve", "--json", "prod/things"], TUESDAY);
    assert_eq!(status(&waits, "prod/things"), "awaiting-approval");
    let refused = project.infra_as("alice", &["approve", "prod/things"], TUESDAY);
    assert_eq!(refused.status.code(), Some(1));
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("infra::approve::not_allowed")
            && text.contains("`alice` may not approve it: its approvers are `carol`"),
        "{text}"
    );
    let carol = project.infra_as("carol", &["approve", "prod/things"], TUESDAY);
    assert!(String::from_utf8_lossy(&carol.stdout).contains("approved: 1 of 1 (carol)"));
    let applied = project.infra(&["apply", "--auto-approve", "--json", "prod/things"], TUESDAY);
    assert_eq!(
        status(&applied, "prod/things"),
        "applied",
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    assert_eq!(project.ledger().iter().filter(|l| *l == "update a").count(), 1);
    // An approval no listed person could ever give is an error of the project.
    project.edit("minApprovers = 1;", "minApprovers = 2;");
    let impossible = project.infra(&["plan"], TUESDAY);
    let text = String::from_utf8_lossy(&impossible.stderr);
    assert!(text.contains("lists only 1 user: no plan could ever be approved"), "{text}");
}

#[test]
fn a_destroy_needs_its_own_approvals() {
    let main = GUARDED.replace(
        "    policies = [\n      (policy.noDestroy { })\n      (policy.window { days = [ \"mon\" \"tue\" \"wed\" \"thu\" \"fri\" ]; from = 9; to = 17; })\n    ];",
        "    approval = { required = true; minApprovers = 2; };",
    );
    assert!(main.contains("minApprovers"));
    let project = Project::new("policies-approval-destroy", &main);
    let deletes = |p: &Project| p.ledger().iter().filter(|l| l.starts_with("delete")).count();
    project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    project.infra_as("alice", &["approve", "prod/things"], TUESDAY);
    project.infra_as("bob", &["approve", "prod/things"], TUESDAY);
    let applied = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(status(&applied, "prod/things"), "applied");

    // One person cannot destroy it alone: the destroy waits, nothing is deleted.
    let alone = project.infra_as(
        "mallory",
        &["destroy", "prod/things", "--auto-approve", "--json"],
        TUESDAY,
    );
    let event = &finished(&alone)["prod/things"];
    assert_eq!(event["status"], "awaiting-approval", "{event}");
    let message = event["message"].as_str().unwrap_or_default();
    assert!(message.contains("`infra approve --destroy prod/things`"), "{message}");
    assert_eq!(deletes(&project), 0);
    // The apply's approvals do not count for a destroy; two of the destroy do.
    let alice = project.infra_as("alice", &["approve", "--destroy", "prod/things"], TUESDAY);
    let text = String::from_utf8_lossy(&alice.stdout);
    assert!(
        text.contains("prod/things: destroy as applied") && text.contains("1 more needed"),
        "{text}"
    );
    let still = project.infra(&["destroy", "prod/things", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(status(&still, "prod/things"), "awaiting-approval");
    project.infra_as("bob", &["approve", "--destroy", "prod/things"], TUESDAY);
    let destroyed = project.infra(&["destroy", "prod/things", "--auto-approve", "--json"], TUESDAY);
    let event = &finished(&destroyed)["prod/things"];
    assert_eq!(event["status"], "destroyed", "{event}");
    assert!(event["notes"].to_string().contains("destroy approved by alice, bob"), "{event}");
    assert_eq!(deletes(&project), 2);
    assert!(!project.dir.join(".infra/approvals/prod/things.json").exists(), "used up");
}

#[test]
fn a_destroy_is_judged_whole_before_anything_is_destroyed() {
    // `app` reads `things`: destroying `things` destroys `app` first. Only `things` forbids
    // deletes, so its destroy is denied, and then `app` must still be there.
    let main = r#"let
  policy = infra.lib.policy;
  things = infra.component "things" {
    source = ./modules/things;
    inputs = { names = [ "a" "b" ]; value = "v1"; };
    policies = [ (policy.noDestroy { }) ];
  };
  app = infra.component "app" {
    source = ./modules/things;
    inputs = { names = [ "x${toString things.outputs.count}" ]; value = "v1"; };
  };
in { prod = infra.stack "prod" { components = [ things app ]; }; }
"#;
    let project = Project::new("policies-destroy-whole", main);
    let deletes = |p: &Project| p.ledger().iter().filter(|l| l.starts_with("delete")).count();
    let applied = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(
        status(&applied, "prod/app"),
        "applied",
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );

    let denied = project.infra(&["destroy", "prod/things", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(denied.status.code(), Some(1));
    let events = finished(&denied);
    assert_eq!(events["prod/things"]["status"], "denied", "{events:?}");
    let app = &events["prod/app"];
    assert_eq!(app["status"], "skipped", "{app}");
    let message = app["message"].as_str().unwrap_or_default();
    assert!(message.contains("it depends on `prod/things`, which is not destroyed"), "{message}");
    assert_eq!(deletes(&project), 0, "nothing destroyed");

    // Let through: dependents first, then the target.
    let allowed = project
        .infra(&["destroy", "prod/things", "--auto-approve", "--json", "--allow-destroy"], TUESDAY);
    let events = finished(&allowed);
    assert_eq!(events["prod/app"]["status"], "destroyed", "{events:?}");
    assert_eq!(events["prod/things"]["status"], "destroyed", "{events:?}");
    assert_eq!(deletes(&project), 3);
}

#[test]
fn a_destroy_waiting_for_approval_keeps_what_it_depends_on() {
    // `app` reads `things` and needs an approval: destroying both, `app` waits for it, and
    // `things` must stay under it.
    let main = r#"let
  things = infra.component "things" {
    source = ./modules/things;
    inputs = { names = [ "a" ]; value = "v1"; };
  };
  app = infra.component "app" {
    source = ./modules/things;
    inputs = { names = [ "x${toString things.outputs.count}" ]; value = "v1"; };
    approval = { required = true; minApprovers = 1; };
  };
in { prod = infra.stack "prod" { components = [ things app ]; }; }
"#;
    let project = Project::new("policies-destroy-keeps-upstream", main);
    let deletes = |p: &Project| p.ledger().iter().filter(|l| l.starts_with("delete")).count();
    project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    project.infra_as("bob", &["approve", "prod/app"], TUESDAY);
    let applied = project.infra(&["apply", "--auto-approve", "--json"], TUESDAY);
    assert_eq!(status(&applied, "prod/app"), "applied");

    let destroy = project.infra(&["destroy", "prod", "--auto-approve", "--json"], TUESDAY);
    let events = finished(&destroy);
    assert_eq!(events["prod/app"]["status"], "awaiting-approval", "{events:?}");
    let things = &events["prod/things"];
    assert_eq!(things["status"], "skipped", "{things}");
    assert!(things["message"].as_str().unwrap_or_default().contains("`prod/app` depends on it"));
    assert_eq!(deletes(&project), 0, "nothing destroyed");
}
