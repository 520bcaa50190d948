//! `infra lsp` as an editor sees it: the real binary over stdio, speaking the protocol —
//! initialize, a document opened with a mistake (its diagnostic, with its range), hover (the
//! binding and its value; a component's inputs in every stack), go to definition, completion after `infra.`, document symbols,
//! formatting, then shutdown and exit.

#![allow(clippy::disallowed_methods)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{ChildStdin, ChildStdout, Command, Stdio},
};

use serde_json::{Value, json};

struct Client {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Client {
    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.read();
            if message["id"] == id {
                return message["result"].clone();
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The next message whose method is `method`.
    fn wait_for(&mut self, method: &str) -> Value {
        loop {
            let message = self.read();
            if message["method"] == method {
                return message["params"].clone();
            }
        }
    }

    fn read(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stdout.read_line(&mut line).expect("read a header");
            assert!(!line.is_empty(), "the server closed its output");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).expect("read a body");
        serde_json::from_slice(&body).expect("JSON")
    }
}

#[test]
fn the_language_server_speaks_the_protocol() {
    let dir = crate::support::scratch_dir("lsp");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_infra"))
        .arg("lsp")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start infra lsp");
    let mut client = Client {
        stdin: child.stdin.take().expect("stdin"),
        stdout: BufReader::new(child.stdout.take().expect("stdout")),
    };
    let init = client.request(1, "initialize", json!({ "capabilities": {} }));
    assert_eq!(init["capabilities"]["hoverProvider"], true);
    client.notify("initialized", json!({}));

    let uri = format!("file://{}/main.infra", dir.display());
    let text = "let\n  replicas = 2 + 1;\n  app = infra.component \"app\" { inputs = { n = replicas; m = replicaz; }; };\nin { dev = infra.stack \"dev\" { components = [ app ]; }; }\n";
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "infra", "version": 1, "text": text } }),
    );
    let published = client.wait_for("textDocument/publishDiagnostics");
    let diagnostic = &published["diagnostics"][0];
    assert_eq!(diagnostic["code"], "infra::eval::undefined_variable", "{published}");
    assert!(
        diagnostic["message"].as_str().unwrap_or_default().contains("did you mean `replicas`?")
    );
    let line = text.lines().nth(2).unwrap_or_default();
    let typo = line.find("replicaz").unwrap_or(0);
    assert_eq!(diagnostic["range"]["start"], json!({ "line": 2, "character": typo }));
    let used = line.find("= replicas").unwrap_or(0) + 3;

    let doc = json!({ "uri": uri });
    // `net.outputs.id` → `output "id"` in the module's `.tf` file.
    std::fs::create_dir_all(dir.join("mod")).expect("mkdir");
    std::fs::write(dir.join("mod/main.tf"), "variable \"x\" {}\n\noutput \"id\" { value = 1 }\n")
        .expect("write");
    let other = format!("file://{}/other.infra", dir.display());
    let net = "let\n  net = infra.component \"net\" { source = ./mod; };\nin net.outputs.id\n";
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": other, "languageId": "infra", "version": 1, "text": net } }),
    );
    let found = client.request(
        8,
        "textDocument/definition",
        json!({ "textDocument": { "uri": other }, "position": { "line": 2, "character": 16 } }),
    );
    assert!(found["uri"].as_str().is_some_and(|u| u.ends_with("/mod/main.tf")), "{found}");
    assert_eq!(found["range"]["start"]["line"], 2);
    let hover = client.request(
        2,
        "textDocument/hover",
        json!({ "textDocument": doc, "position": { "line": 2, "character": used } }),
    );
    let shown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(shown.contains("replicas = 2 + 1;") && shown.contains("value: `3`"), "{hover}");

    let definition = client.request(
        3,
        "textDocument/definition",
        json!({ "textDocument": doc, "position": { "line": 2, "character": used } }),
    );
    assert_eq!(definition["range"]["start"], json!({ "line": 1, "character": 2 }), "{definition}");

    // Saved as a project that evaluates: hover inside a component shows its inputs per stack.
    let project = "let\n  app = infra.component \"app\" (ctx: {\n    source = ./mod;\n    inputs.x = \"${ctx.stack}-${toString ctx.settings.n}\";\n  });\n  env = name: n: infra.stack name { settings.n = n; components = [ app ]; };\nin { dev = env \"dev\" 1; prod = env \"prod\" 3; }\n";
    std::fs::write(dir.join("main.infra"), project).expect("write");
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [ { "text": project } ] }),
    );
    client.wait_for("textDocument/publishDiagnostics");
    client.notify("textDocument/didSave", json!({ "textDocument": { "uri": uri } }));
    let published = client.wait_for("textDocument/publishDiagnostics");
    assert_eq!(published["diagnostics"], json!([]), "{published}");
    let hover = client.request(
        9,
        "textDocument/hover",
        json!({ "textDocument": doc, "position": { "line": 3, "character": 6 } }),
    );
    let shown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        shown.contains("**dev/app** inputs")
            && shown.contains("\"x\": \"dev-1\"")
            && shown.contains("**prod/app** inputs")
            && shown.contains("\"x\": \"prod-3\""),
        "{hover}"
    );
    // Outside every component: no hover.
    let outside = client.request(
        10,
        "textDocument/hover",
        json!({ "textDocument": doc, "position": { "line": 6, "character": 1 } }),
    );
    assert_eq!(outside, Value::Null);

    // Completion after `infra.` offers the API.
    let edited = text.replace("m = replicaz;", "m = infra.;");
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [ { "text": edited } ] }),
    );
    let column = edited.lines().nth(2).and_then(|l| l.find("infra.;")).unwrap_or(0) + 6;
    let items = client.request(
        4,
        "textDocument/completion",
        json!({ "textDocument": doc, "position": { "line": 2, "character": column } }),
    );
    let labels: Vec<&str> =
        items.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str()).collect();
    assert!(
        ["component", "stack", "step", "lib", "secret"].iter().all(|n| labels.contains(n)),
        "{labels:?}"
    );

    let symbols = client.request(5, "textDocument/documentSymbol", json!({ "textDocument": doc }));
    let names: Vec<&str> =
        symbols.as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["app", "dev"]);

    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 4 }, "contentChanges": [ { "text": "{\nfoo   = 1;\n}\n" } ] }),
    );
    let edits = client.request(
        6,
        "textDocument/formatting",
        json!({ "textDocument": doc, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(edits[0]["newText"], "{\n  foo = 1;\n}\n");

    client.request(7, "shutdown", Value::Null);
    client.notify("exit", Value::Null);
    let status = child.wait().expect("wait");
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
