//! Secrets: age-encrypted JSON or YAML documents. This is the only code that sees plaintext:
//! the runner decrypts here, in memory, for the components that need a value, at run time;
//! evaluation only ever holds references. Errors never contain plaintext.
//!
//! Identities are age identity files (X25519 `AGE-SECRET-KEY-1…` lines); recipients are
//! X25519 public keys (`age1…`), one per line, `#` comments allowed.

use std::{
    fmt,
    io::{Read, Write},
    path::Path,
    str::FromStr,
};

use age::secrecy::ExposeSecret;
use evaluator::Json;

/// A recipient: an X25519 public key (`age1…`).
pub type Recipient = age::x25519::Recipient;

/// A secrets failure; the message names files and key paths, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError {
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SecretError {}

fn error(code: &'static str, message: String, help: Option<&str>) -> SecretError {
    SecretError { code, message, help: help.map(str::to_owned) }
}

/// The identities of an identity file.
pub struct Identities(Vec<Box<dyn age::Identity>>);

/// Reads an identity file.
pub fn load_identities(path: &Path) -> Result<Identities, SecretError> {
    let bytes = std::fs::read(path).map_err(|e| {
        error(
            "infra::secrets::no_identity",
            format!("cannot read the age identity `{}`: {e}", path.display()),
            Some("create one with `infra secrets keygen`, or point `INFRA_AGE_IDENTITY` at yours"),
        )
    })?;
    let file = age::IdentityFile::from_buffer(&bytes[..]).map_err(|e| {
        error(
            "infra::secrets::bad_identity",
            format!("`{}` is not an age identity file: {e}", path.display()),
            None,
        )
    })?;
    let identities = file.into_identities().map_err(|e| {
        error(
            "infra::secrets::bad_identity",
            format!("`{}` holds an unusable identity: {e}", path.display()),
            None,
        )
    })?;
    if identities.is_empty() {
        return Err(error(
            "infra::secrets::bad_identity",
            format!("`{}` holds no identity", path.display()),
            None,
        ));
    }
    Ok(Identities(identities))
}

/// A new X25519 identity: the identity file's text (with a comment holding the public key) and
/// the public key.
pub fn generate_identity() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let secret = identity.to_string();
    (format!("# public key: {public}\n{}\n", secret.expose_secret()), public)
}

/// Parses recipients (one `age1…` key per line; `#` comments and blank lines ignored).
pub fn parse_recipients(
    text: &str,
    origin: &str,
) -> Result<Vec<age::x25519::Recipient>, SecretError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let recipient = age::x25519::Recipient::from_str(line).map_err(|e| {
            error(
                "infra::secrets::bad_recipient",
                format!("{origin}:{}: not an age recipient ({e})", i + 1),
                Some("recipients are X25519 public keys: `age1…`"),
            )
        })?;
        out.push(recipient);
    }
    if out.is_empty() {
        return Err(error(
            "infra::secrets::no_recipients",
            format!("{origin} lists no recipients"),
            Some("add public keys (`infra secrets keygen` prints yours), one per line"),
        ));
    }
    Ok(out)
}

/// Encrypts `plaintext` to `recipients`, ASCII-armored (diff-friendly in git).
pub fn encrypt(
    plaintext: &[u8],
    recipients: &[age::x25519::Recipient],
) -> Result<Vec<u8>, SecretError> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| error("infra::secrets::encrypt", format!("cannot encrypt: {e}"), None))?;
    let mut out = Vec::new();
    let io =
        |e: std::io::Error| error("infra::secrets::encrypt", format!("cannot encrypt: {e}"), None);
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(io)?;
    let mut writer = encryptor.wrap_output(armor).map_err(io)?;
    writer.write_all(plaintext).map_err(io)?;
    writer.finish().and_then(|armor| armor.finish()).map_err(io)?;
    Ok(out)
}

/// Decrypts an age file (armored or binary). `name` is for messages.
pub fn decrypt(
    ciphertext: &[u8],
    identities: &Identities,
    name: &str,
) -> Result<Vec<u8>, SecretError> {
    let reader = age::armor::ArmoredReader::new(ciphertext);
    let decryptor = age::Decryptor::new(reader).map_err(|e| {
        // The library's words are for its own tool ("have you tried upgrading…?", "failed to
        // fill whole buffer"): say what the file is not, on one line.
        let text = ciphertext.trim_ascii_start();
        let headed = text.starts_with(b"age-encryption.org/")
            || text.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----");
        let why = match &e {
            _ if ciphertext.is_empty() => "it is empty".to_owned(),
            _ if !headed => "it does not start with an age header".to_owned(),
            age::DecryptError::Io(_) => "it ends before its header does".to_owned(),
            age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => {
                "it does not start with an age header".to_owned()
            }
            other => other.to_string().lines().next().unwrap_or_default().to_owned(),
        };
        error(
            "infra::secrets::corrupt",
            format!("`{name}` is not a readable age file: {why}"),
            Some(
                "was it truncated, edited by hand or never encrypted? restore it from version \
                 control, or encrypt it with `infra secrets encrypt`",
            ),
        )
    })?;
    let mut plaintext = Vec::new();
    let mut stream = decryptor.decrypt(identities.0.iter().map(|i| i.as_ref())).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => error(
            "infra::secrets::wrong_key",
            format!("none of your identities can decrypt `{name}`"),
            Some("ask someone who can to add your public key to the recipients and run `infra secrets rekey`"),
        ),
        other => {
            let why = other.to_string();
            let why = why.lines().next().unwrap_or_default();
            error("infra::secrets::corrupt", format!("cannot decrypt `{name}`: {why}"), Some("the file may be truncated or tampered with"))
        }
    })?;
    stream.read_to_end(&mut plaintext).map_err(|e| {
        error(
            "infra::secrets::corrupt",
            format!("`{name}` is damaged: {e}"),
            Some("the file may be truncated or tampered with"),
        )
    })?;
    Ok(plaintext)
}

/// The document (JSON, else YAML) in a decrypted file.
pub fn parse_document(plaintext: &[u8], name: &str) -> Result<Json, SecretError> {
    let not_a_document = || {
        error(
            "infra::secrets::not_a_document",
            format!("`{name}` does not hold a JSON or YAML document"),
            None,
        )
    };
    let text = std::str::from_utf8(plaintext).map_err(|_| not_a_document())?;
    if let Ok(json) = serde_json::from_str::<Json>(text) {
        return Ok(json);
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|_| not_a_document())?;
    match docs.into_iter().next() {
        Some(doc) => yaml_to_json(&doc).ok_or_else(not_a_document),
        None => Err(not_a_document()),
    }
}

/// The value at `a.b.c` in a document.
pub fn lookup(document: &Json, key_path: &str, name: &str) -> Result<Json, SecretError> {
    let mut value = document;
    let mut seen = Vec::new();
    for part in key_path.split('.') {
        value = value.get(part).ok_or_else(|| {
            let at = if seen.is_empty() {
                "the document".to_owned()
            } else {
                format!("`{}`", seen.join("."))
            };
            let keys: Vec<String> = value
                .as_object()
                .map(|o| o.keys().map(|k| format!("`{k}`")).collect())
                .unwrap_or_default();
            error(
                "infra::secrets::missing_key",
                format!("`{name}` has no `{key_path}`"),
                Some(&if keys.is_empty() {
                    format!("{at} has no keys")
                } else {
                    format!("{at} has {}", keys.join(", "))
                }),
            )
        })?;
        seen.push(part);
    }
    Ok(value.clone())
}

/// The fingerprint of a secrets file for change detection: the blake3 of its ciphertext.
pub fn fingerprint(ciphertext: &[u8]) -> String {
    blake3::hash(ciphertext).to_hex().to_string()
}

fn yaml_to_json(yaml: &yaml_rust2::Yaml) -> Option<Json> {
    use yaml_rust2::Yaml;
    Some(match yaml {
        Yaml::Null => Json::Null,
        Yaml::Boolean(b) => Json::Bool(*b),
        Yaml::Integer(i) => Json::from(*i),
        Yaml::Real(r) => serde_json::Number::from_f64(r.parse().ok()?).map(Json::Number)?,
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Array(items) => Json::Array(items.iter().map(yaml_to_json).collect::<Option<_>>()?),
        Yaml::Hash(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    _ => return None,
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Json::Object(out)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity_file(dir: &Path) -> (std::path::PathBuf, String) {
        let (text, public) = generate_identity();
        let path = dir.join("identity.txt");
        std::fs::write(&path, text).expect("write");
        (path, public)
    }

    #[test]
    fn a_file_that_is_not_age_says_what_it_is_not_on_one_line() {
        let dir = tempfile::tempdir().expect("dir");
        let (path, _) = identity_file(dir.path());
        let identities = load_identities(&path).expect("identities");
        for (bytes, why) in [
            (&b""[..], "it is empty"),
            (&b"{ \"db\": 1 }\n"[..], "does not start with an age header"),
            (&b"age-encryption.org/v1\n-> X25519"[..], "not a readable age file"),
        ] {
            let error = decrypt(bytes, &identities, "dev.age").expect_err("not age");
            assert_eq!(error.code, "infra::secrets::corrupt");
            assert!(error.message.contains(why), "{}", error.message);
            assert!(!error.message.contains('\n') && !error.message.contains("upgrading"));
        }
    }

    #[test]
    fn round_trip_and_every_failure_is_named_without_plaintext() {
        let dir = tempfile::tempdir().expect("dir");
        let (path, public) = identity_file(dir.path());
        let identities = load_identities(&path).expect("identities");
        let recipients =
            parse_recipients(&format!("# me\n{public}\n"), "recipients").expect("recipients");
        let canary = "canary-Zq81";
        let doc = format!("db:\n  password: {canary}\n");
        let ciphertext = encrypt(doc.as_bytes(), &recipients).expect("encrypt");
        assert!(!String::from_utf8_lossy(&ciphertext).contains(canary));
        let plaintext = decrypt(&ciphertext, &identities, "dev.age").expect("decrypt");
        let document = parse_document(&plaintext, "dev.age").expect("YAML");
        assert_eq!(lookup(&document, "db.password", "dev.age"), Ok(Json::from(canary)));

        let missing = lookup(&document, "db.user", "dev.age").expect_err("no such key");
        assert_eq!(missing.code, "infra::secrets::missing_key");
        assert!(missing.help.as_deref().unwrap_or("").contains("`password`"));
        assert!(!format!("{missing:?}").contains(canary));

        let other_dir = tempfile::tempdir().expect("dir");
        let (other, _) = identity_file(other_dir.path());
        let wrong = decrypt(&ciphertext, &load_identities(&other).expect("ids"), "dev.age")
            .expect_err("wrong key");
        assert_eq!(wrong.code, "infra::secrets::wrong_key");

        let truncated = decrypt(&ciphertext[..ciphertext.len() / 2], &identities, "dev.age")
            .expect_err("truncated");
        assert_eq!(truncated.code, "infra::secrets::corrupt");
        let mut tampered = ciphertext.clone();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        assert!(decrypt(&tampered, &identities, "dev.age").is_err());

        let none = load_identities(&dir.path().join("missing.txt")).err().expect("no identity");
        assert_eq!(none.code, "infra::secrets::no_identity");
        assert_ne!(
            fingerprint(&ciphertext),
            fingerprint(&encrypt(doc.as_bytes(), &recipients).expect("again"))
        );
    }
}
