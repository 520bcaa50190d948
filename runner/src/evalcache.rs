//! The evaluation cache: the last evaluation's `Project`, keyed by what it read. A record lists
//! every input (files by content hash, directory listings, existence checks, environment
//! variables by the hash of their value — never the value), and is fresh when every input still
//! hashes the same; then `infra build` skips evaluation. The record is a versioned JSON wire
//! type, converted by hand from the evaluator's types (which are not serialisable).

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use evaluator::{
    Backend, Component, File, Hooks, Input, Json, OutputRef, Project, SecretRef, Stack,
};
use serde_json::json;
use store::Digest;

/// The wire format version; a record of another version is ignored.
const VERSION: u64 = 3;

/// Where the cache lives under the project's `.infra/`.
pub fn eval_cache_path(project_root: &Path) -> PathBuf {
    project_root.join(".infra").join("cache").join("eval.json")
}

/// Stores `project` with the hashes of `inputs`. `key` names what else the result depends on
/// (the binary's version, the embedded library). Failures are ignored: a cache is optional.
/// `read`: the hashes of the bytes evaluation actually read, by path (a file edited while
/// evaluation ran is then recorded as it was read, and the next build sees the change).
pub fn save_evaluation(
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
pub fn load_evaluation(
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

/// The JSON form of a project (stacks, placed components, inputs, references), as the
/// evaluation cache stores it; the project conformance tests compare it too.
pub fn project_to_json(project: &Project) -> Json {
    let stacks: Vec<Json> = project
        .stacks
        .iter()
        .map(|stack| {
            let components: Vec<Json> = stack.components.iter().map(component_to_json).collect();
            json!({ "name": stack.name, "components": components })
        })
        .collect();
    json!({ "stacks": stacks })
}

fn component_to_json(c: &Component) -> Json {
    let files: serde_json::Map<String, Json> = c
        .files
        .iter()
        .map(|(name, file)| {
            let value = match file {
                File::Text(text) => json!({ "text": text }),
                File::Json(value) => json!({ "json": value }),
                File::Copy(path) => json!({ "copy": path.to_string_lossy() }),
                File::RemoteState(address) => json!({ "remoteState": address }),
            };
            (name.clone(), value)
        })
        .collect();
    let mut json = json!({
        "stack": c.stack,
        "name": c.name,
        "source": c.source.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "inputs": c.inputs,
        "providers": c.providers,
        "backend": { "type": c.backend.ty, "config": c.backend.config },
        "files": files,
        "dependsOn": c.depends_on,
        "reads": c.reads.iter().map(|r| json!([r.address, r.output])).collect::<Vec<_>>(),
        "secrets": c.secrets.iter().map(|s| json!([s.file.to_string_lossy(), s.key, s.name])).collect::<Vec<_>>(),
        "requiredOutputs": c.required_outputs,
        "mockOutputs": c.mock_outputs,
        "hooks": { "prePlan": c.hooks.pre_plan, "postApply": c.hooks.post_apply },
        "tool": c.tool,
    });
    // Only when there are any: most components have none.
    if !c.templates.is_empty() {
        let templates: serde_json::Map<String, Json> = c
            .templates
            .iter()
            .map(|(k, v)| (k.clone(), Json::from(v.to_string_lossy().into_owned())))
            .collect();
        json["templates"] = Json::Object(templates);
    }
    json
}

fn project_from_json(json: &Json) -> Option<Project> {
    let mut stacks = Vec::new();
    for stack in json["stacks"].as_array()? {
        let components = stack["components"]
            .as_array()?
            .iter()
            .map(component_from_json)
            .collect::<Option<Vec<_>>>()?;
        stacks.push(Stack { name: stack["name"].as_str()?.to_owned(), components });
    }
    Some(Project { stacks })
}

fn component_from_json(c: &Json) -> Option<Component> {
    let object = |v: &Json| -> Option<BTreeMap<String, Json>> {
        Some(v.as_object()?.clone().into_iter().collect())
    };
    let strings = |v: &Json| -> Option<Vec<String>> {
        v.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect()
    };
    let mut files = BTreeMap::new();
    for (name, file) in c["files"].as_object()? {
        let file = if let Some(text) = file["text"].as_str() {
            File::Text(text.to_owned())
        } else if let Some(path) = file["copy"].as_str() {
            File::Copy(PathBuf::from(path))
        } else if let Some(address) = file["remoteState"].as_str() {
            File::RemoteState(address.to_owned())
        } else {
            File::Json(file.get("json")?.clone())
        };
        files.insert(name.clone(), file);
    }
    let reads = c["reads"]
        .as_array()?
        .iter()
        .map(|r| {
            Some(OutputRef {
                address: r[0].as_str()?.to_owned(),
                output: r[1].as_str()?.to_owned(),
            })
        })
        .collect::<Option<BTreeSet<_>>>()?;
    let secrets = c["secrets"]
        .as_array()?
        .iter()
        .map(|s| {
            Some(SecretRef {
                file: PathBuf::from(s[0].as_str()?),
                key: s[1].as_str()?.to_owned(),
                name: s[2].as_str()?.to_owned(),
            })
        })
        .collect::<Option<BTreeSet<_>>>()?;
    Some(Component {
        stack: c["stack"].as_str()?.to_owned(),
        name: c["name"].as_str()?.to_owned(),
        source: c["source"].as_str().map(PathBuf::from),
        inputs: object(&c["inputs"])?,
        providers: object(&c["providers"])?,
        backend: Backend {
            ty: c["backend"]["type"].as_str()?.to_owned(),
            config: object(&c["backend"]["config"])?,
        },
        files,
        depends_on: strings(&c["dependsOn"])?.into_iter().collect(),
        reads,
        secrets,
        required_outputs: strings(&c["requiredOutputs"])?.into_iter().collect(),
        mock_outputs: object(&c["mockOutputs"])?,
        hooks: Hooks {
            pre_plan: strings(&c["hooks"]["prePlan"])?,
            post_apply: strings(&c["hooks"]["postApply"])?,
        },
        tool: c["tool"].as_str().map(str::to_owned),
        templates: c["templates"]
            .as_object()
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.clone(), PathBuf::from(v.as_str()?))))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_survives_the_round_trip() {
        let component = Component {
            stack: "dev".into(),
            name: "vpc".into(),
            source: Some("/p/modules/vpc".into()),
            inputs: BTreeMap::from([(
                "x".into(),
                json!([1, "a", { "b": null }, 632.0 / 7.0, 0.1]),
            )]),
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
            hooks: Hooks { pre_plan: vec!["a".into()], post_apply: vec![] },
            tool: Some("terraform".into()),
            templates: BTreeMap::from([("a.txt".into(), "/p/a.txt.in".into())]),
        };
        let project =
            Project { stacks: vec![Stack { name: "dev".into(), components: vec![component] }] };
        assert_eq!(project_from_json(&project_to_json(&project)), Some(project));
    }
}
