//! Evaluation errors as data: one `ErrorKind` variant per stable code, a span, labels, a
//! help line and the evaluation trace. `throw` and failed `assert`s are the catchable kinds
//! (`builtins.tryEval`); everything else stops evaluation.

use std::fmt;

use lang::{Diagnostic, Severity, Span};

pub type EvalResult<T> = Result<T, Box<EvalError>>;

/// What went wrong during evaluation. Each variant is one code, `infra::eval::<snake_case>`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The source of a file could not be parsed; the syntax diagnostics are attached.
    Parse(Vec<Diagnostic>),
    /// A variable that no `let`, function argument, `rec` set or `with` defines.
    UndefinedVariable { name: String },
    /// Selecting an attribute the set does not have.
    MissingAttribute { name: String },
    /// A value of the wrong type for an operation or a builtin.
    TypeError { expected: &'static str, got: &'static str },
    /// Calling something that is not a function.
    NotAFunction { got: &'static str },
    /// Calling a function with a set that lacks an argument it needs.
    MissingArgument { name: String },
    /// Calling a function with a set that has an argument it does not take (no `...`).
    UnexpectedArgument { name: String },
    /// Integer division by zero.
    DivisionByZero,
    /// An integer operation whose result does not fit in 64 bits.
    IntegerOverflow,
    /// A value that needs itself to be computed.
    InfiniteRecursion,
    /// A string or list larger than the evaluator allows (128 MiB, 2^24 elements): a program
    /// that doubles a value in a loop stops here instead of exhausting memory.
    TooLarge { what: String },
    /// Recursion deeper than the evaluator allows.
    MaxCallDepth,
    /// The process holds more memory than it may (`INFRA_MAX_MEMORY`: `8G`, `512M`, `off`; by
    /// default three quarters of the machine's memory or of its control group's limit): a
    /// structure that grows in breadth without end stops here instead of exhausting the machine.
    MemoryLimit { used: u64, limit: u64 },
    /// `throw` (catchable by `builtins.tryEval`).
    Throw { message: String },
    /// `abort`.
    Abort { message: String },
    /// An `assert` whose condition is false (catchable by `builtins.tryEval`).
    /// `assert COND; …` with COND false: the condition as written (shortened).
    AssertionFailed { condition: String },
    /// A value that cannot be turned into a string where one is needed.
    NotCoercible { got: &'static str },
    /// Comparing values that have no order (functions, sets, mixed types).
    NotComparable { left: &'static str, right: &'static str },
    /// A list index or substring bound outside the value.
    OutOfBounds { detail: String },
    /// A file or directory that could not be read.
    Io { path: String, message: String },
    /// A builtin rejected its arguments; the message says how.
    BadArgument { builtin: &'static str, message: String },
    /// A `{{key}}` placeholder of an `infra.template` file names a key its variables lack.
    TemplateMissingKey { key: String },
    /// A top-level attribute of the project that is not a stack made with `infra.stack`.
    NotAStack { name: String },
    /// Two stacks with one name.
    DuplicateStack { name: String },
    /// Two components with one name in one stack.
    DuplicateComponent { address: String },
    /// A component spec (or stack spec) of the wrong shape: an unknown attribute, a wrong type.
    InvalidSpec { address: String, message: String },
    /// An output placeholder, `dependsOn` or `infra.remoteState` naming a component that is
    /// not in the project.
    UnknownComponent { address: String, from: String },
    /// Components that depend on each other in a circle.
    DependencyCycle { cycle: String },
    /// A reference to an output (`vpc.outputs.NAME`, `infra.output`, `requiredOutputs`,
    /// `mockOutputs`) that the component's Terraform files do not declare (`output "NAME"`).
    // `from`: the reading component, or `requiredOutputs`/`mockOutputs`.
    UnknownOutput { address: String, output: String, from: String },
    /// An input passed to a component whose Terraform files declare no such variable
    /// (`variable "NAME"`).
    UnknownInput { address: String, input: String },
    /// `infra check`: a variable a component's module requires (no `default`) that its
    /// inputs give no value (nor a values file in the directory, nor `TF_VAR_…`).
    MissingInput { address: String, input: String },
    /// An operation that would reveal a secret's value (`stringLength`, `==`, `match`, …):
    /// evaluation never sees secrets; pass them to `inputs`.
    SecretInspected { operation: String },
    /// A secret where it would be written to disk (a file, a template, a backend or provider
    /// configuration): only `inputs` can take one.
    SecretNotAllowed { address: String, place: String, why: &'static str },
    /// An output placeholder where the value must be known before Terraform runs (backend,
    /// providers, files): pass it through `inputs` instead.
    PlaceholderNotAllowed { address: String, place: String },
}

impl ErrorKind {
    /// The stable diagnostic code.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Parse(_) => "infra::eval::parse",
            ErrorKind::UndefinedVariable { .. } => "infra::eval::undefined_variable",
            ErrorKind::MissingAttribute { .. } => "infra::eval::missing_attribute",
            ErrorKind::TypeError { .. } => "infra::eval::type_error",
            ErrorKind::NotAFunction { .. } => "infra::eval::not_a_function",
            ErrorKind::MissingArgument { .. } => "infra::eval::missing_argument",
            ErrorKind::UnexpectedArgument { .. } => "infra::eval::unexpected_argument",
            ErrorKind::DivisionByZero => "infra::eval::division_by_zero",
            ErrorKind::IntegerOverflow => "infra::eval::integer_overflow",
            ErrorKind::InfiniteRecursion => "infra::eval::infinite_recursion",
            ErrorKind::MaxCallDepth => "infra::eval::max_call_depth",
            ErrorKind::MemoryLimit { .. } => "infra::eval::memory_limit",
            ErrorKind::TooLarge { .. } => "infra::eval::too_large",
            ErrorKind::Throw { .. } => "infra::eval::throw",
            ErrorKind::Abort { .. } => "infra::eval::abort",
            ErrorKind::AssertionFailed { .. } => "infra::eval::assertion_failed",
            ErrorKind::NotCoercible { .. } => "infra::eval::not_coercible",
            ErrorKind::NotComparable { .. } => "infra::eval::not_comparable",
            ErrorKind::OutOfBounds { .. } => "infra::eval::out_of_bounds",
            ErrorKind::Io { .. } => "infra::eval::io",
            ErrorKind::BadArgument { .. } => "infra::eval::bad_argument",
            ErrorKind::TemplateMissingKey { .. } => "infra::eval::template_missing_key",
            ErrorKind::NotAStack { .. } => "infra::project::not_a_stack",
            ErrorKind::DuplicateStack { .. } => "infra::project::duplicate_stack",
            ErrorKind::DuplicateComponent { .. } => "infra::project::duplicate_component",
            ErrorKind::InvalidSpec { .. } => "infra::project::invalid_spec",
            ErrorKind::UnknownComponent { .. } => "infra::project::unknown_component",
            ErrorKind::DependencyCycle { .. } => "infra::project::dependency_cycle",
            ErrorKind::UnknownOutput { .. } => "infra::project::unknown_output",
            ErrorKind::UnknownInput { .. } => "infra::project::unknown_input",
            ErrorKind::MissingInput { .. } => "infra::project::missing_input",
            ErrorKind::PlaceholderNotAllowed { .. } => "infra::project::placeholder_not_allowed",
            ErrorKind::SecretInspected { .. } => "infra::eval::secret_inspected",
            ErrorKind::SecretNotAllowed { .. } => "infra::project::secret_not_allowed",
        }
    }

    /// Errors `builtins.tryEval` catches, as in Nix.
    pub fn is_catchable(&self) -> bool {
        // A search path that does not exist is thrown in Nix (`tryEval <nope>` catches it).
        matches!(self, ErrorKind::Throw { .. } | ErrorKind::AssertionFailed { .. })
            || matches!(self, ErrorKind::Io { path, .. } if path.starts_with('<'))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Parse(diagnostics) => {
                write!(f, "the file has {} syntax error(s)", diagnostics.len())
            }
            ErrorKind::UndefinedVariable { name } => write!(f, "undefined variable `{name}`"),
            ErrorKind::MissingAttribute { name } => write!(f, "attribute `{name}` missing"),
            ErrorKind::TypeError { expected, got } => {
                write!(f, "expected {expected}, but found {got}")
            }
            ErrorKind::NotAFunction { got } => write!(f, "attempt to call {got}, not a function"),
            ErrorKind::MissingArgument { name } => {
                write!(f, "function called without required argument `{name}`")
            }
            ErrorKind::UnexpectedArgument { name } => {
                write!(f, "function called with unexpected argument `{name}`")
            }
            ErrorKind::DivisionByZero => write!(f, "division by zero"),
            ErrorKind::IntegerOverflow => write!(f, "integer overflow"),
            ErrorKind::InfiniteRecursion => write!(f, "infinite recursion encountered"),
            ErrorKind::MaxCallDepth => {
                write!(f, "maximum call depth exceeded (possible infinite recursion)")
            }
            ErrorKind::Throw { message } => write!(f, "{message}"),
            ErrorKind::Abort { message } => write!(f, "evaluation aborted with: {message}"),
            ErrorKind::TooLarge { what } => write!(f, "{what}"),
            ErrorKind::MemoryLimit { used, limit } => write!(
                f,
                "evaluation holds {} MiB of memory, more than the {} MiB allowed",
                used >> 20,
                limit >> 20
            ),
            ErrorKind::AssertionFailed { condition } => {
                write!(f, "assertion `{condition}` failed")
            }
            ErrorKind::NotCoercible { got } => write!(f, "cannot coerce {got} to a string"),
            ErrorKind::NotComparable { left, right } => {
                write!(f, "cannot compare {left} with {right}")
            }
            ErrorKind::OutOfBounds { detail } => write!(f, "{detail}"),
            ErrorKind::Io { path, message } => write!(f, "cannot read `{path}`: {message}"),
            ErrorKind::BadArgument { builtin, message } => write!(f, "`{builtin}`: {message}"),
            ErrorKind::TemplateMissingKey { key } => {
                write!(f, "the template's variables have no `{key}`")
            }
            ErrorKind::NotAStack { name } => {
                write!(f, "`{name}` is not a stack (a value made with `infra.stack`)")
            }
            ErrorKind::DuplicateStack { name } => write!(f, "two stacks are named `{name}`"),
            ErrorKind::DuplicateComponent { address } => {
                write!(f, "two components have the address `{address}`")
            }
            ErrorKind::InvalidSpec { address, message } => write!(f, "`{address}`: {message}"),
            ErrorKind::UnknownComponent { address, from } => {
                write!(f, "`{from}` refers to `{address}`, which is not a component of the project")
            }
            ErrorKind::DependencyCycle { cycle } => write!(f, "dependency cycle: {cycle}"),
            ErrorKind::UnknownOutput { address, output, from } => match from.as_str() {
                "requiredOutputs" | "mockOutputs" => write!(
                    f,
                    "`{address}`: `{from}` names the output `{output}`, which its module does not \
                     declare"
                ),
                _ => write!(
                    f,
                    "`{from}` reads the output `{output}` of `{address}`, whose module does not \
                     declare it"
                ),
            },
            ErrorKind::UnknownInput { address, input } => write!(
                f,
                "`{address}` passes the input `{input}`, which its module does not declare as a \
                 variable"
            ),
            ErrorKind::MissingInput { address, input } => write!(
                f,
                "`{address}` gives no value for `{input}`, a variable its module requires (it has \
                 no default)"
            ),
            ErrorKind::SecretInspected { operation } => {
                write!(f, "{operation} would reveal the value of a secret")
            }
            ErrorKind::SecretNotAllowed { address, place, why } => {
                write!(f, "`{address}`: a secret in {place}, {why}")
            }
            ErrorKind::PlaceholderNotAllowed { address, place } => write!(
                f,
                "`{address}`: an output placeholder in {place}, which must be known before \
                 Terraform runs"
            ),
        }
    }
}

/// One evaluation error: what, where, and how evaluation got there.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub kind: ErrorKind,
    pub span: Option<Span>,
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
    /// Where evaluation was when it failed, most recent first: `(span, "while …")`.
    pub trace: Vec<(Span, String)>,
    /// Errors found independently after this one (another component's spec), shown with it.
    pub also: Vec<EvalError>,
}

impl EvalError {
    pub(crate) fn new(kind: ErrorKind, span: Option<Span>) -> Box<EvalError> {
        Box::new(EvalError {
            kind,
            span,
            labels: Vec::new(),
            help: None,
            trace: Vec::new(),
            also: Vec::new(),
        })
    }

    pub(crate) fn with_help(mut self: Box<Self>, help: impl Into<String>) -> Box<EvalError> {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn with_label(
        mut self: Box<Self>,
        span: Span,
        text: impl Into<String>,
    ) -> Box<Self> {
        self.labels.push((span, text.into()));
        self
    }

    /// The diagnostics to show: the error itself (with its trace folded into labels in other
    /// frames), or the syntax errors of a file that did not parse.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut diagnostics = self.own_diagnostics();
        for other in &self.also {
            diagnostics.extend(other.diagnostics());
        }
        diagnostics
    }

    fn own_diagnostics(&self) -> Vec<Diagnostic> {
        if let ErrorKind::Parse(diagnostics) = &self.kind {
            return diagnostics.clone();
        }
        let Some(primary) = self.span.or_else(|| self.trace.first().map(|(s, _)| *s)) else {
            return Vec::new();
        };
        let mut labels = self.labels.clone();
        let mut seen = 0;
        for (span, what) in &self.trace {
            // Long traces (deep recursion) are folded to their first frames.
            if seen == 8 {
                labels.push((*span, format!("… and {} more frames", self.trace.len() - 8)));
                break;
            }
            if *span != primary {
                labels.push((*span, what.clone()));
                seen += 1;
            }
        }
        vec![Diagnostic {
            code: self.kind.code(),
            severity: Severity::Error,
            message: self.kind.to_string(),
            primary,
            labels,
            help: self.help.clone(),
        }]
    }
}

/// Refuses to look inside a secret.
pub(crate) fn reject_secret(s: &crate::value::NixString, operation: &str) -> EvalResult<()> {
    if s.is_secret() {
        return Err(EvalError::new(ErrorKind::SecretInspected { operation: operation.to_owned() }, None)
            .with_help("a secret (`infra.secret`) can only be passed to a component's `inputs`; evaluation never sees its value"));
    }
    Ok(())
}

/// The most bytes a string may have.
pub(crate) const MAX_STRING: usize = 1 << 27;
/// The most elements a list may have.
pub(crate) const MAX_LIST: usize = 1 << 24;

/// `Err` when a string of `len` bytes would be too large.
pub(crate) fn check_string(len: usize, span: Option<Span>) -> EvalResult<()> {
    if len <= MAX_STRING {
        return Ok(());
    }
    let what = format!("a string of {len} bytes is larger than the {MAX_STRING} allowed");
    Err(EvalError::new(ErrorKind::TooLarge { what }, span))
}

/// `Err` when a list of `len` elements would be too large.
pub(crate) fn check_list(len: usize, span: Option<Span>) -> EvalResult<()> {
    if len <= MAX_LIST {
        return Ok(());
    }
    let what = format!("a list of {len} elements is longer than the {MAX_LIST} allowed");
    Err(EvalError::new(ErrorKind::TooLarge { what }, span))
}

pub(crate) fn io_error(
    path: &std::path::Path,
    message: impl fmt::Display,
    at: Option<Span>,
) -> Box<EvalError> {
    EvalError::new(
        ErrorKind::Io { path: path.display().to_string(), message: message.to_string() },
        at,
    )
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}
