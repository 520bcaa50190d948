//! `infra lsp`: a language server over stdio (lsp-server, lsp-types). Diagnostics as you type
//! (syntax, undefined variables) and, for a project's `main.infra` when it is opened or saved,
//! the project's own checks (unknown component attributes, unknown outputs, cycles); hover
//! (`hover`: a variable's binding and value, a component's evaluated inputs in every stack);
//! go to definition (`let`, `rec`, function arguments, imported files); completion of
//! `infra.…`, `infra.lib.…`, `builtins.…` and of the variables in scope; the document's stacks
//! and components as symbols; formatting with `infra fmt`.

use std::{collections::HashMap, path::PathBuf};

mod hover;

use evaluator::Evaluator;
use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionOptions, Diagnostic, DiagnosticSeverity,
    DocumentSymbol, GotoDefinitionResponse, HoverProviderCapability, InitializeParams, Location,
    NumberOrString, OneOf, Position, PublishDiagnosticsParams, Range, ServerCapabilities,
    SymbolKind, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
};

use crate::io::RealIo;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Serves one editor on stdin/stdout until it says `exit`.
pub(crate) fn serve() -> Result<(), Failure> {
    let (connection, threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into()]),
            ..CompletionOptions::default()
        }),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    };
    let init = connection.initialize(serde_json::to_value(capabilities)?)?;
    let _: InitializeParams = serde_json::from_value(init).unwrap_or_default();
    let mut server =
        Server { connection: &connection, documents: HashMap::new(), placed: HashMap::new() };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    break;
                }
                server.request(request)?;
            }
            Message::Notification(notification) => server.notification(notification)?,
            Message::Response(_) => {}
        }
    }
    drop(connection);
    threads.join()?;
    Ok(())
}

struct Server<'a> {
    connection: &'a Connection,
    documents: HashMap<String, String>,
    /// The components each project file declares, from its last evaluation.
    placed: HashMap<String, Vec<hover::Placed>>,
}

impl Server<'_> {
    fn notification(&mut self, notification: Notification) -> Result<(), Failure> {
        let params = notification.params;
        let uri = params.pointer("/textDocument/uri").and_then(|u| u.as_str()).map(str::to_owned);
        let Some(uri) = uri else { return Ok(()) };
        match notification.method.as_str() {
            "textDocument/didOpen" => {
                let text = params.pointer("/textDocument/text").and_then(|t| t.as_str());
                self.documents.insert(uri.clone(), text.unwrap_or_default().to_owned());
                self.publish(&uri, true)
            }
            "textDocument/didChange" => {
                let changes = params.get("contentChanges").and_then(|c| c.as_array());
                if let Some(text) = changes.and_then(|c| c.last()).and_then(|c| c["text"].as_str())
                {
                    self.documents.insert(uri.clone(), text.to_owned());
                    // Placed by the last evaluation of the saved file: stale once edited.
                    self.placed.remove(&uri);
                }
                self.publish(&uri, false)
            }
            "textDocument/didSave" => self.publish(&uri, true),
            "textDocument/didClose" => {
                self.documents.remove(&uri);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn request(&mut self, request: Request) -> Result<(), Failure> {
        let params = &request.params;
        let uri = params.pointer("/textDocument/uri").and_then(|u| u.as_str()).unwrap_or_default();
        let text = self.documents.get(uri).cloned().unwrap_or_default();
        let offset = params
            .get("position")
            .and_then(|p| serde_json::from_value::<Position>(p.clone()).ok())
            .map(|p| offset_of(&text, p));
        let result = match (request.method.as_str(), offset) {
            ("textDocument/hover", Some(at)) => {
                let placed = self.placed.get(uri).map_or(&[][..], Vec::as_slice);
                serde_json::to_value(hover::hover(uri, &text, at, placed))?
            }
            ("textDocument/definition", Some(at)) => {
                serde_json::to_value(definition(uri, &text, at))?
            }
            ("textDocument/completion", Some(at)) => serde_json::to_value(completion(&text, at))?,
            ("textDocument/documentSymbol", _) => serde_json::to_value(symbols(&text))?,
            ("textDocument/formatting", _) => serde_json::to_value(formatting(&text))?,
            _ => serde_json::Value::Null,
        };
        self.send(Message::Response(Response::new_ok(request.id, result)))
    }

    fn send(&self, message: Message) -> Result<(), Failure> {
        self.connection.sender.send(message)?;
        Ok(())
    }

    /// The document's diagnostics; with `project`, a `main.infra`'s project checks too.
    fn publish(&mut self, uri: &str, project: bool) -> Result<(), Failure> {
        let text = self.documents.get(uri).cloned().unwrap_or_default();
        let path = path_of(uri);
        let mut diagnostics = Vec::new();
        let parse = lang::parse(&text);
        let mut sources = lang::SourceMap::new();
        let file = sources.add(uri.to_owned(), text.clone());
        for error in parse.errors() {
            let d = lang::Diagnostic::from_syntax_error(file, error);
            diagnostics.push(to_lsp(&d, &text));
        }
        if parse.errors().is_empty() {
            let mut evaluator = Evaluator::new(Box::new(RealIo::default()));
            let base =
                path.as_ref().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_default();
            for d in evaluator.check_text(uri, &text, base) {
                diagnostics.push(to_lsp(&d, &text));
            }
            let is_project = path.as_ref().is_some_and(|p| p.ends_with("main.infra"));
            if diagnostics.is_empty() && project && is_project {
                let entry = path.clone().unwrap_or_default();
                let mut evaluator = Evaluator::new(Box::new(RealIo::default()));
                let shown = entry.display().to_string();
                match evaluator.eval_project(&entry) {
                    Ok(project) => {
                        let placed = hover::placed(&evaluator, &project, &shown);
                        self.placed.insert(uri.to_owned(), placed);
                    }
                    Err(error) => {
                        for d in error.diagnostics() {
                            if evaluator.sources().name(d.primary.file) == shown {
                                diagnostics.push(to_lsp(&d, &text));
                            }
                        }
                    }
                }
            }
        }
        // An address the editor sent that is not a URI gets no diagnostics (and no crash).
        let Ok(uri) = uri.parse::<Uri>() else { return Ok(()) };
        let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
        let notification = Notification::new("textDocument/publishDiagnostics".into(), params);
        self.send(Message::Notification(notification))
    }
}

/// A diagnostic whose primary span is in `text`.
fn to_lsp(d: &lang::Diagnostic, text: &str) -> Diagnostic {
    let range = std::ops::Range::<usize>::from(d.primary.range);
    let range = Range::new(position_of(text, range.start), position_of(text, range.end));
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    Diagnostic {
        range,
        severity: Some(DiagnosticSeverity::ERROR),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some("infra".into()),
        message,
        ..Diagnostic::default()
    }
}

fn definition(uri: &str, text: &str, at: usize) -> Option<GotoDefinitionResponse> {
    if let Some(found) = output_definition(uri, text, at) {
        return Some(found);
    }
    let target_uri = uri.parse::<Uri>().ok()?;
    if let Some(range) = lang::ide::definition(text, at) {
        let range = Range::new(
            position_of(text, usize::from(range.start())),
            position_of(text, usize::from(range.end())),
        );
        return Some(GotoDefinitionResponse::Scalar(Location { uri: target_uri, range }));
    }
    // A relative path (`import ./network.infra`): that file.
    let start =
        text[..at].rfind(|c: char| c.is_whitespace() || "([{;=".contains(c)).map_or(0, |i| i + 1);
    let end = text[at..]
        .find(|c: char| c.is_whitespace() || ")]};".contains(c))
        .map_or(text.len(), |i| at + i);
    let word = &text[start..end];
    if word.starts_with("./") || word.starts_with("../") {
        let dir = path_of(uri)?.parent()?.to_path_buf();
        let mut file = dir.join(word);
        if file.is_dir() {
            file = file.join("default.infra");
        }
        let uri = format!("file://{}", file.display()).parse::<Uri>().ok()?;
        return Some(GotoDefinitionResponse::Scalar(Location { uri, range: Range::default() }));
    }
    None
}

/// `comp.outputs.NAME` → the `output "NAME"` block in the `.tf` files of `comp`'s module
/// (`comp` bound in this file to `infra.component … { source = ./dir; … }`).
fn output_definition(uri: &str, text: &str, at: usize) -> Option<GotoDefinitionResponse> {
    let word = |c: char| c.is_alphanumeric() || "_-'.".contains(c);
    let start = text[..at].rfind(|c: char| !word(c)).map_or(0, |i| i + 1);
    let end = text[at..].find(|c: char| !word(c)).map_or(text.len(), |i| at + i);
    let path: Vec<&str> = text[start..end].split('.').collect();
    let [component, "outputs", output] = path.as_slice() else { return None };
    let binding = lang::ide::definition(text, start)?;
    debug_assert!(!component.is_empty());
    // The component's `source`, written in its binding: `= infra.component "…" { source = …`.
    let mut limit = (usize::from(binding.end()) + 4000).min(text.len());
    while !text.is_char_boundary(limit) {
        limit -= 1;
    }
    let after = &text[usize::from(binding.end())..limit];
    let value = after.trim_start().strip_prefix('=')?.trim_start();
    if !value.starts_with("infra.component") {
        return None;
    }
    let source = value.split("source").nth(1)?.trim_start().strip_prefix('=')?.trim_start();
    let source: String = source.chars().take_while(|c| !c.is_whitespace() && *c != ';').collect();
    let dir = path_of(uri)?.parent()?.join(source);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    let needle = format!("output \"{output}\"");
    for file in files {
        let Ok(tf) = std::fs::read_to_string(&file) else { continue };
        if let Some(line) = tf.lines().position(|l| l.trim_start().starts_with(&needle)) {
            let uri = format!("file://{}", file.display()).parse::<Uri>().ok()?;
            let position = Position::new(line as u32, 0);
            let range = Range::new(position, position);
            return Some(GotoDefinitionResponse::Scalar(Location { uri, range }));
        }
    }
    None
}

fn completion(text: &str, at: usize) -> Vec<CompletionItem> {
    let before = &text[..at];
    let word_start =
        before.rfind(|c: char| !(c.is_alphanumeric() || "._-'".contains(c))).map_or(0, |i| i + 1);
    let word = &before[word_start..];
    let (base, kind) = match word.rsplit_once('.') {
        Some((base, _)) => (Some(base.to_owned()), CompletionItemKind::FIELD),
        None => (None, CompletionItemKind::VARIABLE),
    };
    let names: Vec<String> = match base.as_deref() {
        Some(base @ ("infra" | "infra.lib" | "builtins" | "infra.lib.policy")) => attr_names(base),
        Some("lib") => attr_names("infra.lib"),
        Some(_) => Vec::new(),
        None => {
            let mut names = lang::ide::names_in_scope(text, at);
            names.extend(
                ["infra", "builtins", "import", "map", "toString", "throw"].map(String::from),
            );
            names
        }
    };
    names
        .into_iter()
        .map(|label| CompletionItem { label, kind: Some(kind), ..CompletionItem::default() })
        .collect()
}

/// The attribute names of `expr` (`infra.lib`), evaluated.
fn attr_names(expr: &str) -> Vec<String> {
    let mut evaluator = Evaluator::new(Box::new(RealIo::default()));
    let source = format!("builtins.attrNames ({expr})");
    evaluator
        .eval_text("(completion)", &source, PathBuf::from("/"))
        .and_then(|v| evaluator.to_json(&v))
        .ok()
        .and_then(|json| serde_json::from_str::<Vec<String>>(&json).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !n.starts_with('_'))
        .collect()
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must still be given.
fn symbols(text: &str) -> Vec<DocumentSymbol> {
    lang::ide::symbols(text)
        .into_iter()
        .map(|s| {
            let range = Range::new(
                position_of(text, usize::from(s.range.start())),
                position_of(text, usize::from(s.range.end())),
            );
            DocumentSymbol {
                name: s.name,
                detail: Some(s.kind.to_owned()),
                kind: if s.kind == "stack" { SymbolKind::NAMESPACE } else { SymbolKind::OBJECT },
                tags: None,
                deprecated: None,
                range,
                selection_range: range,
                children: None,
            }
        })
        .collect()
}

fn formatting(text: &str) -> Option<Vec<TextEdit>> {
    let formatted = lang::format(text).ok()?;
    if formatted == text {
        return Some(Vec::new());
    }
    let end = position_of(text, text.len());
    Some(vec![TextEdit { range: Range::new(Position::new(0, 0), end), new_text: formatted }])
}

/// The file of a `file://` URI.
pub(crate) fn path_of(uri: &str) -> Option<PathBuf> {
    uri.strip_prefix("file://").map(|p| PathBuf::from(percent_decode(p)))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A byte offset as an LSP position (line, UTF-16 column).
fn position_of(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column: usize = text[line_start..offset].chars().map(char::len_utf16).sum();
    Position::new(line as u32, column as u32)
}

/// An LSP position as a byte offset (clamped to the line and the text).
fn offset_of(text: &str, position: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..position.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let mut units = 0;
    for (i, c) in text[line_start..].char_indices() {
        if units >= position.character as usize || c == '\n' {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    text.len()
}
