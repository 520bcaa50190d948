//! Builtins that read files (through `EvalIo`, recorded as inputs) or take paths apart.

use alloc_shim::thin::RcStr;
use std::{path::PathBuf, rc::Rc};

use crate::{
    error::{EvalResult, io_error},
    eval::Machine,
    io::Input,
    value::{Attrs, Thunk, Value},
};

/// The path a value names: a path, or a string holding an absolute path.
pub(crate) fn path_arg(m: &mut Machine, thunk: &Thunk) -> EvalResult<PathBuf> {
    match m.force(thunk)? {
        Value::Path(p) => Ok((*p).clone()),
        Value::String(s) if s.as_str().starts_with('/') => Ok(PathBuf::from(s.as_str())),
        other => Err(crate::eval::type_error("a path", &other, None)),
    }
}

pub(super) fn import(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let path = path_arg(m, &args[0])?;
    m.import(&path, None)
}

/// `scopedImport scope path`: `import` with the names of `scope` in scope around the file.
pub(super) fn scoped_import(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let scope = crate::builtins::attrs(m, &args[0])?;
    let path = path_arg(m, &args[1])?;
    m.scoped_import(&path, scope)
}

pub(super) fn read_file(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let path = path_arg(m, &args[0])?;
    m.record(Input::File(path.clone()));
    let bytes = m.io.read_file(&path).map_err(|e| io_error(&path, e, None))?;
    Ok(Value::string(&String::from_utf8_lossy(&bytes)))
}

pub(super) fn path_exists(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let path = path_arg(m, &args[0])?;
    m.record(Input::Exists(path.clone()));
    Ok(Value::Bool(m.io.path_exists(&path).map_err(|e| io_error(&path, e, None))?))
}

pub(super) fn read_dir(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let path = path_arg(m, &args[0])?;
    m.record(Input::Dir(path.clone()));
    let entries = m.io.read_dir(&path).map_err(|e| io_error(&path, e, None))?;
    let entries: Vec<(RcStr, Thunk)> = entries
        .into_iter()
        .map(|(name, kind)| (name.into(), Thunk::value(Value::string(kind))))
        .collect();
    Ok(Value::attrs(Attrs::from_entries(entries)))
}

/// The last component, as Nix's `baseNameOf` (a trailing `/` ignored).
pub(super) fn base_name_of(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let s = m.coerce_to_string(&value, false, None)?;
    let text = s.as_str();
    let trimmed = text.strip_suffix('/').unwrap_or(text);
    let base = trimmed.rsplit('/').next().unwrap_or("");
    Ok(Value::string(base))
}

/// Everything before the last `/` (`"."` when there is none); a path stays a path.
pub(super) fn dir_of(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let is_path = matches!(value, Value::Path(_));
    let s = m.coerce_to_string(&value, false, None)?;
    let text = s.as_str();
    let dir = match text.rfind('/') {
        Some(0) => "/",
        Some(i) => &text[..i],
        None => ".",
    };
    if is_path {
        return Ok(Value::Path(Rc::new(PathBuf::from(dir))));
    }
    Ok(Value::string(dir))
}
