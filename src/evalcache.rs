//! The evaluation cache, beside the IO that records what evaluation read (`io.rs`): the last
//! evaluation's `Project`, keyed by what it read. A record lists
//! every input (files by content hash, directory listings, existence checks, environment
//! variables by the hash of their value — never the value), and is fresh when every input still
//! hashes the same; then `infra build` skips evaluation. The record is a versioned JSON wire
//! type: the project as the evaluator's types serialise it.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use evaluator::{Input, Json, Project};
use serde_json::json;
use store::Digest;

/// The wire format version; a record of another version is ignored.
const VERSION: u64 = 9;

/// Where the cache lives under the project's `.infra/`.
pub(crate) fn eval_cache_path(project_root: &Path) -> PathBuf {
    runner::Layout::new(project_root).eval_cache()
}

/// Stores `project` with the hashes of `inputs`. `key` names what else the result depends on
/// (the binary's version, the embedded library). Failures are ignored: a cache is optional.
/// `read`: the hashes of the bytes evaluation actually read, by path (a file edited while
/// evaluation ran is then recorded as it was read, and the next build sees the change).
pub(crate) fn save_evaluation(
    path: &Path,
    key: &str,
    inputs: &[Input],
    read: &BTreeMap<PathBuf, String>,
    env: &dyn Fn(&str) -> Option<String>,
    project: &Project,
) {
    let described = inputs.iter().map(|input| match input {
        Input::File(file) if read.contains_key(file) => Some(json!({
            "kind": "file",
            "name": file.to_str()?,
            "digest": read[file],
        })),
        _ => describe(input, env),
    });
    let Some(inputs) = described.collect::<Option<Vec<_>>>() else {
        return;
    };
    let record = json!({
        "version": VERSION,
        "key": key,
        "inputs": inputs,
        "project": project_to_json(project),
    });
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let _ = store::fsutil::write_atomic(path, record.to_string().as_bytes(), false);
}

/// The cached project, if the record exists, has this `key`, and every input is unchanged.
pub(crate) fn load_evaluation(
    path: &Path,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Project> {
    let text = fs::read(path).ok()?;
    let record: Json = serde_json::from_slice(&text).ok()?;
    if record["version"].as_u64() != Some(VERSION) || record["key"].as_str() != Some(key) {
        return None;
    }
    for input in record["inputs"].as_array()? {
        let kind = input["kind"].as_str()?;
        let name = input["name"].as_str()?;
        let now = match kind {
            "file" => describe(&Input::File(name.into()), env),
            "dir" => describe(&Input::Dir(name.into()), env),
            "exists" => describe(&Input::Exists(name.into()), env),
            "env" => describe(&Input::Env(name.to_owned()), env),
            _ => None,
        }?;
        if now != *input {
            return None;
        }
    }
    project_from_json(&record["project"])
}

/// An input with the hash of what it read now.
fn describe(input: &Input, env: &dyn Fn(&str) -> Option<String>) -> Option<Json> {
    Some(match input {
        Input::File(path) => {
            let digest = match fs::read(path) {
                Ok(bytes) => Digest::of(&bytes).to_hex(),
                Err(_) => "missing".to_owned(),
            };
            json!({ "kind": "file", "name": path.to_str()?, "digest": digest })
        }
        Input::Dir(path) => {
            let mut names: Vec<String> = match fs::read_dir(path) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .map(|e| {
                        let ty = e
                            .file_type()
                            .map(|t| {
                                if t.is_symlink() {
                                    "l"
                                } else if t.is_dir() {
                                    "d"
                                } else {
                                    "f"
                                }
                            })
                            .unwrap_or("?");
                        format!("{}:{ty}", e.file_name().to_string_lossy())
                    })
                    .collect(),
                Err(_) => vec!["missing".to_owned()],
            };
            names.sort();
            json!({ "kind": "dir", "name": path.to_str()?, "digest": Digest::of(names.join("\n").as_bytes()).to_hex() })
        }
        Input::Exists(path) => {
            json!({ "kind": "exists", "name": path.to_str()?, "digest": path.exists().to_string() })
        }
        Input::Env(name) => {
            // The value may be a secret: only its hash is kept.
            let digest = match env(name) {
                Some(value) => Digest::of(value.as_bytes()).to_hex(),
                None => "unset".to_owned(),
            };
            json!({ "kind": "env", "name": name, "digest": digest })
        }
    })
}

/// The JSON form of a project (stacks, placed nodes, inputs, references), as the evaluation
/// cache stores it; the project conformance tests compare it too.
fn project_to_json(project: &Project) -> Json {
    serde_json::to_value(project).unwrap_or_default()
}

fn project_from_json(json: &Json) -> Option<Project> {
    serde_json::from_value(json.clone()).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use evaluator::{
        Action, Backend, Check, Component, File, Hook, HookWhen, Kind, OutputRef, Retries,
        SecretRef, Stack, Step, Terraform,
    };

    use super::*;

    #[test]
    fn a_project_survives_the_round_trip() {
        let terraform = Terraform {
            source: Some("/p/modules/vpc".into()),
            providers: BTreeMap::from([("google".into(), json!({ "region": "eu" }))]),
            backend: Backend {
                ty: "s3".into(),
                config: BTreeMap::from([("bucket".into(), json!("b"))]),
            },
            files: BTreeMap::from([
                ("a.txt".into(), File::Text("hi".into())),
                ("b.json".into(), File::Json(json!({ "k": 1 }))),
                ("c".into(), File::Copy("/p/c".into())),
                ("d.tf.json".into(), File::RemoteState("shared/dns".into())),
            ]),
            tool: Some("terraform".into()),
            templates: BTreeMap::from([("a.txt".into(), "/p/a.txt.in".into())]),
            policies: 2,
            approval: Some(evaluator::Approval {
                min_approvers: 2,
                approvers: vec!["alice".into()],
            }),
            siblings: vec![evaluator::LocalModule {
                path: "modules/shared".into(),
                dir: "/p/modules/shared".into(),
            }],
            rewrites: vec![evaluator::SourceRewrite {
                file: "main.tf".into(),
                start: 3,
                end: 14,
                was: "\"../shared\"".into(),
                source: "\"./.infra-modules/modules/shared\"".into(),
            }],
        };
        let node = |name: &str, kind: Kind| Component {
            stack: "dev".into(),
            name: name.into(),
            inputs: BTreeMap::from([(
                "x".into(),
                json!([1, "a", { "b": null }, 632.0 / 7.0, 0.1, u64::MAX, i64::MIN]),
            )]),
            depends_on: BTreeSet::from(["shared/dns".into()]),
            reads: BTreeSet::from([OutputRef {
                address: "shared/dns".into(),
                output: "zone".into(),
            }]),
            secrets: BTreeSet::from([SecretRef {
                file: "/p/s.age".into(),
                key: "db.pw".into(),
                name: "s.age".into(),
            }]),
            required_outputs: BTreeSet::from(["id".into()]),
            mock_outputs: BTreeMap::from([("id".into(), json!("mock"))]),
            rerun_after: BTreeSet::from(["shared/dns".into()]),
            kind,
            span: None, // not cached: only the language server reads it
        };
        let step = Step {
            action: Action::Run(vec!["make".into(), "<infra-output:dev/vpc:id>".into()]),
            src: Some("/p/app".into()),
            env: BTreeMap::from([("A".into(), json!(1.5))]),
            timeout_ms: Some(1500),
            retries: Retries { attempts: 3, delay_ms: 10, on: Some("timed out".into()) },
            destroy: vec!["rm".into()],
            hook: None,
        };
        let hook = Step {
            hook: Some(Hook { owner: "dev/vpc".into(), when: HookWhen::PostApply }),
            ..step.clone()
        };
        let wait = Step {
            action: Action::Wait { check: Check::Tcp("127.0.0.1:22".into()), interval_ms: 5 },
            ..step.clone()
        };
        let components = vec![
            node("vpc", Kind::Terraform(terraform)),
            node("build", Kind::Step(step)),
            node("ready", Kind::Step(wait)),
            node("vpc.postApply", Kind::Step(hook)),
        ];
        let project = Project { stacks: vec![Stack { name: "dev".into(), components }] };
        assert_eq!(project_from_json(&project_to_json(&project)), Some(project));
    }
}
