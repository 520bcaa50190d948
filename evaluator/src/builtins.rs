//! The builtins: a registry table (name → function, arity) and the global scope.
//! Each group lives in its own file; every builtin forces only what it needs.

use alloc_shim::thin::RcStr;
mod attrs;
mod closure;
mod core;
mod data;
mod formats;
mod hash;
pub(crate) mod json;
mod lists;
pub(crate) mod paths;
mod regex;
pub(crate) use regex::Compiled as CompiledRegex;
mod store;
pub(crate) use store::DERIVATION;
mod strings;
mod xml;
mod yaml;

use std::{collections::BTreeMap, rc::Rc};

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::{Machine, type_error},
    value::{Attrs, NixString, PrimOp, PrimOpFn, Thunk, Value},
};

/// `(name, arity, function)` for every builtin.
const TABLE: &[(&str, usize, PrimOpFn)] = &[
    ("abort", 1, core::abort),
    ("add", 2, core::add),
    ("addErrorContext", 2, store::add_error_context),
    ("appendContext", 2, store::append_context),
    ("all", 2, lists::all),
    ("any", 2, lists::any),
    ("attrNames", 1, attrs::attr_names),
    ("attrValues", 1, attrs::attr_values),
    ("baseNameOf", 1, paths::base_name_of),
    ("bitAnd", 2, core::bit_and),
    ("bitOr", 2, core::bit_or),
    ("bitXor", 2, core::bit_xor),
    ("catAttrs", 2, attrs::cat_attrs),
    ("ceil", 1, core::ceil),
    ("compareVersions", 2, strings::compare_versions),
    ("concatLists", 1, lists::concat_lists),
    ("concatMap", 2, lists::concat_map),
    ("concatStringsSep", 2, strings::concat_strings_sep),
    ("deepSeq", 2, core::deep_seq),
    ("derivationStrict", 1, store::derivation_strict),
    ("dirOf", 1, paths::dir_of),
    ("div", 2, core::div),
    ("elem", 2, lists::elem),
    ("elemAt", 2, lists::elem_at),
    ("fetchGit", 1, store::fetch_git),
    ("fetchMercurial", 1, store::fetch_mercurial),
    ("fetchTarball", 1, store::fetch_tarball),
    ("fetchTree", 1, store::fetch_tree),
    ("fetchurl", 1, store::fetchurl),
    ("filter", 2, lists::filter),
    ("filterSource", 2, store::filter_source),
    ("findFile", 2, store::find_file),
    ("floor", 1, core::floor),
    ("foldl'", 3, lists::foldl),
    ("fromJSON", 1, json::from_json),
    ("fromTOML", 1, formats::from_toml),
    ("fromYAML", 1, formats::from_yaml),
    ("functionArgs", 1, core::function_args),
    ("genList", 2, lists::gen_list),
    ("genericClosure", 1, closure::generic_closure),
    ("getAttr", 2, attrs::get_attr),
    ("getContext", 1, store::get_context),
    ("getEnv", 1, core::get_env),
    ("groupBy", 2, lists::group_by),
    ("hasAttr", 2, attrs::has_attr),
    ("hasContext", 1, store::has_context),
    ("hashFile", 2, hash::hash_file),
    ("hashString", 2, hash::hash_string),
    ("head", 1, lists::head),
    ("import", 1, paths::import),
    ("importJSON", 1, data::import_json),
    ("importTOML", 1, data::import_toml),
    ("importYAML", 1, data::import_yaml),
    ("intersectAttrs", 2, attrs::intersect_attrs),
    ("isAttrs", 1, core::is_attrs),
    ("isBool", 1, core::is_bool),
    ("isFloat", 1, core::is_float),
    ("isFunction", 1, core::is_function),
    ("isInt", 1, core::is_int),
    ("isList", 1, core::is_list),
    ("isNull", 1, core::is_null),
    ("isPath", 1, core::is_path),
    ("isString", 1, core::is_string),
    ("length", 1, lists::length),
    ("lessThan", 2, core::less_than),
    ("listToAttrs", 1, attrs::list_to_attrs),
    ("map", 2, lists::map),
    ("mapAttrs", 2, attrs::map_attrs),
    ("match", 2, regex::match_),
    ("mul", 2, core::mul),
    ("parseDrvName", 1, store::parse_drv_name),
    ("partition", 2, lists::partition),
    ("path", 1, store::path),
    ("pathExists", 1, paths::path_exists),
    ("placeholder", 1, store::placeholder),
    ("readDir", 1, paths::read_dir),
    ("readFile", 1, paths::read_file),
    ("removeAttrs", 2, attrs::remove_attrs),
    ("replaceStrings", 3, strings::replace_strings),
    ("scopedImport", 2, paths::scoped_import),
    ("seq", 2, core::seq),
    ("sort", 2, lists::sort),
    ("split", 2, regex::split),
    ("splitVersion", 1, strings::split_version),
    ("storePath", 1, store::store_path_),
    ("stringLength", 1, strings::string_length),
    ("sub", 2, core::sub),
    ("substring", 3, strings::substring),
    ("tail", 1, lists::tail),
    ("throw", 1, core::throw),
    ("toFile", 2, store::to_file),
    ("toJSON", 1, json::to_json),
    ("toPath", 1, store::to_path),
    ("toString", 1, core::to_string),
    ("toXML", 1, xml::to_xml),
    ("trace", 2, core::trace),
    ("tryEval", 1, core::try_eval),
    ("typeOf", 1, core::type_of),
    ("unsafeDiscardOutputDependency", 1, store::identity_string),
    ("unsafeDiscardStringContext", 1, store::identity_string),
    ("unsafeGetAttrPos", 2, store::unsafe_get_attr_pos),
    ("warn", 2, core::warn),
    ("zipAttrsWith", 2, attrs::zip_attrs_with),
];

/// Builtins also reachable without `builtins.`, as in Nix.
const TOP_LEVEL: &[&str] = &[
    "abort",
    "baseNameOf",
    "dirOf",
    "fetchGit",
    "fetchMercurial",
    "fetchTarball",
    "fetchTree",
    "fromTOML",
    "import",
    "isNull",
    "map",
    "placeholder",
    "removeAttrs",
    "scopedImport",
    "throw",
    "toString",
];

/// The builtins of one argument whose first act is forcing it, and which keep no hold on the
/// argument's cell (see `PrimOp::strict`). Each forces it through `builtins::attrs`, `list`,
/// `string`, … or `Machine::force` on entry.
const STRICT: &[&str] = &[
    "attrNames",
    "attrValues",
    "head",
    "isAttrs",
    "isBool",
    "isFloat",
    "isFunction",
    "isInt",
    "isList",
    "isNull",
    "isPath",
    "isString",
    "length",
    "stringLength",
    "tail",
    "toString",
    "typeOf",
];

/// The global scope: `true`, `false`, `null`, `builtins`, the top-level builtins and every
/// builtin as `__name`. (The machine adds the extensions it is given: the domain's builtins,
/// `infra`.)
pub(crate) fn globals() -> BTreeMap<&'static str, Thunk> {
    let mut globals = BTreeMap::new();
    let mut entries: Vec<(RcStr, Thunk)> = Vec::new();
    for &(name, arity, func) in TABLE {
        let strict = STRICT.contains(&name);
        let op = Thunk::value(Value::PrimOp(Rc::new(PrimOp { name, arity, func, strict })));
        entries.push((name.into(), op.clone()));
        if TOP_LEVEL.contains(&name) {
            globals.insert(name, op.clone());
        }
        let dunder: &'static str = Box::leak(format!("__{name}").into_boxed_str());
        globals.insert(dunder, op);
    }
    for (name, value) in constants() {
        entries.push((name.into(), Thunk::value(value.clone())));
        globals.insert(name, Thunk::value(value));
    }
    for (name, value) in builtin_constants() {
        let value = Thunk::value(value);
        entries.push((name.into(), value.clone()));
        let dunder: &'static str = Box::leak(format!("__{name}").into_boxed_str());
        globals.insert(dunder, value);
    }
    let builtins = Value::attrs(Attrs::from_entries(entries));
    globals.insert("builtins", Thunk::value(builtins));
    globals
}

/// Constants, global and in `builtins`.
fn constants() -> Vec<(&'static str, Value)> {
    vec![("true", Value::Bool(true)), ("false", Value::Bool(false)), ("null", Value::Null)]
}

/// Constants only in `builtins` (as in Nix): the Nix language version infra implements, the
/// platform (from the machine infra was built for), the store directory of the stand-ins,
/// an empty search path.
fn builtin_constants() -> Vec<(&'static str, Value)> {
    vec![
        ("currentSystem", Value::string(&current_system())),
        ("langVersion", Value::Int(6)),
        ("nixPath", Value::list(Vec::new())),
        ("nixVersion", Value::string("2.8.0")),
        ("storeDir", Value::string(store::STORE_DIR)),
    ]
}

/// `x86_64-linux`, `aarch64-darwin`: Nix's name for the platform.
fn current_system() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS.replace("macos", "darwin"))
}

pub(crate) fn bad(builtin: &'static str, message: String) -> Box<EvalError> {
    EvalError::new(ErrorKind::BadArgument { builtin, message }, None)
}

pub(crate) fn int(m: &mut Machine, t: &Thunk) -> EvalResult<i64> {
    match m.force(t)? {
        Value::Int(i) => Ok(i),
        other => Err(type_error("an integer", &other, None)),
    }
}

pub(crate) fn list(m: &mut Machine, t: &Thunk) -> EvalResult<crate::value::RcSlice<Thunk>> {
    match m.force(t)? {
        Value::List(items) => Ok(items),
        other => Err(type_error("a list", &other, None)),
    }
}

pub(crate) fn attrs(m: &mut Machine, t: &Thunk) -> EvalResult<Rc<Attrs>> {
    match m.force(t)? {
        Value::Attrs(attrs) => Ok(attrs),
        other => Err(type_error("a set", &other, None)),
    }
}

/// A string argument (strings only, as Nix's `forceString`).
pub(crate) fn string(m: &mut Machine, t: &Thunk) -> EvalResult<NixString> {
    match m.force(t)? {
        Value::String(s) => {
            crate::error::reject_secret(&s, "this builtin")?;
            Ok(s)
        }
        other => Err(type_error("a string", &other, None)),
    }
}

pub(crate) fn function(m: &mut Machine, t: &Thunk) -> EvalResult<Value> {
    let value = m.force(t)?;
    if value.is_function() || matches!(&value, Value::Attrs(a) if a.get("__functor").is_some()) {
        Ok(value)
    } else {
        Err(type_error("a function", &value, None))
    }
}

/// Calls `func` with `args`, strictly.
pub(crate) fn call(m: &mut Machine, func: &Value, args: &[Thunk]) -> EvalResult<Value> {
    m.call_all(func, args)
}
