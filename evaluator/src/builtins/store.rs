//! What Nix's builtins do with its store, as stand-ins that keep pure library code working.
//! infra has no Nix store: `derivation` returns the set Nix returns, with store paths made
//! from a hash of its attributes (not Nix's paths); `toFile` and `placeholder` give exactly
//! Nix's paths (they depend on nothing but their arguments); string contexts of store paths
//! do not exist here (`getContext` is `{ }`); the fetchers and `storePath` fail and say why.
//! Reading a stand-in path fails with a message that says it is one (`error::io_error`).

use alloc_shim::thin::RcStr;
use std::rc::Rc;

use sha2::{Digest, Sha256};

use crate::{
    builtins::{self, bad},
    error::EvalResult,
    eval::Machine,
    value::{Attrs, NixString, Thunk, Value},
};

pub(crate) const STORE_DIR: &str = "/nix/store";

/// Nix's base-32 alphabet (no e, o, u, t).
const BASE32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Nix's base-32 text of `bytes` (last byte first, five bits at a time).
fn base32(bytes: &[u8]) -> String {
    let len = (bytes.len() * 8 - 1) / 5 + 1;
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let (i, j) = (b / 8, b % 8);
        let low = u16::from(bytes[i]) >> j;
        let high = bytes.get(i + 1).map_or(0, |&next| u16::from(next) << (8 - j));
        out.push(BASE32[((low | high) & 0x1f) as usize] as char);
    }
    out
}

/// A store path as Nix makes it: `type:sha256:HASH:/nix/store:NAME`, hashed, folded to 20
/// bytes.
fn store_path(kind: &str, hash: &[u8], name: &str) -> String {
    let text = format!("{kind}:sha256:{}:{STORE_DIR}:{name}", hex(hash));
    let full = Sha256::digest(text.as_bytes());
    let mut folded = [0u8; 20];
    for (i, byte) in full.iter().enumerate() {
        folded[i % 20] ^= byte;
    }
    format!("{STORE_DIR}/{}-{name}", base32(&folded))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `toFile name text`: the path Nix would write `text` to (nothing is written).
pub(super) fn to_file(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    let text = builtins::string(m, &args[1])?;
    let hash = Sha256::digest(text.as_str().as_bytes());
    Ok(Value::string(&store_path("text", &hash, name.as_str())))
}

/// `placeholder output`: Nix's placeholder for an output path.
pub(super) fn placeholder(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let output = builtins::string(m, &args[0])?;
    let hash = Sha256::digest(format!("nix-output:{}", output.as_str()).as_bytes());
    Ok(Value::string(&format!("/{}", base32(&hash))))
}

/// `derivationStrict attrs`: `{ drvPath; OUTPUT = path; … }` for each of `outputs`, from a
/// hash of the name and of every attribute as Nix passes it to a builder (coerced to strings).
pub(super) fn derivation_strict(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let attrs = builtins::attrs(m, &args[0])?;
    let Some(name) = attrs.get("name").cloned() else {
        return Err(bad("derivation", "a derivation needs a `name`".into()));
    };
    let name = builtins::string(m, &name)?.as_str().to_owned();
    let ignore_nulls = match attrs.get("__ignoreNulls").cloned() {
        Some(t) => matches!(m.force(&t)?, Value::Bool(true)),
        None => false,
    };
    let mut hasher = Sha256::new();
    let mut outputs = vec!["out".to_owned()];
    for (key, thunk) in attrs.iter() {
        let value = m.force(thunk)?;
        if ignore_nulls && matches!(value, Value::Null) {
            continue;
        }
        if &**key == "outputs" {
            let Value::List(items) = &value else {
                return Err(bad("derivation", "`outputs` is not a list".into()));
            };
            outputs.clear();
            for item in items.iter() {
                outputs.push(builtins::string(m, item)?.as_str().to_owned());
            }
        }
        let text = m.coerce_to_string(&value, true, None)?;
        hasher.update(format!("{}={}\0", key.len(), key).as_bytes());
        hasher.update(format!("{}={}\0", text.as_str().len(), text.as_str()).as_bytes());
    }
    let hash = hasher.finalize();
    let mut entries: Vec<(RcStr, Thunk)> = Vec::new();
    for output in &outputs {
        let suffix = if output == "out" { String::new() } else { format!("-{output}") };
        let path = store_path(&format!("output:{output}"), &hash, &format!("{name}{suffix}"));
        entries.push((output.as_str().into(), Thunk::value(Value::string(&path))));
    }
    let drv = store_path("infra-derivation", &hash, &format!("{name}.drv"));
    entries.push(("drvPath".into(), Thunk::value(Value::string(&drv))));
    Ok(Value::attrs(Attrs::from_entries(entries)))
}

/// The derivation set around `derivationStrict`, as Nix builds it: one set per output, each
/// the attributes plus `outPath`, `drvPath`, `outputName`, `type = "derivation"`, every
/// output by name and `all`; the first output's is the result.
pub(crate) const DERIVATION: &str = r#"attrs:
  let
    strict = builtins.derivationStrict attrs;
    names = attrs.outputs or [ "out" ];
    byName = builtins.listToAttrs (map (name: { inherit name; value = forOutput name; }) names);
    shared = attrs // byName // { all = map (name: byName.${name}) names; drvAttrs = attrs; };
    forOutput = name: shared // {
      outPath = strict.${name};
      drvPath = strict.drvPath;
      outputName = name;
      type = "derivation";
    };
  in byName.${builtins.head names}"#;

/// `unsafeDiscardStringContext`, `unsafeDiscardOutputDependency`: infra's strings carry no
/// store context, and infra's own contexts (outputs, secrets) are kept: they are not Nix's.
pub(super) fn identity_string(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    Ok(Value::String(builtins::string(m, &args[0])?))
}

/// `hasContext s`: never a store context.
pub(super) fn has_context(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    builtins::string(m, &args[0])?;
    Ok(Value::Bool(false))
}

/// `getContext s`: `{ }`.
pub(super) fn get_context(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    builtins::string(m, &args[0])?;
    Ok(Value::attrs(Attrs::default()))
}

/// `appendContext s context`: `s`.
pub(super) fn append_context(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let s = builtins::string(m, &args[0])?;
    builtins::attrs(m, &args[1])?;
    Ok(Value::String(s))
}

/// The builtins that need a store or the network: a clear error.
macro_rules! needs_store {
    ($($fn:ident => $name:literal),* $(,)?) => {$(
        pub(super) fn $fn(_: &mut Machine, _: &[Thunk]) -> EvalResult<Value> {
            Err(bad($name, format!(
                "`{}` needs a Nix store, which infra does not have: infra evaluates \
                 configuration, it does not build or fetch",
                $name
            )))
        }
    )*};
}

needs_store! {
    fetch_git => "fetchGit",
    fetch_mercurial => "fetchMercurial",
    fetch_tarball => "fetchTarball",
    fetch_tree => "fetchTree",
    fetchurl => "fetchurl",
    filter_source => "filterSource",
    path => "path",
    store_path_ => "storePath",
}

/// `findFile searchPath name`: the first entry whose `prefix` matches, as Nix looks it up
/// (infra's own search paths, `<infra>`, are not in `nixPath`).
pub(super) fn find_file(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let entries = builtins::list(m, &args[0])?;
    let wanted = builtins::string(m, &args[1])?.as_str().to_owned();
    for entry in entries.iter() {
        let entry = builtins::attrs(m, entry)?;
        let prefix = match entry.get("prefix").cloned() {
            Some(t) => builtins::string(m, &t)?.as_str().to_owned(),
            None => String::new(),
        };
        let Some(path) = entry.get("path").cloned() else { continue };
        let path = builtins::string(m, &path)?.as_str().to_owned();
        let rest = if prefix.is_empty() {
            Some(wanted.as_str())
        } else if wanted == prefix {
            Some("")
        } else {
            wanted.strip_prefix(&format!("{prefix}/"))
        };
        if let Some(rest) = rest {
            let candidate = if rest.is_empty() { path } else { format!("{path}/{rest}") };
            let candidate = std::path::PathBuf::from(candidate);
            m.record(crate::io::Input::Exists(candidate.clone()));
            if m.io.path_exists(&candidate).unwrap_or(false) {
                return Ok(Value::Path(Rc::new(candidate)));
            }
        }
    }
    Err(crate::error::EvalError::new(
        crate::error::ErrorKind::Io {
            path: format!("<{wanted}>"),
            message: "not found in the search path".into(),
        },
        None,
    ))
}

/// `parseDrvName s`: `{ name; version; }`, split at the first `-` not followed by a letter.
pub(super) fn parse_drv_name(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let text = builtins::string(m, &args[0])?;
    let text = text.as_str();
    let bytes = text.as_bytes();
    let split = (0..bytes.len())
        .find(|&i| bytes[i] == b'-' && bytes.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic()));
    let (name, version) = match split {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    Ok(Value::attrs(Attrs::from_sorted(vec![
        ("name".into(), Thunk::value(Value::string(name))),
        ("version".into(), Thunk::value(Value::string(version))),
    ])))
}

/// `toPath s`: the absolute path `s` names, canonical, as a string (as in Nix).
pub(super) fn to_path(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let text = m.coerce_to_string(&value, false, None)?;
    if !text.as_str().starts_with('/') {
        return Err(bad("toPath", format!("`{}` is not an absolute path", text.as_str())));
    }
    let canonical = crate::lower::canonical_path(text.as_str());
    Ok(Value::String(NixString::new(canonical.into(), text.context().cloned())))
}

/// `unsafeGetAttrPos name set`: `{ file; line; column; }` of where a set literal writes the
/// attribute; `null` for a set a builtin (`listToAttrs`, `removeAttrs`, `intersectAttrs`, …)
/// or `//` made, where Nix would still know (infra keeps positions per literal, not per
/// attribute).
pub(super) fn unsafe_get_attr_pos(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let name = builtins::string(m, &args[0])?;
    let attrs = builtins::attrs(m, &args[1])?;
    if attrs.get(name.as_str()).is_none() {
        return Ok(Value::Null);
    }
    let position = attrs.origin().and_then(|origin| m.attr_position(origin, name.as_str()));
    Ok(position.unwrap_or(Value::Null))
}

/// `addErrorContext message value`: the value; an error while forcing it carries the message
/// as context ("while …"), as in Nix's traces.
pub(super) fn add_error_context(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let site = m.call_site;
    m.force(&args[1]).map_err(|mut error| {
        if let (Some(site), Ok(Value::String(message))) = (site, m.force(&args[0])) {
            error.trace.push((site, message.as_str().to_owned()));
        }
        error
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_paths_are_nix_s() {
        let hash = Sha256::digest(b"b");
        assert_eq!(store_path("text", &hash, "a"), "/nix/store/g76zcpqc540lrc8i6g7xy6ip0npn2hnp-a");
        let placeholder = Sha256::digest(b"nix-output:out");
        assert_eq!(
            format!("/{}", base32(&placeholder)),
            "/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9"
        );
    }
}
