//! `toXML value`: the value, forced deeply, in the XML Nix writes (the format `builtins.toXML`
//! documents), byte for byte.

use std::fmt::Write;

use crate::{
    builtins,
    error::EvalResult,
    eval::Machine,
    ir::Param,
    value::{Thunk, Value},
};

pub(super) fn to_xml(m: &mut Machine, args: &[Thunk]) -> EvalResult<Value> {
    let value = m.force(&args[0])?;
    let mut out = String::from("<?xml version='1.0' encoding='utf-8'?>\n<expr>\n");
    write(m, &mut out, &value, 1)?;
    out.push_str("</expr>\n");
    Ok(Value::string(&out))
}

fn write(m: &mut Machine, out: &mut String, value: &Value, depth: usize) -> EvalResult<()> {
    // A cyclic value has no end: the output's size stops it (and `nested` its depth).
    crate::error::check_string(out.len() + 2 * depth, None)?;
    let pad = "  ".repeat(depth);
    match value {
        Value::Null => {
            let _ = writeln!(out, "{pad}<null />");
        }
        Value::Bool(b) => {
            let _ = writeln!(out, "{pad}<bool value=\"{b}\" />");
        }
        Value::Int(i) => {
            let _ = writeln!(out, "{pad}<int value=\"{i}\" />");
        }
        Value::Float(x) => {
            let _ = writeln!(out, "{pad}<float value=\"{}\" />", crate::print::float(*x));
        }
        Value::String(s) => {
            crate::error::reject_secret(s, "`toXML`")?;
            let _ = writeln!(out, "{pad}<string value=\"{}\" />", escape(s.as_str()));
        }
        Value::Path(p) => {
            let _ = writeln!(out, "{pad}<path value=\"{}\" />", escape(&p.display().to_string()));
        }
        Value::Attrs(attrs) => {
            // A derivation is written by its paths, as Nix does.
            if let Some(kind) = attrs.get("type").cloned()
                && matches!(m.force(&kind)?, Value::String(s) if s.as_str() == "derivation")
            {
                let mut line = format!("{pad}<derivation");
                for key in ["drvPath", "outPath"] {
                    if let Some(t) = attrs.get(key).cloned() {
                        let text = builtins::string(m, &t)?;
                        let _ = write!(line, " {key}=\"{}\"", escape(text.as_str()));
                    }
                }
                let _ = writeln!(out, "{line} />");
                return Ok(());
            }
            let _ = writeln!(out, "{pad}<attrs>");
            for (name, thunk) in attrs.iter() {
                let _ = writeln!(out, "{pad}  <attr name=\"{}\">", escape(name));
                let value = m.force(thunk)?;
                m.nested(None, |m| write(m, out, &value, depth + 2))?;
                let _ = writeln!(out, "{pad}  </attr>");
            }
            let _ = writeln!(out, "{pad}</attrs>");
        }
        Value::List(items) => {
            let _ = writeln!(out, "{pad}<list>");
            for item in items.iter() {
                let value = m.force(item)?;
                m.nested(None, |m| write(m, out, &value, depth + 1))?;
            }
            let _ = writeln!(out, "{pad}</list>");
        }
        Value::Lambda(closure) => {
            let _ = writeln!(out, "{pad}<function>");
            match &closure.lambda.param {
                Param::Ident(name) => {
                    let _ = writeln!(out, "{pad}  <varpat name=\"{}\" />", escape(name));
                }
                Param::Curried(names) => {
                    let name = names.get(closure.applied as usize).map_or("", |n| &**n);
                    let _ = writeln!(out, "{pad}  <varpat name=\"{}\" />", escape(name));
                }
                Param::Pattern { formals, ellipsis, bind } => {
                    let mut open = format!("{pad}  <attrspat");
                    if *ellipsis {
                        open.push_str(" ellipsis=\"1\"");
                    }
                    if let Some(bind) = bind {
                        let _ = write!(open, " name=\"{}\"", escape(bind));
                    }
                    let _ = writeln!(out, "{open}>");
                    let mut names: Vec<&str> = formals.iter().map(|f| &*f.name).collect();
                    names.sort_unstable();
                    for name in names {
                        let _ = writeln!(out, "{pad}    <attr name=\"{}\" />", escape(name));
                    }
                    let _ = writeln!(out, "{pad}  </attrspat>");
                }
            }
            let _ = writeln!(out, "{pad}</function>");
        }
        Value::PrimOp(_) | Value::PrimOpApp(_) => {
            let _ = writeln!(out, "{pad}<unevaluated />");
        }
        Value::Outputs(component) => {
            let _ = writeln!(out, "{pad}<string value=\"{}\" />", escape(component));
        }
    }
    Ok(())
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' => out.push_str("&#x9;"),
            c => out.push(c),
        }
    }
    out
}
