//! Fuzzing on stable Rust: programs made by mutating real files and by a grammar of builtin
//! calls with arguments of every type, run through the lexer, the parser and the evaluator
//! (`--strict` printing and JSON), for a given time. A panic or a crash (a signal: stack
//! overflow, abort) fails the run and keeps the program; a program running longer than the
//! watchdog allows is kept as slow (not a failure: a mutation can make a long loop).
//!
//!     cargo run --release -p evaluator --example fuzz -- SECONDS [SEED] [CORPUS_DIR…]
//!
//! `tools/fuzz` runs it. The parent generates every case (deterministic from the seed) and
//! hands batches to a child process of its own, under a 4 GB address-space limit, so that a
//! crash costs one child and names its case.

#![allow(clippy::disallowed_methods, clippy::print_stderr, clippy::print_stdout)]

use std::{
    io::{BufRead, BufReader, Write},
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use evaluator::{EvalIo, Evaluator, PrintMode};

/// How long one case may run before the child calls it slow.
const WATCHDOG: Duration = Duration::from_secs(3);
const BATCH: usize = 300;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        child(Path::new(&args[2]));
        return;
    }
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let corpus = load_corpus(args.iter().skip(3).map(PathBuf::from));
    std::process::exit(parent(seconds, seed, &corpus));
}

// ---- the parent: generate, run in children, keep what failed ----

fn parent(seconds: u64, seed: u64, corpus: &[String]) -> i32 {
    let out = PathBuf::from("target/fuzz");
    let _ = std::fs::create_dir_all(out.join("crashes"));
    let _ = std::fs::create_dir_all(out.join("slow"));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rng = Rng(seed.max(1));
    let (mut cases, mut crashes, mut slow) = (0usize, 0usize, 0usize);
    let mut batch_no = 0;
    while Instant::now() < deadline {
        let batch: Vec<String> = (0..BATCH).map(|_| generate(&mut rng, corpus)).collect();
        let file = out.join(format!("batch-{}.txt", std::process::id()));
        write_batch(&file, &batch);
        let mut start = 0;
        while start < batch.len() {
            match run_child(&file, start) {
                Outcome::Done => break,
                Outcome::Failed { case, why } => {
                    let kind = if why.starts_with("slow") { "slow" } else { "crashes" };
                    let name = out.join(kind).join(format!("{seed}-{batch_no}-{case}.infra"));
                    let _ = std::fs::write(&name, &batch[case]);
                    eprintln!("{why}: case {case} of batch {batch_no}, kept in {}", name.display());
                    if kind == "slow" {
                        slow += 1
                    } else {
                        crashes += 1
                    }
                    start = case + 1;
                }
            }
        }
        cases += batch.len();
        batch_no += 1;
        let _ = std::fs::remove_file(&file);
    }
    println!(
        "{cases} programs in {seconds} s (seed {seed}, {} corpus files): {crashes} crashes or panics, {slow} slow",
        corpus.len()
    );
    i32::from(crashes > 0)
}

enum Outcome {
    Done,
    Failed { case: usize, why: String },
}

fn run_child(file: &Path, start: usize) -> Outcome {
    let exe = std::env::current_exe().expect("the fuzzer's own path");
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -v 4000000; exec \"$0\" --child \"$1\" \"$2\""])
        .arg(exe)
        .arg(file)
        .arg(start.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a child");
    let mut current = start;
    let mut reported: Option<String> = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("start ") {
                current = n.parse().unwrap_or(current);
            } else if line.starts_with("panic") || line.starts_with("slow") {
                reported = Some(line);
            }
        }
    }
    let status = child.wait().expect("wait for the child");
    match (reported, status.success()) {
        (Some(why), _) => Outcome::Failed { case: current, why },
        (None, true) => Outcome::Done,
        (None, false) => Outcome::Failed { case: current, why: format!("crash ({status})") },
    }
}

fn write_batch(file: &Path, batch: &[String]) {
    let mut bytes = Vec::new();
    for case in batch {
        bytes.extend_from_slice(format!("{}\n", case.len()).as_bytes());
        bytes.extend_from_slice(case.as_bytes());
    }
    std::fs::write(file, bytes).expect("write the batch");
}

fn read_batch(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).expect("read the batch");
    let mut cases = Vec::new();
    let mut rest = &bytes[..];
    while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
        let len: usize =
            std::str::from_utf8(&rest[..newline]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = &rest[newline + 1..(newline + 1 + len).min(rest.len())];
        cases.push(String::from_utf8_lossy(body).into_owned());
        rest = &rest[(newline + 1 + len).min(rest.len())..];
    }
    cases
}

// ---- the child: run each case, say which one is running ----

fn child(file: &Path) {
    let start: usize = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(0);
    let cases = read_batch(file);
    std::panic::set_hook(Box::new(|_| {}));
    let running = Arc::new(AtomicUsize::new(usize::MAX));
    let watched = running.clone();
    std::thread::spawn(move || {
        let mut last = (usize::MAX, Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = watched.load(Ordering::SeqCst);
            if now != last.0 {
                last = (now, Instant::now());
            } else if now != usize::MAX && last.1.elapsed() > WATCHDOG {
                println!("slow (over {} s)", WATCHDOG.as_secs());
                let _ = std::io::stdout().flush();
                std::process::exit(3);
            }
        }
    });
    let mut stdout = std::io::stdout();
    for (i, case) in cases.iter().enumerate().skip(start) {
        let _ = writeln!(stdout, "start {i}");
        let _ = stdout.flush();
        running.store(i, Ordering::SeqCst);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run_case(case))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let _ = writeln!(stdout, "panic: {}", message.replace('\n', " "));
            let _ = stdout.flush();
            std::process::exit(2);
        }
    }
    running.store(usize::MAX, Ordering::SeqCst);
}

/// Lexes, parses and (when it parses) evaluates one program, strictly, then as JSON.
fn run_case(text: &str) {
    let parse = lang::parse(text);
    if !parse.errors().is_empty() {
        return;
    }
    let mut evaluator = Evaluator::new(Box::new(NoFiles));
    let dir = PathBuf::from("/nonexistent/fuzz");
    if let Ok(value) = evaluator.eval_text("(fuzz)", text, dir) {
        let _ = evaluator.print(&value, PrintMode::Strict);
        let _ = evaluator.to_json(&value);
    }
}

/// No files, no environment: a program sees nothing of the machine.
struct NoFiles;

impl EvalIo for NoFiles {
    fn read_file(&self, _: &Path) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn path_exists(&self, _: &Path) -> std::io::Result<bool> {
        Ok(false)
    }
    fn read_dir(&self, _: &Path) -> std::io::Result<Vec<(String, &'static str)>> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn env_var(&self, _: &str) -> Option<String> {
        None
    }
    fn trace(&self, _: &str) {}
}

// ---- generation ----

/// xorshift64*: deterministic and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ";",
    ":",
    "=",
    ".",
    ",",
    "@",
    "?",
    "...",
    "//",
    "++",
    "+",
    "-",
    "*",
    "/",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "->",
    "!",
    "|>",
    "<|",
    "let ",
    " in ",
    "rec ",
    "with ",
    "inherit ",
    "if ",
    " then ",
    " else ",
    "assert ",
    "or",
    "x",
    "x: ",
    "${",
    "\"",
    "''",
    "#",
    "/*",
    "*/",
    "./a",
    "~/a",
    "<nixpkgs>",
    "1",
    "1.5",
    "null",
    "true",
    "\\",
    "\n",
    "\r",
    "\t",
    " ",
    "é",
    "__curPos",
    "builtins",
    "__overrides",
    "9223372036854775807",
];

const BUILTINS: &[&str] = &[
    "abort",
    "add",
    "addErrorContext",
    "all",
    "any",
    "attrNames",
    "attrValues",
    "baseNameOf",
    "bitAnd",
    "catAttrs",
    "ceil",
    "compareVersions",
    "concatLists",
    "concatMap",
    "concatStringsSep",
    "deepSeq",
    "derivation",
    "dirOf",
    "div",
    "elem",
    "elemAt",
    "filter",
    "floor",
    "foldl'",
    "fromJSON",
    "fromTOML",
    "fromYAML",
    "functionArgs",
    "genList",
    "genericClosure",
    "getAttr",
    "getContext",
    "groupBy",
    "hasAttr",
    "hashString",
    "head",
    "intersectAttrs",
    "isAttrs",
    "length",
    "lessThan",
    "listToAttrs",
    "map",
    "mapAttrs",
    "match",
    "mul",
    "parseDrvName",
    "partition",
    "placeholder",
    "removeAttrs",
    "replaceStrings",
    "seq",
    "sort",
    "split",
    "splitVersion",
    "stringLength",
    "sub",
    "substring",
    "tail",
    "throw",
    "toFile",
    "toJSON",
    "toPath",
    "toString",
    "toXML",
    "tryEval",
    "typeOf",
    "unsafeGetAttrPos",
    "zipAttrsWith",
];

const VALUES: &[&str] = &[
    "1",
    "0",
    "-1",
    "9223372036854775807",
    "1.5",
    "\"s\"",
    "\"\"",
    "\"1.2.3\"",
    "\"[a-z]+\"",
    "\"(\"",
    "null",
    "true",
    "false",
    "[ ]",
    "[ 1 2 3 ]",
    "[ \"b\" \"a\" ]",
    "{ }",
    "{ a = 1; b = \"x\"; }",
    "{ name = \"n\"; value = 2; }",
    "[ { name = \"a\"; value = 1; } ]",
    "(x: x)",
    "(x: y: x)",
    "(a: b: a < b)",
    "({ a, ... }: a)",
    "./.",
    "builtins",
    "(throw \"t\")",
    "{ __toString = s: \"z\"; }",
    "{ outPath = \"/o\"; }",
    "(let r = { a = r; }; in r)",
    "(let l = [ l ]; in l)",
    "\"{\\\"a\\\": [1, 2.5]}\"",
    "\"a = 1\"",
    "\"sha256\"",
    "{ startSet = [ { key = 1; } ]; operator = x: [ ]; }",
];

fn generate(rng: &mut Rng, corpus: &[String]) -> String {
    if corpus.is_empty() || rng.below(3) == 0 {
        return expression(rng, 4);
    }
    let mut text = rng.pick(corpus).clone();
    for _ in 0..=rng.below(4) {
        text = mutate(rng, &text, corpus);
    }
    text
}

fn expression(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 {
        return (*rng.pick(VALUES)).to_owned();
    }
    match rng.below(8) {
        0..=3 => {
            let name = rng.pick(BUILTINS);
            let args: Vec<String> = (0..rng.below(4)).map(|_| expression(rng, depth - 1)).collect();
            format!("(builtins.{name} {})", args.join(" "))
        }
        4 => format!("[ {} {} ]", expression(rng, depth - 1), expression(rng, depth - 1)),
        5 => {
            format!("{{ a = {}; b = {}; }}", expression(rng, depth - 1), expression(rng, depth - 1))
        }
        6 => format!(
            "(let f = x: {}; in f {})",
            expression(rng, depth - 1),
            expression(rng, depth - 1)
        ),
        _ => {
            let op = rng.pick(&["+", "-", "*", "/", "==", "<", "//", "++", "&&", "->"]);
            format!("({} {op} {})", expression(rng, depth - 1), expression(rng, depth - 1))
        }
    }
}

fn mutate(rng: &mut Rng, text: &str, corpus: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len() + 1);
    let len = rng.below(16).min(chars.len() - at.min(chars.len()));
    let before: String = chars[..at].iter().collect();
    let after: String = chars[at + len..].iter().collect();
    let middle: String = chars[at..at + len].iter().collect();
    match rng.below(5) {
        0 => format!("{before}{after}"),
        1 => format!("{before}{middle}{middle}{after}"),
        2 => format!("{before}{}{middle}{after}", rng.pick(TOKENS)),
        3 => {
            let other: Vec<char> = rng.pick(corpus).chars().collect();
            let from = rng.below(other.len());
            let piece: String =
                other[from..(from + rng.below(40)).min(other.len())].iter().collect();
            format!("{before}{piece}{after}")
        }
        _ => format!("{before}{}{after}", expression(rng, 2)),
    }
}

fn load_corpus(dirs: impl Iterator<Item = PathBuf>) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                entries.sort();
                stack.extend(entries);
            }
        } else if path.extension().is_some_and(|e| e == "nix" || e == "infra")
            && let Ok(text) = std::fs::read_to_string(&path)
            && text.len() < 64 * 1024
        {
            files.push(text);
        }
    }
    files
}
