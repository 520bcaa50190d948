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

use evaluator::{Input, Project};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use store::Digest;

/// The wire format version; a record of another version is ignored.
const VERSION: u64 = 10;

/// One input of an evaluation and the hash of what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Described {
    kind: String,
    name: String,
    digest: String,
}

/// The record as written: the project serialised straight from its type.
#[derive(Serialize)]
struct RecordOut<'a> {
    version: u64,
    key: &'a str,
    inputs: Vec<Described>,
    project: &'a Project,
}

/// The record as read: the project is left as raw JSON until every input checked out.
#[derive(Deserialize)]
struct RecordIn<'a> {
    version: u64,
    key: &'a str,
    inputs: Vec<Described>,
    #[serde(borrow)]
    project: ProjectIn<'a>,
}

/// A project's stacks as raw JSON, each read on its own (in parallel).
#[derive(Deserialize)]
struct ProjectIn<'a> {
    #[serde(borrow)]
    stacks: Vec<&'a RawValue>,
}

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
        Input::File(file) if read.contains_key(file) => Some(Described {
            kind: "file".into(),
            name: file.to_str()?.to_owned(),
            digest: read[file].clone(),
        }),
        _ => describe(input, env),
    });
    let Some(inputs) = described.collect::<Option<Vec<_>>>() else {
        return;
    };
    let record = RecordOut { version: VERSION, key, inputs, project };
    let Ok(bytes) = serde_json::to_vec(&record) else {
        return;
    };
    if let Some(dir) = path.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let _ = store::fsutil::write_atomic(path, &bytes, false);
}

/// The cached project, if the record exists, has this `key`, and every input is unchanged.
pub(crate) fn load_evaluation(
    path: &Path,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Project> {
    let text = fs::read(path).ok()?;
    let record: RecordIn = serde_json::from_slice(&text).ok()?;
    if record.version != VERSION || record.key != key {
        return None;
    }
    for input in &record.inputs {
        let name = input.name.as_str();
        let now = match input.kind.as_str() {
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
    // Stacks in parallel: reading 10,000 components was a tenth of a no-op plan.
    use rayon::prelude::*;
    let stacks = record.project.stacks.par_iter().map(|raw| serde_json::from_str(raw.get()));
    Some(Project { stacks: stacks.collect::<Result<Vec<_>, _>>().ok()? })
}

/// An input with the hash of what it read now.
fn describe(input: &Input, env: &dyn Fn(&str) -> Option<String>) -> Option<Described> {
    let (kind, name, digest) = match input {
        Input::File(path) => {
            let digest = match fs::read(path) {
                Ok(bytes) => Digest::of(&bytes).to_hex(),
                Err(_) => "missing".to_owned(),
            };
            ("file", path.to_str()?, digest)
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
            ("dir", path.to_str()?, Digest::of(names.join("\n").as_bytes()).to_hex())
        }
        Input::Exists(path) => ("exists", path.to_str()?, path.exists().to_string()),
        Input::Env(name) => {
            // The value may be a secret: only its hash is kept.
            let digest = match env(name) {
                Some(value) => Digest::of(value.as_bytes()).to_hex(),
                None => "unset".to_owned(),
            };
            ("env", name.as_str(), digest)
        }
    };
    Some(Described { kind: kind.into(), name: name.into(), digest })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use evaluator::{
        Action, Backend, Check, Component, File, Hook, HookWhen, Kind, OutputRef, Retries,
        SecretRef, Stack, Step, Terraform,
    };

    use serde_json::json;

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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eval.json");
        let entry = dir.path().join("main.infra");
        fs::write(&entry, "{}").unwrap();
        let env = |_: &str| None;
        save_evaluation(
            &path,
            "k",
            &[Input::File(entry.clone())],
            &BTreeMap::new(),
            &env,
            &project,
        );
        assert_eq!(load_evaluation(&path, "k", &env), Some(project.clone()));
        assert_eq!(load_evaluation(&path, "other key", &env), None);
        fs::write(&entry, "{ }").unwrap();
        assert_eq!(load_evaluation(&path, "k", &env), None, "an input changed");
    }
}
