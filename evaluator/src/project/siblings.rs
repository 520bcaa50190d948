//! Local module calls that leave a component's module directory — `module "s" { source =
//! "../shared" }`, the layout most Terraform repositories have. The work directory holds the
//! module's files only, so such a call would not resolve there: the called directories are
//! shipped with the component under `.infra-modules/PATH` (PATH relative to the project, so
//! that calls between them keep working as written), and the calls in the module's own files
//! are rewritten to point there. Both are part of the work directory, hence of the
//! component's inputs: editing `modules/shared` re-plans exactly the components that call it.
//!
//! Found by reading the top-level `.tf` files of every module directory reached (the
//! component's, then each called one) through `EvalIo`, so each read is an input of the
//! evaluation. A call that reaches outside the project is an error pointing at the `.tf`
//! file's line.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Component as PathPart, Path, PathBuf},
};

use hcl_edit::{
    Span as _,
    expr::Expression,
    structure::{Body, Structure},
};
use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    io::Input,
    project::{Kind, LocalModule, Project, SourceRewrite},
};

/// The directory under which called modules are shipped in a work directory.
pub const MODULES_DIR: &str = ".infra-modules";

/// A local module call found in a `.tf` file.
struct Call {
    /// The file (absolute) and the byte range of the source string, quotes included.
    file: PathBuf,
    range: std::ops::Range<usize>,
    source: String,
}

/// Fills each Terraform component's `siblings` and `rewrites`.
pub(super) fn resolve(m: &mut Machine, project: &mut Project, root: &Path) -> EvalResult<()> {
    let root = normalize(root);
    let mut calls_of: BTreeMap<PathBuf, Vec<Call>> = BTreeMap::new();
    for stack in &mut project.stacks {
        for component in &mut stack.components {
            let address = component.address();
            let Kind::Terraform(terraform) = &mut component.kind else { continue };
            let Some(source) = terraform.source.as_ref().map(|s| normalize(s)) else { continue };
            let mut shipped: BTreeSet<PathBuf> = BTreeSet::new();
            let mut rewrites = Vec::new();
            // (directory, whether it is shipped under MODULES_DIR rather than in place)
            let mut queue: Vec<(PathBuf, bool)> = vec![(source.clone(), false)];
            let mut seen: BTreeSet<(PathBuf, bool)> = BTreeSet::new();
            while let Some((dir, moved)) = queue.pop() {
                if !seen.insert((dir.clone(), moved)) {
                    continue;
                }
                if !calls_of.contains_key(&dir) {
                    let calls = calls_in(m, &dir);
                    calls_of.insert(dir.clone(), calls);
                }
                for call in calls_of.get(&dir).into_iter().flatten() {
                    let target = normalize(&dir.join(&call.source));
                    let rel = call.file.strip_prefix(&source).unwrap_or(&call.file);
                    let depth = rel.components().count().saturating_sub(1);
                    let up = "../".repeat(depth);
                    // Inside the component's own module (which may itself lie outside the
                    // project): it is there in the work directory as it is.
                    if !moved && target.starts_with(&source) {
                        // A call that leaves the module and comes back (`../app/sub` from
                        // `app`) would leave the work directory: it is made direct.
                        if leaves(&source, &call.file, &call.source) {
                            let inner = slash(target.strip_prefix(&source).unwrap_or(&target));
                            rewrites.push(rewrite(call, rel, format!("./{up}{inner}")));
                        }
                        queue.push((target, false));
                        continue;
                    }
                    // Reached from a moved module, or leaving the component's: shipped, from
                    // inside the project only.
                    if !target.starts_with(&root) || target == root {
                        return Err(outside(m, &address, call, &root));
                    }
                    shipped.insert(target.clone());
                    queue.push((target.clone(), true));
                    if !moved {
                        let path = project_path(&target, &root);
                        rewrites.push(rewrite(call, rel, format!("./{up}{MODULES_DIR}/{path}")));
                    }
                }
            }
            terraform.siblings = shipped
                .into_iter()
                .map(|dir| LocalModule { path: project_path(&dir, &root), dir })
                .collect();
            rewrites.sort_by(|a, b| (&a.file, a.start).cmp(&(&b.file, b.start)));
            terraform.rewrites = rewrites;
        }
    }
    Ok(())
}

fn rewrite(call: &Call, file: &Path, source: String) -> SourceRewrite {
    SourceRewrite {
        file: slash(file),
        start: call.range.start,
        end: call.range.end,
        was: format!("\"{}\"", call.source),
        source: format!("\"{source}\""),
    }
}

/// Whether `source`, called from `file`, passes above `module` on its way.
fn leaves(module: &Path, file: &Path, source: &str) -> bool {
    let mut at = file.parent().map(Path::to_path_buf).unwrap_or_default();
    for part in Path::new(source).components() {
        match part {
            PathPart::ParentDir => {
                if at == module {
                    return true;
                }
                at.pop();
            }
            PathPart::Normal(name) => at.push(name),
            _ => {}
        }
    }
    false
}

/// The local calls (`./…`, `../…`) of the top-level `.tf` files of `dir`.
fn calls_in(m: &mut Machine, dir: &Path) -> Vec<Call> {
    m.record(Input::Dir(dir.to_path_buf()));
    let Ok(entries) = m.io.read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .into_iter()
        .filter(|(name, ty)| *ty != "directory" && name.ends_with(".tf") && !name.starts_with('.'))
        .map(|(name, _)| name)
        .collect();
    names.sort();
    let mut calls = Vec::new();
    for name in names {
        let file = dir.join(&name);
        m.record(Input::File(file.clone()));
        let Ok(bytes) = m.io.read_file(&file) else { continue };
        let Ok(text) = String::from_utf8(bytes) else { continue };
        // A file that does not parse: Terraform will say why.
        let Ok(body) = hcl_edit::parser::parse_body(&text) else { continue };
        collect(&body, &file, &mut calls);
    }
    calls
}

fn collect(body: &Body, file: &Path, calls: &mut Vec<Call>) {
    for structure in body.iter() {
        let Structure::Block(block) = structure else { continue };
        if block.ident.as_str() != "module" {
            continue;
        }
        let Some(attribute) = block.body.get_attribute("source") else { continue };
        let Expression::String(source) = &attribute.value else { continue };
        let text = source.value().as_str();
        if !(text.starts_with("./") || text.starts_with("../")) {
            continue;
        }
        let Some(range) = attribute.value.span() else { continue };
        calls.push(Call { file: file.to_path_buf(), range, source: text.to_owned() });
    }
}

/// The error for a call that leaves the project, pointing at it in its `.tf` file.
fn outside(m: &mut Machine, address: &str, call: &Call, root: &Path) -> Box<EvalError> {
    let text =
        String::from_utf8(m.io.read_file(&call.file).unwrap_or_default()).unwrap_or_default();
    let file = m.sources_mut().add(call.file.display().to_string(), text);
    let span = Span {
        file,
        range: lang::TextRange::new(
            (call.range.start as u32).into(),
            (call.range.end as u32).into(),
        ),
    };
    EvalError::new(
        ErrorKind::InvalidSpec {
            address: address.to_owned(),
            message: format!(
                "the module call `source = \"{}\"` reaches outside the project ({})",
                call.source,
                root.display()
            ),
        },
        Some(span),
    )
    .with_help(
        "infra ships local modules from inside the project only: move the module into the \
         project, or call it from a registry or Git source",
    )
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            PathPart::CurDir => {}
            PathPart::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn project_path(dir: &Path, root: &Path) -> String {
    slash(dir.strip_prefix(root).unwrap_or(dir))
}

fn slash(path: &Path) -> String {
    path.components()
        .map(|p| p.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
