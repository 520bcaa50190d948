//! Reading the entry file's value into a `Project`: stacks, placed components, their inputs
//! as JSON, and the checks that need the whole project (see `graph` and `names`).

use alloc_shim::thin::RcStr;
use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use lang::Span;

use crate::{
    error::{ErrorKind, EvalError, EvalResult},
    eval::Machine,
    io::Input,
    project::{
        Backend, Component, File, Json, Kind, Project, Stack, Terraform, graph, hooks,
        json::ToJson,
        names, placement,
        step::{STEP_KEYS, StepSpec, WAIT_KEYS, check_input_names},
    },
    suggest::did_you_mean,
    value::{Attrs, NixString, Thunk, Value},
};

/// The attributes a component spec may have.
const COMPONENT_KEYS: &[&str] = &[
    "approval",
    "backend",
    "dependsOn",
    "files",
    "hooks",
    "inputs",
    "mockOutputs",
    "policies",
    "providers",
    "requiredOutputs",
    "rerunAfter",
    "source",
    "tool",
];

/// The attributes a stack may have (besides its components' names).
const STACK_KEYS: &[&str] = &[
    "_type",
    "__decl",
    "approval",
    "backend",
    "components",
    "name",
    "policies",
    "providers",
    "settings",
];

/// Files every work directory gets; `files` cannot replace them.
pub const GENERATED_FILES: &[&str] = &[
    "backend.tf.json",
    "providers.tf.json",
    "infra.auto.tfvars.json",
    "infra.upstream.auto.tfvars.json",
];

/// A stack as declared, before its components are placed.
pub(super) struct StackDecl {
    name: String,
    span: Option<Span>,
    settings: Thunk,
    backend: Backend,
    providers: BTreeMap<String, Json>,
    /// Its `policies` (a list of functions; checked when a component reads them).
    policies: Option<Thunk>,
    /// Its `approval` (read when a component reads it).
    approval: Option<Thunk>,
    pub(super) components: Vec<ComponentDecl>,
}

pub(super) struct ComponentDecl {
    pub(super) name: String,
    span: Option<Span>,
    spec: Thunk,
    /// `infra.component`, `infra.step` or `infra.wait`.
    tag: &'static str,
}

/// The tags of the sets a stack's `components` may hold.
const NODE_TAGS: &[&str] = &["infra.component", "infra.step", "infra.wait"];

/// The project an entry file's value describes. `root_span` (the entry file) places errors
/// that have no better span.
pub(crate) fn extract(
    m: &mut Machine,
    root: &Value,
    root_span: Span,
    project_root: &std::path::Path,
) -> EvalResult<Project> {
    let project = extract_with(m, root, root_span, project_root, None)?;
    Ok(project.expect("Invariant: a whole project is always extracted"))
}

/// The part of the project that `targets` (exact addresses) and everything they depend on,
/// directly or not, make up: only their specs are read (evaluated), every other component
/// is only declared (its name). The checks run on that part. `None` when a target, or
/// something they depend on, is not a declared component (a hook, a typo): the caller then
/// extracts the whole project, which says what is wrong.
pub(crate) fn extract_upstream(
    m: &mut Machine,
    root: &Value,
    root_span: Span,
    project_root: &std::path::Path,
    targets: &[String],
) -> EvalResult<Option<Project>> {
    extract_with(m, root, root_span, project_root, Some(targets))
}

fn extract_with(
    m: &mut Machine,
    root: &Value,
    root_span: Span,
    project_root: &std::path::Path,
    targets: Option<&[String]>,
) -> EvalResult<Option<Project>> {
    let mut stacks = Stacks::read(m, root, root_span, targets.is_none())?;
    // The declared addresses: every stack's, or those of the stacks the targets and their
    // dependencies are in.
    let mut addresses = Addresses::default();
    let mut read: BTreeMap<(usize, usize), Vec<Component>> = BTreeMap::new();
    match targets {
        None => {
            for s in 0..stacks.heads.len() {
                addresses.add_stack(&mut stacks, m, s, root_span)?;
            }
            // Every component is read even after one fails: a check shows all their errors
            // at once (each once, however many stacks place the component).
            let mut errors = placement::Errors::default();
            for s in 0..stacks.heads.len() {
                for c in 0..stacks.decl(s).components.len() {
                    match read_declared(m, &stacks, (s, c), root_span, project_root) {
                        Ok(nodes) => {
                            let span = spans_of(&stacks, (s, c), root_span);
                            add_hooks(&mut addresses.spans, &nodes, span)?;
                            read.insert((s, c), nodes);
                        }
                        Err(error) => errors.add(*error),
                    }
                }
            }
            errors.into_result()?;
        }
        Some(targets) => {
            let mut todo = Vec::new();
            for target in targets {
                let Some(at) = addresses.find(&mut stacks, m, target, root_span)? else {
                    return Ok(None);
                };
                todo.push(at);
            }
            while let Some(at) = todo.pop() {
                if read.contains_key(&at) {
                    continue;
                }
                let nodes = read_declared(m, &stacks, at, root_span, project_root)?;
                add_hooks(&mut addresses.spans, &nodes, spans_of(&stacks, at, root_span))?;
                for node in &nodes {
                    for address in node.depends_on.iter().chain(&node.rerun_after) {
                        match addresses.find(&mut stacks, m, address, root_span)? {
                            Some(upstream) => todo.push(upstream),
                            // A hook of a node read (its spans are known by now).
                            None if addresses.spans.contains_key(address) => {}
                            None => return Ok(None),
                        }
                    }
                }
                read.insert(at, nodes);
            }
        }
    }
    let spans = addresses.spans;
    let mut project = Project { stacks: Vec::new() };
    let mut by_stack: BTreeMap<usize, Vec<Component>> = BTreeMap::new();
    for ((s, _), nodes) in read {
        by_stack.entry(s).or_default().extend(nodes);
    }
    for (s, mut components) in by_stack {
        components.sort_by(|a: &Component, b| a.name.cmp(&b.name));
        project.stacks.push(Stack { name: stacks.heads[s].name.clone(), components });
    }
    if targets.is_none() {
        // A stack without components is still a stack of the project.
        for head in
            stacks.heads.iter().zip(&stacks.decls).filter_map(|(h, d)| {
                d.as_ref().is_some_and(|d| d.components.is_empty()).then_some(h)
            })
        {
            project.stacks.push(Stack { name: head.name.clone(), components: Vec::new() });
        }
    }
    project.stacks.sort_by(|a, b| a.name.cmp(&b.name));
    graph::check(&project, &spans)?;
    names::check(m, &project, &spans)?;
    super::siblings::resolve(m, &mut project, project_root)?;
    Ok(Some(project))
}

/// The declared addresses: where each is declared, and which declaration it is (a stack's
/// index, the component's index in it).
#[derive(Default)]
struct Addresses {
    spans: BTreeMap<String, Span>,
    at: BTreeMap<String, (usize, usize)>,
    /// The stacks whose components are added (not the same as declared: a whole-project
    /// extraction declares every stack as it reads it, for the order of errors, first).
    stacks: BTreeSet<usize>,
}

impl Addresses {
    /// Adds the components of stack `s` (declaring it), once; a duplicate is an error.
    fn add_stack(
        &mut self,
        stacks: &mut Stacks,
        m: &mut Machine,
        s: usize,
        root_span: Span,
    ) -> EvalResult<()> {
        if !self.stacks.insert(s) {
            return Ok(());
        }
        stacks.declare(m, s, root_span)?;
        let decl = stacks.decl(s);
        for (c, component) in decl.components.iter().enumerate() {
            let address = format!("{}/{}", decl.name, component.name);
            let span = component.span.or(decl.span).unwrap_or(root_span);
            if let Some(previous) = self.spans.insert(address.clone(), span) {
                return Err(EvalError::new(ErrorKind::DuplicateComponent { address }, Some(span))
                    .with_label(previous, "first declared here"));
            }
            self.at.insert(address, (s, c));
        }
        Ok(())
    }

    /// Where `address` is declared, its stack added first; `None`: no component declares it.
    fn find(
        &mut self,
        stacks: &mut Stacks,
        m: &mut Machine,
        address: &str,
        root_span: Span,
    ) -> EvalResult<Option<(usize, usize)>> {
        let Some(s) = address.split_once('/').and_then(|(stack, _)| stacks.find(stack)) else {
            return Ok(None);
        };
        self.add_stack(stacks, m, s, root_span)?;
        Ok(self.at.get(address).copied())
    }
}

/// The span of the declared component at `at`.
fn spans_of(stacks: &Stacks, (s, c): (usize, usize), root_span: Span) -> Span {
    let decl = stacks.decl(s);
    decl.components[c].span.or(decl.span).unwrap_or(root_span)
}

/// The nodes the declared component at `at` places: itself and its hooks.
fn read_declared(
    m: &mut Machine,
    stacks: &Stacks,
    (s, c): (usize, usize),
    root_span: Span,
    project_root: &std::path::Path,
) -> EvalResult<Vec<Component>> {
    let decl = stacks.decl(s);
    let component = &decl.components[c];
    let span = spans_of(stacks, (s, c), root_span);
    let spec = place(m, decl, component)?;
    let node = Node { stack: decl, name: &component.name, tag: component.tag, span };
    read_component(m, &node, &spec, project_root)
        .map_err(|error| placement::on_attribute(m, &spec, span, error))
}

/// Records the addresses of a component's hooks (`nodes` after the first), which must not be
/// taken.
fn add_hooks(
    spans: &mut BTreeMap<String, Span>,
    nodes: &[Component],
    span: Span,
) -> EvalResult<()> {
    for node in nodes.iter().skip(1) {
        let address = node.address();
        if let Some(previous) = spans.insert(address.clone(), span) {
            return Err(EvalError::new(ErrorKind::DuplicateComponent { address }, Some(previous))
                .with_label(span, "the hook of this component has the same name")
                .with_help("rename the node, or the component"));
        }
    }
    Ok(())
}

/// The policy functions of the component at `address`: its stack's, then its own.
pub(crate) fn policies_of(
    m: &mut Machine,
    root: &Value,
    root_span: Span,
    address: &str,
) -> EvalResult<Vec<Value>> {
    let (stack_name, name) = address.split_once('/').unwrap_or(("", address));
    let mut stacks = Stacks::read(m, root, root_span, false)?;
    let Some(s) = stacks.find(stack_name) else { return Ok(Vec::new()) };
    stacks.declare(m, s, root_span)?;
    let decl = stacks.decl(s);
    let Some(component) = decl.components.iter().find(|c| c.name == name) else {
        return Ok(Vec::new());
    };
    let span = component.span.or(decl.span).unwrap_or(root_span);
    let mut policies = super::policy::functions(m, decl.policies.as_ref(), &decl.name, span)?;
    if let Value::Attrs(spec) = place(m, decl, component)? {
        policies.extend(super::policy::functions(m, spec.get("policies"), address, span)?);
    }
    Ok(policies)
}

/// A stack as the entry file's value holds it: its name and attributes, before its
/// components are declared (a run of a few components declares only their stacks').
pub(super) struct StackHead {
    pub(super) name: String,
    span: Option<Span>,
    attrs: Attrs,
}

/// The stacks of the entry file's value, declared when first needed.
struct Stacks {
    heads: Vec<StackHead>,
    decls: Vec<Option<StackDecl>>,
}

impl Stacks {
    /// Every stack's head, in order; with `declare_all`, each declared as it is found (so
    /// errors come in the order of the file).
    fn read(
        m: &mut Machine,
        root: &Value,
        root_span: Span,
        declare_all: bool,
    ) -> EvalResult<Stacks> {
        let Value::Attrs(root) = root else {
            return Err(EvalError::new(
                ErrorKind::TypeError { expected: "a set of stacks", got: root.describe() },
                Some(root_span),
            ));
        };
        let mut stacks = Stacks { heads: Vec::new(), decls: Vec::new() };
        for (key, thunk) in root.iter() {
            let value = m.force(thunk)?;
            let Value::Attrs(attrs) = &value else {
                return Err(not_a_stack(key, &value, root_span));
            };
            if tag(m, attrs)?.as_deref() != Some("infra.stack") {
                return Err(not_a_stack(key, &value, root_span));
            }
            let head = stack_head(m, key, attrs)?;
            if let Some(previous) = stacks.heads.iter().find(|s| s.name == head.name) {
                let mut error = EvalError::new(
                    ErrorKind::DuplicateStack { name: head.name.clone() },
                    head.span.or(Some(root_span)),
                );
                if let Some(span) = previous.span {
                    error.labels.push((span, "first declared here".to_owned()));
                }
                return Err(error);
            }
            stacks.heads.push(head);
            stacks.decls.push(None);
            if declare_all {
                stacks.declare(m, stacks.heads.len() - 1, root_span)?;
            }
        }
        Ok(stacks)
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.heads.iter().position(|h| h.name == name)
    }

    /// Declares stack `s` (its settings, backend, providers and components' names), once.
    fn declare(&mut self, m: &mut Machine, s: usize, root_span: Span) -> EvalResult<()> {
        if self.decls[s].is_none() {
            self.decls[s] = Some(stack_decl(m, &self.heads[s], root_span)?);
        }
        Ok(())
    }

    fn decl(&self, s: usize) -> &StackDecl {
        self.decls[s].as_ref().expect("Invariant: a stack is declared before it is read")
    }
}

fn not_a_stack(key: &str, value: &Value, root_span: Span) -> Box<EvalError> {
    EvalError::new(ErrorKind::NotAStack { name: key.to_string() }, Some(root_span)).with_help(
        format!(
            "the entry file evaluates to a set of stacks; `{key}` is {}: keep helpers in a `let`",
            value.describe()
        ),
    )
}

/// A stack's name (its `name`, else its attribute's) and place.
pub(super) fn stack_head(m: &mut Machine, key: &str, stack: &Attrs) -> EvalResult<StackHead> {
    let span = decl_span(m, stack)?;
    let name = match stack.get("name").cloned() {
        Some(name) => crate::builtins::string(m, &name)?.as_str().to_owned(),
        None => key.to_owned(),
    };
    Ok(StackHead { name, span, attrs: stack.clone() })
}

pub(super) fn stack_decl(
    m: &mut Machine,
    head: &StackHead,
    root_span: Span,
) -> EvalResult<StackDecl> {
    let (stack, span, name) = (&head.attrs, head.span, head.name.clone());
    let owner = name.clone();
    let spec_error = |message: String| {
        EvalError::new(
            ErrorKind::InvalidSpec { address: owner.clone(), message },
            span.or(Some(root_span)),
        )
    };
    for key in stack.names() {
        if !STACK_KEYS.contains(&key) {
            let mut error = spec_error(format!("a stack has no attribute `{key}`"));
            error.span = placement::written_at(m, stack, key).or(error.span);
            error.help = Some(match did_you_mean(key, STACK_KEYS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("a stack has {}", quoted(&STACK_KEYS[2..])),
            });
            return Err(error);
        }
    }
    let settings = stack
        .get("settings")
        .cloned()
        .unwrap_or_else(|| Thunk::value(Value::attrs(Attrs::default())));
    let backend = match stack.get("backend").cloned() {
        Some(backend) => read_backend(m, &backend, &name, span)?,
        None => Backend { ty: "local".to_owned(), config: BTreeMap::new() },
    };
    let providers = match stack.get("providers").cloned() {
        Some(providers) => json_object(m, &providers, &name, &name, span, "providers")?,
        None => BTreeMap::new(),
    };
    let mut components = Vec::new();
    if let Some(list) = stack.get("components").cloned() {
        let items: Vec<Thunk> = match m.force(&list)? {
            Value::List(items) => items.to_vec(),
            Value::Attrs(attrs) => {
                // One component where a list (or a set) of them belongs.
                let found = tag(m, &attrs)?;
                if NODE_TAGS.iter().any(|t| found.as_deref() == Some(*t)) {
                    let name = string_attr(m, &attrs, "name")?.unwrap_or_default();
                    let mut error = spec_error(format!(
                        "`components` is the single node `{name}`, not a list of them"
                    ));
                    error.span = placement::written_at(m, stack, "components").or(error.span);
                    error.help = Some("put it in a list: `components = [ … ];`".into());
                    return Err(error);
                }
                attrs.iter().map(|(_, t)| t.clone()).collect()
            }
            other => {
                return Err(spec_error(format!(
                    "`components` is {}, not a list of components",
                    other.describe()
                )));
            }
        };
        for item in items {
            let value = m.force(&item)?;
            let found = match &value {
                Value::Attrs(attrs) => {
                    let found = tag(m, attrs)?;
                    NODE_TAGS.iter().find(|t| found.as_deref() == Some(**t)).map(|t| (attrs, *t))
                }
                _ => None,
            };
            let Some((attrs, node_tag)) = found else {
                return Err(spec_error(format!(
                    "`components` holds {}, not a node made with `infra.component`, \
                     `infra.step` or `infra.wait`",
                    value.describe()
                )));
            };
            let attrs = attrs.clone();
            let component_name = string_attr(m, &attrs, "name")?.unwrap_or_default();
            let spec = attrs.get("spec").cloned().unwrap_or_else(|| Thunk::value(Value::Null));
            components.push(ComponentDecl {
                name: component_name,
                span: decl_span(m, &attrs)?,
                spec,
                tag: node_tag,
            });
        }
    }
    let policies = stack.get("policies").cloned();
    let approval = stack.get("approval").cloned();
    Ok(StackDecl { name, span, settings, backend, providers, policies, approval, components })
}

/// A component's spec in its stack: the attributes, or the function applied to
/// `{ stack; component; settings; }`.
pub(super) fn place(
    m: &mut Machine,
    stack: &StackDecl,
    component: &ComponentDecl,
) -> EvalResult<Value> {
    let spec = m.force(&component.spec)?;
    if !spec.is_function() && !matches!(&spec, Value::Attrs(a) if a.get("__functor").is_some()) {
        return Ok(spec);
    }
    let context = Attrs::from_entries(vec![
        ("component".into(), Thunk::value(Value::String(NixString::from(component.name.as_str())))),
        ("settings".into(), stack.settings.clone()),
        ("stack".into(), Thunk::value(Value::String(NixString::from(stack.name.as_str())))),
    ]);
    m.apply(spec, Thunk::value(Value::attrs(context)), component.span)
}

/// A node being read: its stack, name, kind (its tag) and where it was declared.
struct Node<'a> {
    stack: &'a StackDecl,
    name: &'a str,
    tag: &'static str,
    span: Span,
}

/// A node's spec: the common parts (inputs, `dependsOn`, `requiredOutputs`, `mockOutputs`),
/// then its kind's.
fn read_component(
    m: &mut Machine,
    node: &Node<'_>,
    spec: &Value,
    project_root: &std::path::Path,
) -> EvalResult<Vec<Component>> {
    let (stack, span) = (node.stack, node.span);
    let address = format!("{}/{}", stack.name, node.name);
    let spec_error = |message: String| {
        EvalError::new(ErrorKind::InvalidSpec { address: address.clone(), message }, Some(span))
    };
    let Value::Attrs(spec) = spec else {
        return Err(spec_error(format!(
            "the spec is {}, not a set (or a function returning one)",
            spec.describe()
        )));
    };
    let (keys, what) = match node.tag {
        "infra.step" => (STEP_KEYS, "step"),
        "infra.wait" => (WAIT_KEYS, "wait"),
        _ => (COMPONENT_KEYS, "component"),
    };
    for key in spec.names() {
        if !keys.contains(&key) {
            let mut error = spec_error(format!("a {what} has no attribute `{key}`"));
            error.span = placement::written_at(m, spec, key).or(error.span);
            error.help = Some(match did_you_mean(key, keys.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("a {what} has {}", quoted(keys)),
            });
            return Err(error);
        }
    }
    let mut convert = ToJson {
        stack: &stack.name,
        owner: &address,
        span: Some(span),
        allow_placeholders: true,
        reads: BTreeSet::new(),
        secrets: BTreeSet::new(),
        root: project_root,
    };
    let mut inputs = BTreeMap::new();
    if let Some(thunk) = spec.get("inputs").cloned() {
        let value = m.force(&thunk)?;
        let Value::Attrs(attrs) = &value else {
            return Err(spec_error(format!("`inputs` is {}, not a set", value.describe())));
        };
        for (key, thunk) in attrs.iter() {
            let item = m.force(thunk)?;
            inputs.insert(key.to_string(), convert.convert(m, &item, &format!("inputs.{key}"))?);
        }
        m.input_sets.insert(address.clone(), attrs.clone());
    }
    let kind = match node.tag {
        "infra.step" | "infra.wait" => {
            check_input_names(&inputs, &address, span)?;
            let mut step = StepSpec { spec, address: &address, span, convert: &mut convert };
            Kind::Step(if node.tag == "infra.wait" {
                step.read_wait(m)?
            } else {
                step.read_step(m)?
            })
        }
        _ => Kind::Terraform(read_terraform(m, stack, spec, &address, span)?),
    };
    let reads = convert.reads;
    let secrets = convert.secrets;
    let mut depends_on: BTreeSet<String> = reads.iter().map(|r| r.address.clone()).collect();
    if let Kind::Terraform(terraform) = &kind {
        for file in terraform.files.values() {
            if let File::RemoteState(target) = file {
                depends_on.insert(target.clone());
            }
        }
    }
    for target in string_list(m, spec, "dependsOn", &address, span)? {
        depends_on.insert(absolute(&stack.name, &target));
    }
    let mut rerun_after = BTreeSet::new();
    for target in string_list(m, spec, "rerunAfter", &address, span)? {
        let target = absolute(&stack.name, &target);
        depends_on.insert(target.clone());
        rerun_after.insert(target);
    }
    let hooks = match &kind {
        Kind::Terraform(_) => hooks::read(m, spec, &address, span)?,
        Kind::Step(_) => Vec::new(),
    };
    let required_outputs =
        string_list(m, spec, "requiredOutputs", &address, span)?.into_iter().collect();
    let mock_outputs = match spec.get("mockOutputs").cloned() {
        Some(thunk) => json_object(m, &thunk, &stack.name, &address, Some(span), "mockOutputs")?,
        None => BTreeMap::new(),
    };
    let mut component = Component {
        stack: stack.name.clone(),
        name: node.name.to_owned(),
        inputs,
        depends_on,
        reads,
        secrets,
        required_outputs,
        mock_outputs,
        rerun_after,
        kind,
        span: Some(span),
    };
    let mut nodes = hooks::nodes(&mut component, hooks);
    nodes.insert(0, component);
    Ok(nodes)
}

/// The parts only a Terraform component has.
fn read_terraform(
    m: &mut Machine,
    stack: &StackDecl,
    spec: &Attrs,
    address: &str,
    span: Span,
) -> EvalResult<Terraform> {
    let spec_error = |message: String| {
        EvalError::new(ErrorKind::InvalidSpec { address: address.to_owned(), message }, Some(span))
    };
    let source = match spec.get("source").cloned() {
        None => None,
        Some(thunk) => match m.force(&thunk)? {
            Value::Path(path) => {
                let path = (*path).clone();
                m.record(Input::Exists(path.clone()));
                if !m.io.path_exists(&path).unwrap_or(false) {
                    let mut error =
                        spec_error(format!("the source `{}` does not exist", path.display()));
                    error.span = placement::written_at(m, spec, "source").or(error.span);
                    error.help = placement::missing_directory(m, &path);
                    return Err(error);
                }
                if m.io.read_dir(&path).is_err() {
                    let mut error = spec_error(format!(
                        "the source `{}` is a file, not a directory of Terraform code",
                        path.display()
                    ));
                    error.span = placement::written_at(m, spec, "source").or(error.span);
                    let parent = path.parent().map(|p| p.display().to_string());
                    error.help = parent.map(|p| format!("name its directory: `{p}`"));
                    return Err(error);
                }
                Some(path)
            }
            other => {
                return Err(spec_error(format!(
                    "`source` is {}, not a path to a directory of Terraform code",
                    other.describe()
                ))
                .with_help("write a path: `source = ./modules/vpc;`"));
            }
        },
    };
    let mut providers = stack.providers.clone();
    if let Some(thunk) = spec.get("providers").cloned() {
        for (key, value) in json_object(m, &thunk, &stack.name, address, Some(span), "providers")? {
            let merged = match providers.remove(&key) {
                Some(base) => merge(base, value),
                None => value,
            };
            providers.insert(key, merged);
        }
    }
    let backend = match spec.get("backend").cloned() {
        Some(thunk) => read_backend(m, &thunk, address, Some(span))?,
        None => stack.backend.clone(),
    };
    let (files, templates) = read_files(m, spec, &stack.name, address, span)?;
    let tool = string_attr(m, spec, "tool")?;
    let stack_policies = super::policy::functions(m, stack.policies.as_ref(), &stack.name, span)?;
    let own_policies = super::policy::functions(m, spec.get("policies"), address, span)?;
    let policies = stack_policies.len() + own_policies.len();
    let approval = match spec.get("approval") {
        Some(own) => super::read_approval(m, Some(own), address, span)?,
        None => super::read_approval(m, stack.approval.as_ref(), &stack.name, span)?,
    };
    Ok(Terraform {
        source,
        providers,
        backend,
        files,
        tool,
        templates,
        policies,
        approval,
        siblings: Vec::new(),
        rewrites: Vec::new(),
    })
}

fn read_files(
    m: &mut Machine,
    spec: &Attrs,
    stack: &str,
    address: &str,
    span: Span,
) -> EvalResult<(BTreeMap<String, File>, BTreeMap<String, PathBuf>)> {
    let mut files = BTreeMap::new();
    let mut templates = BTreeMap::new();
    let Some(thunk) = spec.get("files").cloned() else { return Ok((files, templates)) };
    let spec_error = |message: String| {
        EvalError::new(ErrorKind::InvalidSpec { address: address.to_owned(), message }, Some(span))
    };
    let value = m.force(&thunk)?;
    let Value::Attrs(attrs) = &value else {
        return Err(spec_error(format!("`files` is {}, not a set of files", value.describe())));
    };
    for (name, thunk) in attrs.iter() {
        let valid = !name.is_empty()
            && !name.starts_with('/')
            && name.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(spec_error(format!(
                "`files.\"{name}\"`: a file name must be a relative path inside the work directory"
            )));
        }
        if GENERATED_FILES.contains(&&**name) {
            return Err(spec_error(format!("`files.\"{name}\"` would replace a generated file"))
                .with_help("set `backend`, `providers` or `inputs` instead"));
        }
        let mut convert = ToJson {
            stack,
            owner: address,
            span: Some(span),
            allow_placeholders: false,
            reads: BTreeSet::new(),
            secrets: BTreeSet::new(),
            root: std::path::Path::new("/"),
        };
        let place = format!("files.\"{name}\"");
        let file = match m.force(thunk)? {
            Value::Path(path) => {
                m.record(Input::File((*path).clone()));
                File::Copy((*path).clone())
            }
            Value::String(s) => text_file(&mut convert, m, s, &place)?,
            Value::Attrs(file) => match tag(m, &file)?.as_deref() {
                Some("infra.file") => {
                    if let Some(json) = file.get("json").cloned() {
                        let json = m.force(&json)?;
                        File::Json(convert.convert(m, &json, &place)?)
                    } else {
                        if let Some(template) = file.get("template").cloned()
                            && let Value::Path(path) = m.force(&template)?
                        {
                            templates.insert(name.to_string(), (*path).clone());
                        }
                        let text = file.get("text").cloned().unwrap_or_else(|| Thunk::value(Value::string("")));
                        let text = crate::builtins::string(m, &text)?;
                        text_file(&mut convert, m, text, &place)?
                    }
                }
                Some("infra.remoteState") => {
                    let target = string_attr(m, &file, "component")?.unwrap_or_default();
                    File::RemoteState(absolute(stack, &target))
                }
                _ => return Err(spec_error(format!("`{place}` is a set, not a file"))
                    .with_help("use `infra.writeText`, `infra.writeJSON`, `infra.template`, a string or a path")),
            },
            other => return Err(spec_error(format!("`{place}` is {}, not a file", other.describe()))),
        };
        files.insert(name.to_string(), file);
    }
    Ok((files, templates))
}

fn text_file(
    convert: &mut ToJson<'_>,
    m: &mut Machine,
    text: NixString,
    place: &str,
) -> EvalResult<File> {
    // Converting checks the context: placeholders are not allowed in files.
    match convert.convert(m, &Value::String(text), place)? {
        Json::String(text) => Ok(File::Text(text)),
        _ => Ok(File::Text(String::new())),
    }
}

fn read_backend(
    m: &mut Machine,
    thunk: &Thunk,
    owner: &str,
    span: Option<Span>,
) -> EvalResult<Backend> {
    let value = m.force(thunk)?;
    let attrs = match &value {
        Value::Attrs(attrs) if tag(m, attrs)?.as_deref() == Some("infra.backend") => attrs.clone(),
        other => {
            return Err(EvalError::new(
                ErrorKind::InvalidSpec {
                    address: owner.to_owned(),
                    message: format!("`backend` is {}, not a backend", other.describe()),
                },
                span,
            )
            .with_help("write `backend = infra.backend \"s3\" { bucket = …; };`"));
        }
    };
    let ty = string_attr(m, &attrs, "type")?.unwrap_or_else(|| "local".to_owned());
    let config = match attrs.get("config").cloned() {
        Some(config) => json_object(m, &config, "", owner, span, "backend")?,
        None => BTreeMap::new(),
    };
    Ok(Backend { ty, config })
}

/// An attribute holding a set, as a JSON object without placeholders.
fn json_object(
    m: &mut Machine,
    thunk: &Thunk,
    stack: &str,
    owner: &str,
    span: Option<Span>,
    place: &str,
) -> EvalResult<BTreeMap<String, Json>> {
    let value = m.force(thunk)?;
    let mut convert = ToJson {
        stack,
        owner,
        span,
        allow_placeholders: false,
        reads: BTreeSet::new(),
        secrets: BTreeSet::new(),
        root: std::path::Path::new("/"),
    };
    match convert.convert(m, &value, place)? {
        Json::Object(map) => Ok(map.into_iter().collect()),
        _ => Err(EvalError::new(
            ErrorKind::InvalidSpec {
                address: owner.to_owned(),
                message: format!("`{place}` is {}, not a set", value.describe()),
            },
            span,
        )),
    }
}

pub(super) fn string_list(
    m: &mut Machine,
    attrs: &Attrs,
    key: &str,
    owner: &str,
    span: Span,
) -> EvalResult<Vec<String>> {
    let Some(thunk) = attrs.get(key).cloned() else { return Ok(Vec::new()) };
    let error = |got: &str| {
        EvalError::new(
            ErrorKind::InvalidSpec {
                address: owner.to_owned(),
                message: format!("`{key}` is {got}, not a list of strings"),
            },
            Some(span),
        )
    };
    let value = m.force(&thunk)?;
    let Value::List(items) = value else { return Err(error(value.describe())) };
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        match m.force(item)? {
            // Names and commands (a hook is run by the shell and logged): never a secret,
            // whose placeholder would reach them as text.
            Value::String(s) if s.is_secret() => {
                return Err(EvalError::new(
                    ErrorKind::SecretNotAllowed {
                        address: owner.to_owned(),
                        place: format!("`{key}`"),
                        why: "where it would be written out in the clear (a command line, a log)",
                    },
                    Some(span),
                )
                .with_help(
                    "pass the secret in `inputs` (or, to a step, in `env`): it reaches the \
                     tool in its environment only",
                ));
            }
            Value::String(s) => out.push(s.as_str().to_owned()),
            other => return Err(error(&format!("a list holding {}", other.describe()))),
        }
    }
    Ok(out)
}

fn string_attr(m: &mut Machine, attrs: &Attrs, key: &str) -> EvalResult<Option<String>> {
    match attrs.get(key).cloned() {
        Some(thunk) => Ok(Some(crate::builtins::string(m, &thunk)?.as_str().to_owned())),
        None => Ok(None),
    }
}

/// The `_type` of a set made by a domain builtin.
pub(super) fn tag(m: &mut Machine, attrs: &Attrs) -> EvalResult<Option<RcStr>> {
    match attrs.get("_type").cloned() {
        Some(thunk) => match m.force(&thunk)? {
            Value::String(s) => Ok(Some(s.text())),
            _ => Ok(None),
        },
        None => Ok(None),
    }
}

fn decl_span(m: &mut Machine, attrs: &Attrs) -> EvalResult<Option<Span>> {
    match attrs.get("__decl").cloned() {
        Some(thunk) => match m.force(&thunk)? {
            Value::Int(i) => {
                Ok(usize::try_from(i).ok().and_then(|i| m.decls.get(i).copied().flatten()))
            }
            _ => Ok(None),
        },
        None => Ok(None),
    }
}

/// A bare name is a component of `stack`; `STACK/NAME` is itself.
fn absolute(stack: &str, target: &str) -> String {
    if target.contains('/') { target.to_owned() } else { format!("{stack}/{target}") }
}

/// Deep merge: objects merge key by key, anything else is replaced (later wins).
fn merge(base: Json, over: Json) -> Json {
    match (base, over) {
        (Json::Object(mut base), Json::Object(over)) => {
            for (key, value) in over {
                let merged = match base.remove(&key) {
                    Some(old) => merge(old, value),
                    None => value,
                };
                base.insert(key, merged);
            }
            Json::Object(base)
        }
        (_, over) => over,
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
