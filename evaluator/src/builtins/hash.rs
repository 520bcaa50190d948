//! `hashString` and `hashFile`: md5, sha1, sha256, sha512 (as Nix) and blake3, in hex.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::{
    builtins::{self, bad},
    error::{EvalResult, io_error},
    eval::Machine,
    io::Input,
    value::{Thunk, Value},
};

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let out: Vec<u8> =
        bytes.iter().flat_map(|b| [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]]).collect();
    // Hex digits are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

fn digest(builtin: &'static str, algorithm: &str, data: &[u8]) -> EvalResult<Value> {
    let hash = match algorithm {
        "md5" => hex(&Md5::digest(data)),
        "sha1" => hex(&Sha1::digest(data)),
        "sha256" => hex(&Sha256::digest(data)),
        "sha512" => hex(&Sha512::digest(data)),
        "blake3" => blake3::hash(data).to_hex().to_string(),
        other => {
            return Err(bad(
                builtin,
                format!("unknown hash algorithm `{other}` (md5, sha1, sha256, sha512, blake3)"),
            ));
        }
    };
    Ok(Value::string(&hash))
}

pub(super) fn hash_string(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let algorithm = builtins::string(m, &args[0])?;
    let data = builtins::string(m, &args[1])?;
    digest("hashString", algorithm.as_str(), data.as_str().as_bytes())
}

pub(super) fn hash_file(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let algorithm = builtins::string(m, &args[0])?;
    let path = match m.force(&args[1])? {
        Value::Path(p) => (*p).clone(),
        Value::String(s) => std::path::PathBuf::from(s.as_str()),
        other => return Err(crate::eval::type_error("a path", &other, None)),
    };
    m.record(Input::File(path.clone()));
    let data = m.io.read_file(&path).map_err(|e| io_error(&path, e, None))?;
    digest("hashFile", algorithm.as_str(), &data)
}
