//! Lex + parse throughput of `lang::parse`, side by side with `rnix::Root::parse`.
//!
//! The input is a deterministic (fixed-seed) ~2 MB Nix-syntax text that looks like an infra
//! estate: a function of `{ lib, pkgs, config, ... }` whose `let` holds helpers and one `let`
//! per team, each with a few dozen modules made of nested attribute sets, lists, interpolated
//! and indented strings, lambdas with patterns, `//`, `++`, `if`, `with`, `inherit`, `or`,
//! paths, comments and arithmetic. It also parses with `nix-instantiate --parse` (checked by
//! hand: `--write FILE` dumps it).
//!
//! Each side is timed from the text to a dropped result: ours is the whole front end (lex,
//! parse, post-parse validation), rnix's is its tokenizer and parser (rnix has no validation
//! pass). The two run interleaved (ours, rnix, ours, rnix, …) after warm-up, so that noise on a
//! shared machine hits both alike; the report gives median and minimum times, median
//! throughput, and the ratio of the two throughputs.
//!
//! Run: `cargo bench -p lang --bench parse` (or `bench/parse.sh`). Knobs:
//! - `INFRA_BENCH_ITERS=N`: timed iterations per side (default 15);
//! - `-- --write FILE`: write the generated text to FILE and exit;
//! - `-- --only infra|rnix`: time one side only (for a profiler).

// A benchmark reports its results on stdout (and its usage errors on stderr).
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)]

use std::{
    fmt::Write as _,
    hint::black_box,
    process::ExitCode,
    time::{Duration, Instant},
};

/// Generated text size to aim for, in bytes.
const TARGET_SIZE: usize = 2_000_000;
const SEED: u64 = 0x1f2a_5eed_c0ff_ee42;
const WARMUP_ITERS: usize = 2;
const DEFAULT_ITERS: usize = 15;

fn main() -> ExitCode {
    let mut write_to = None;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--write" => match args.next() {
                Some(file) => write_to = Some(file),
                None => return usage("--write needs a file name"),
            },
            "--only" => match args.next().as_deref() {
                Some("infra") => only = Some(Side::Infra),
                Some("rnix") => only = Some(Side::Rnix),
                _ => return usage("--only takes `infra` or `rnix`"),
            },
            _ => return usage(&format!("unknown argument `{arg}`")),
        }
    }
    let iters = match std::env::var("INFRA_BENCH_ITERS") {
        Ok(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return usage(&format!("INFRA_BENCH_ITERS must be a positive integer, not `{s}`")),
        },
        Err(_) => DEFAULT_ITERS,
    };

    let text = generate(SEED, TARGET_SIZE);
    if let Some(file) = write_to {
        if let Err(err) = std::fs::write(&file, &text) {
            eprintln!("error: cannot write {file}: {err}");
            return ExitCode::FAILURE;
        }
        println!("wrote {} bytes to {file}", text.len());
        return ExitCode::SUCCESS;
    }
    check_parses(&text);

    let size = text.len();
    let lines = text.lines().count();
    println!("input: {size} bytes ({:.2} MB), {lines} lines", mb(size));
    println!("iterations: {iters} per side, after {WARMUP_ITERS} warm-up");

    let sides: &[Side] = match only {
        Some(Side::Infra) => &[Side::Infra],
        Some(Side::Rnix) => &[Side::Rnix],
        None => &[Side::Infra, Side::Rnix],
    };
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(iters); sides.len()];
    for i in 0..WARMUP_ITERS + iters {
        for (side, times) in sides.iter().zip(&mut times) {
            let t = side.time(&text);
            if i >= WARMUP_ITERS {
                times.push(t);
            }
        }
    }

    let mut throughput = Vec::new();
    for (side, times) in sides.iter().zip(&mut times) {
        times.sort();
        let median = times[times.len() / 2];
        let min = times[0];
        let mbps = mb(size) / median.as_secs_f64();
        throughput.push(mbps);
        println!(
            "{:<6} median {:>7.2} ms  min {:>7.2} ms  {:>7.1} MB/s",
            side.name(),
            ms(median),
            ms(min),
            mbps
        );
    }
    if let [ours, rnix] = throughput[..] {
        println!("ratio (infra / rnix throughput, median): {:.2}x", ours / rnix);
    }
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("error: {problem}");
    eprintln!(
        "usage: cargo bench -p lang --bench parse [-- --write FILE | --only infra|rnix]\n\
         (INFRA_BENCH_ITERS=N sets the number of timed iterations)"
    );
    ExitCode::FAILURE
}

#[derive(Clone, Copy)]
enum Side {
    Infra,
    Rnix,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Infra => "infra",
            Side::Rnix => "rnix",
        }
    }

    /// One parse, from the text to a dropped result.
    fn time(self, text: &str) -> Duration {
        let start = Instant::now();
        match self {
            Side::Infra => drop(black_box(lang::parse(black_box(text)))),
            Side::Rnix => drop(black_box(rnix::Root::parse(black_box(text)))),
        }
        start.elapsed()
    }
}

/// Panics, showing the first few errors, unless both parsers accept `text` without errors.
fn check_parses(text: &str) {
    let ours = lang::parse(text);
    if !ours.errors().is_empty() {
        let mut msg =
            format!("generated text has {} errors in lang::parse:\n", ours.errors().len());
        for err in ours.errors().iter().take(5) {
            let offset = usize::from(err.range.start());
            let _ = writeln!(msg, "  {}: {} near {:?}", offset, err.message, context(text, offset));
        }
        panic!("{msg}");
    }
    let theirs = rnix::Root::parse(text);
    if !theirs.errors().is_empty() {
        let mut msg =
            format!("generated text has {} errors in rnix::Root::parse:\n", theirs.errors().len());
        for err in theirs.errors().iter().take(5) {
            let _ = writeln!(msg, "  {err}");
        }
        panic!("{msg}");
    }
    let (n, t) = count(ours.syntax_node().descendants_with_tokens().map(|e| e.as_node().is_some()));
    let (rn, rt) = count(theirs.syntax().descendants_with_tokens().map(|e| e.as_node().is_some()));
    println!("trees: infra {n} nodes, {t} tokens; rnix {rn} nodes, {rt} tokens");
}

/// (nodes, tokens) of a tree walk given as "is a node" flags.
fn count(is_node: impl Iterator<Item = bool>) -> (usize, usize) {
    is_node.fold((0, 0), |(n, t), node| if node { (n + 1, t) } else { (n, t + 1) })
}

fn context(text: &str, offset: usize) -> &str {
    // The generated text is ASCII, so any byte offset is a char boundary.
    text.get(offset.saturating_sub(40)..(offset + 40).min(text.len())).unwrap_or("")
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// splitmix64: tiny, deterministic, good enough to pick among templates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

const TEAMS: &[&str] = &[
    "platform",
    "payments",
    "search",
    "identity",
    "data",
    "edge",
    "billing",
    "growth",
    "ml",
    "observability",
    "storage",
    "mobile",
];
const KINDS: &[&str] = &[
    "vpc", "subnet", "cluster", "bucket", "database", "queue", "cache", "dns", "iam", "lb", "cdn",
    "vault", "registry", "function", "topic",
];
const KEYS: &[&str] = &[
    "name",
    "enable",
    "region",
    "zone",
    "cidr",
    "tags",
    "owner",
    "size",
    "replicas",
    "version",
    "engine",
    "port",
    "protocol",
    "retention",
    "encryption",
    "backup",
    "schedule",
    "image",
    "memory",
    "cpu",
    "timeout",
    "labels",
    "annotations",
    "policy",
    "rules",
    "ingress",
    "egress",
    "storage",
    "class",
    "tier",
    "endpoint",
    "domain",
    "ttl",
    "records",
    "subnets",
    "security",
    "monitoring",
    "alerts",
    "threshold",
    "window",
    "capacity",
    "minSize",
    "maxSize",
    "desired",
    "healthCheck",
    "path",
    "interval",
    "logging",
    "level",
    "format",
    "destination",
    "prefix",
    "lifecycle",
    "expiration",
    "transitions",
    "versioning",
    "kms",
    "keyId",
    "rotation",
    "access",
];
const WORDS: &[&str] = &[
    "prod",
    "staging",
    "dev",
    "eu-west-1",
    "us-east-1",
    "ap-south-1",
    "primary",
    "replica",
    "internal",
    "public",
    "private",
    "standard",
    "gp3",
    "postgres",
    "redis",
    "nginx",
    "TLS1.2",
    "HTTP",
    "HTTPS",
    "allow",
    "deny",
    "daily",
    "weekly",
    "json",
    "text",
    "info",
    "warn",
];
const ARG_NAMES: &[&str] =
    &["name", "size", "zone", "cidr", "tags", "extra", "count", "enable", "tier", "prefix"];
/// Applied functions: (callee, number of arguments).
const FUNCS: &[(&str, usize)] = &[
    ("lib.mkIf", 2),
    ("lib.mkMerge", 1),
    ("lib.optionalAttrs", 2),
    ("lib.optional", 2),
    ("lib.recursiveUpdate", 2),
    ("lib.concatStringsSep", 2),
    ("builtins.map", 2),
    ("builtins.filter", 2),
    ("builtins.attrNames", 1),
    ("builtins.toJSON", 1),
    ("builtins.length", 1),
    ("toString", 1),
    ("mkTags", 2),
    ("mkName", 2),
    ("mkModule", 1),
    ("pkgs.writeText", 2),
];
const BIN_OPS: &[&str] = &["+", "-", "*", "/"];
const CMP_OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

struct Gen {
    out: String,
    rng: Rng,
    indent: usize,
    /// Variables in scope, innermost last; every reference picks one of these, so that
    /// `nix-instantiate --parse` (which rejects undefined variables) accepts the text.
    scope: Vec<String>,
    /// Per-file counter for unique names.
    counter: usize,
}

/// Generates a deterministic Nix-syntax text of at least `target` bytes.
fn generate(seed: u64, target: usize) -> String {
    let mut g = Gen {
        out: String::with_capacity(target + target / 8),
        rng: Rng(seed),
        indent: 0,
        scope: Vec::new(),
        counter: 0,
    };
    g.file(target);
    g.out
}

impl Gen {
    fn w(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Writes one of `items`.
    fn w_pick(&mut self, items: &[&str]) {
        let s = items[self.rng.below(items.len())];
        self.out.push_str(s);
    }

    fn nl(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    fn fresh(&mut self, base: &str) -> String {
        self.counter += 1;
        format!("{base}_{}", self.counter)
    }

    fn bind(&mut self, name: &str) {
        self.scope.push(name.to_owned());
    }

    fn file(&mut self, target: usize) {
        self.w("# Infra estate, generated for the parse benchmark: every team's modules.");
        self.nl();
        self.w("/* Arguments:\n     lib     the helper library\n     pkgs    packages for user-data scripts\n     config  per-estate overrides\n*/");
        self.nl();
        self.w("{ lib, pkgs, config ? { }, region ? \"eu-west-1\", ... }@args:");
        for v in ["lib", "pkgs", "config", "region", "args"] {
            self.bind(v);
        }
        self.nl();
        self.nl();
        self.w("let");
        self.indent += 1;
        self.helpers();
        let mut teams = Vec::new();
        while self.out.len() < target {
            let base = self.rng.pick(TEAMS);
            let team = self.fresh(base);
            self.nl();
            self.team(&team);
            self.bind(&team);
            teams.push(team);
        }
        self.indent -= 1;
        self.nl();
        self.w("in");
        self.nl();
        self.w("rec {");
        self.indent += 1;
        self.nl();
        self.w("teams = {");
        self.indent += 1;
        for chunk in teams.chunks(8) {
            self.nl();
            self.w("inherit ");
            self.w(&chunk.join(" "));
            self.w(";");
        }
        self.indent -= 1;
        self.nl();
        self.w("};");
        self.nl();
        self.w("count = builtins.length (builtins.attrNames teams);");
        self.nl();
        self.w("inherit (config) stage;");
        self.indent -= 1;
        self.nl();
        self.w("}");
        self.out.push('\n');
    }

    /// Helper functions every module may call.
    fn helpers(&mut self) {
        let helpers = r#"
inherit (builtins) map filter toJSON;
inherit (lib) mkIf mkMerge optionalAttrs;
defaults = {
  tags = { ManagedBy = "infra"; Estate = config.name or "main"; };
  retention = 30;
  encryption = { enable = true; algorithm = "aws:kms"; };
};
# Tags shared by every resource, plus the caller's.
mkTags = name: extra: defaults.tags // { Name = name; } // extra;
mkName = prefix: name: "${prefix}-${name}-${region}";
mkModule = { name, source ? ./modules/generic, vars ? { }, after ? [ ], ... }@m:
  {
    inherit name source;
    vars = vars // { inherit region; };
    dependsOn = map (d: d.name) after;
    meta = removeAttrs m [ "vars" "after" ];
  };
"#;
        for line in helpers.trim().lines() {
            self.nl();
            self.w(line);
        }
        for v in ["map", "filter", "toJSON", "mkIf", "mkMerge", "optionalAttrs"] {
            self.bind(v);
        }
        for v in ["defaults", "mkTags", "mkName", "mkModule"] {
            self.bind(v);
        }
    }

    /// `team = let <modules> in { inherit <modules>; ... };`
    fn team(&mut self, team: &str) {
        let mark = self.scope.len();
        self.nl();
        self.w(&format!("# Team {team}: owns the modules below."));
        self.nl();
        self.w(&format!("{team} ="));
        self.indent += 1;
        self.nl();
        self.w("let");
        self.indent += 1;
        self.nl();
        self.w(&format!("owner = \"{team}@example.com\";"));
        self.bind("owner");
        let n = 10 + self.rng.below(20);
        let mut modules = Vec::new();
        for _ in 0..n {
            let kind = self.rng.pick(KINDS);
            let name = self.fresh(kind);
            self.nl();
            self.module(&name, kind, &modules);
            self.bind(&name);
            modules.push(name);
        }
        self.indent -= 1;
        self.nl();
        self.w("in");
        self.nl();
        self.w("{");
        self.indent += 1;
        self.nl();
        self.w("inherit owner ");
        self.w(&modules.join(" "));
        self.w(";");
        self.nl();
        self.w(&format!(
            "size = builtins.length [ {} ];",
            modules.iter().take(6).cloned().collect::<Vec<_>>().join(" ")
        ));
        self.indent -= 1;
        self.nl();
        self.w("};");
        self.indent -= 1;
        self.scope.truncate(mark);
    }

    /// One module: a `let` with its settings, then a call of `mkModule`, maybe updated.
    fn module(&mut self, name: &str, kind: &str, earlier: &[String]) {
        let mark = self.scope.len();
        if self.rng.chance(30) {
            self.w(&format!("/* {kind} {name}: see ./modules/{kind}/README.md */"));
            self.nl();
        }
        self.w(&format!("{name} ="));
        self.indent += 1;
        self.nl();
        self.w("let");
        self.indent += 1;
        self.nl();
        self.w(&format!("name = mkName \"{kind}\" \"{name}\";"));
        self.nl();
        let replicas = 1 + self.rng.below(6);
        self.w(&format!("replicas = {replicas};"));
        self.nl();
        self.w(&format!(
            "cidr = \"10.${{toString ({} / 4)}}.${{toString replicas}}.0/24\";",
            self.counter
        ));
        self.bind("name");
        self.bind("replicas");
        self.bind("cidr");
        self.nl();
        self.w("settings = ");
        self.attrset(3, false);
        self.w(";");
        self.bind("settings");
        if self.rng.chance(50) {
            self.nl();
            self.w("render = ");
            self.lambda(2);
            self.w(";");
            self.bind("render");
        }
        self.indent -= 1;
        self.nl();
        self.w("in");
        self.nl();
        if self.rng.chance(20) {
            self.w("assert replicas > 0 && name != \"\";");
            self.nl();
        }
        self.w("mkModule {");
        self.indent += 1;
        self.nl();
        self.w("inherit name;");
        self.nl();
        self.w("inherit (settings) ");
        let mut used: Vec<String> =
            ["name", "source", "after", "enable"].iter().map(|s| s.to_string()).collect();
        let k1 = self.key(&mut used);
        self.w(&k1);
        self.w(";");
        self.nl();
        self.w(&format!("source = ./modules/{kind};"));
        self.nl();
        self.w("after = [ ");
        for dep in earlier.iter().rev().take(self.rng.below(3)) {
            self.w(dep);
            self.w(" ");
        }
        self.w("]");
        if self.rng.chance(40) {
            self.w(" ++ lib.optional (replicas > 2) defaults");
        }
        self.w(";");
        self.nl();
        self.w("enable = replicas >= 1 && !(config.disabled.");
        self.w(name);
        self.w(" or false);");
        let n = 3 + self.rng.below(6);
        self.bindings(n, 3, &mut used);
        if self.rng.chance(35) {
            self.nl();
            self.w("userData = ");
            self.indented_string();
            self.w(";");
        }
        self.indent -= 1;
        self.nl();
        self.w("}");
        if self.rng.chance(40) {
            self.w(" // optionalAttrs (replicas > 3) { autoscale = { min = 1; max = replicas * 2; }; }");
        }
        self.w(";");
        self.indent -= 1;
        self.scope.truncate(mark);
    }

    /// A fresh attribute name (not in `used`), sometimes quoted.
    fn key(&mut self, used: &mut Vec<String>) -> String {
        for _ in 0..8 {
            let k = self.rng.pick(KEYS);
            if !used.iter().any(|u| u == k) {
                used.push(k.to_owned());
                return k.to_owned();
            }
        }
        let k = self.fresh("attr");
        used.push(k.clone());
        k
    }

    /// `n` bindings on their own lines, with names unique within `used`.
    fn bindings(&mut self, n: usize, budget: usize, used: &mut Vec<String>) {
        for _ in 0..n {
            self.nl();
            let roll = self.rng.below(100);
            if roll < 8 && self.scope.len() > 1 {
                // `inherit x;` of a variable in scope, not yet used as a name here.
                let v = self.scope[self.rng.below(self.scope.len())].clone();
                if !used.contains(&v) {
                    used.push(v.clone());
                    self.w(&format!("inherit {v};"));
                    continue;
                }
            }
            if roll < 14 {
                let k = self.key(used);
                self.w(&format!("inherit (defaults.encryption) {k};"));
                continue;
            }
            let k = self.key(used);
            if roll < 22 {
                // A quoted name, or a nested path.
                if self.rng.chance(50) {
                    self.w(&format!("\"{k}.example.com\" = "));
                } else {
                    let sub = self.rng.pick(KEYS);
                    self.w(&format!("{k}.{sub} = "));
                }
            } else if roll < 25 {
                self.w(&format!("${{\"dyn-\" + \"{k}\"}} = "));
            } else {
                self.w(&format!("{k} = "));
            }
            self.expr(budget);
            self.w(";");
        }
    }

    /// A multi-line attribute set, nested up to `budget` more levels.
    fn attrset(&mut self, budget: usize, rec: bool) {
        if rec {
            self.w("rec ");
        }
        self.w("{");
        self.indent += 1;
        let n = 2 + self.rng.below(5);
        let mut used = Vec::new();
        self.bindings(n, budget.saturating_sub(1), &mut used);
        self.indent -= 1;
        self.nl();
        self.w("}");
    }

    /// Any expression; `budget` bounds its nesting.
    fn expr(&mut self, budget: usize) {
        if budget == 0 {
            return self.atom(0);
        }
        match self.rng.below(100) {
            0..=29 => {
                let rec = self.rng.chance(5);
                self.attrset(budget, rec);
            }
            30..=39 => self.atom(budget),
            40..=47 => self.apply(budget),
            48..=55 => self.arith(),
            56..=61 => self.logic(),
            62..=67 => {
                self.w("if ");
                self.logic();
                self.w(" then ");
                self.expr(budget - 1);
                self.w(" else ");
                self.atom(budget - 1);
            }
            68..=72 => {
                self.w("with lib; ");
                self.list(budget - 1);
            }
            73..=78 => {
                self.atom(budget - 1);
                self.w(" // ");
                self.attrset(budget - 1, false);
            }
            79..=84 => {
                self.list(budget - 1);
                self.w(" ++ ");
                self.list(budget - 1);
            }
            85..=89 => self.let_in(budget),
            90..=94 => {
                self.w("builtins.map ");
                self.w("(");
                self.lambda(budget - 1);
                self.w(") ");
                self.list(budget - 1);
            }
            _ => self.string(),
        }
    }

    /// An expression that can be a function argument: literal, reference, select, string, list,
    /// small set or parenthesised expression.
    fn atom(&mut self, budget: usize) {
        match self.rng.below(100) {
            0..=14 => {
                let n = self.rng.below(5000);
                self.w(&n.to_string());
            }
            15..=19 => {
                let n = self.rng.below(1000);
                self.w(&format!("{}.{}", n / 100, n % 100));
            }
            20..=39 => self.string(),
            40..=49 => self.reference(),
            50..=64 => self.select(),
            65..=69 => self.w_pick(&["true", "false", "null"]),
            70..=74 => {
                let kind = self.rng.pick(KINDS);
                let file = self.rng.pick(&["default.nix", "policy.json", "main.tf", "vars.nix"]);
                let dir = self.rng.pick(&["./modules", "../shared", "./files"]);
                self.w(&format!("{dir}/{kind}/{file}"));
            }
            75..=84 if budget > 0 => self.list(budget - 1),
            85..=92 if budget > 0 => {
                self.w("(");
                self.expr(budget - 1);
                self.w(")");
            }
            _ => {
                self.w("{ ");
                let mut used = Vec::new();
                for _ in 0..1 + self.rng.below(3) {
                    let k = self.key(&mut used);
                    self.w(&format!("{k} = "));
                    self.scalar();
                    self.w("; ");
                }
                self.w("}");
            }
        }
    }

    /// A number, string, boolean or reference.
    fn scalar(&mut self) {
        match self.rng.below(4) {
            0 => {
                let n = self.rng.below(65536);
                self.w(&n.to_string());
            }
            1 => self.string(),
            2 => self.w_pick(&["true", "false"]),
            _ => self.reference(),
        }
    }

    fn reference(&mut self) {
        let v = self.scope[self.rng.below(self.scope.len())].clone();
        self.w(&v);
    }

    /// `x.a.b`, `x.a or default`.
    fn select(&mut self) {
        let base = self.rng.pick(&["settings", "config", "defaults", "args", "lib"]);
        let base = if self.scope.iter().any(|v| v == base) { base } else { "config" };
        self.w(base);
        for _ in 0..1 + self.rng.below(3) {
            self.w(".");
            self.w_pick(KEYS);
        }
        if self.rng.chance(40) {
            self.w(" or ");
            self.scalar();
        }
    }

    /// `"..."` with escapes and `${}` interpolations.
    fn string(&mut self) {
        self.w("\"");
        for i in 0..1 + self.rng.below(4) {
            if i > 0 {
                self.w_pick(&["-", "/", ":", " ", "."]);
            }
            match self.rng.below(10) {
                0..=4 => self.w_pick(WORDS),
                5 | 6 => {
                    self.w("${");
                    self.reference();
                    self.w("}");
                }
                7 => {
                    self.w("${toString (replicas * ");
                    let n = 1 + self.rng.below(9);
                    self.w(&n.to_string());
                    self.w(")}");
                }
                8 => self.w("\\\"quoted\\\""),
                _ => self.w("line\\n\\tnext"),
            }
        }
        self.w("\"");
    }

    /// `''...''` spanning several lines: a user-data script.
    fn indented_string(&mut self) {
        self.w("''");
        self.indent += 1;
        self.nl();
        self.w("#!/bin/sh");
        self.nl();
        self.w("set -eu");
        for _ in 0..2 + self.rng.below(6) {
            self.nl();
            match self.rng.below(6) {
                0 => self.w("echo \"starting ${name} in ${region}\" >> /var/log/boot.log"),
                1 => self.w("export CIDR=${cidr} REPLICAS=${toString replicas}"),
                2 => self.w("cat > /etc/app.json <<EOF\n${builtins.toJSON settings}\nEOF"),
                3 => self.w("test -n \"''${HOME}\" && cd \"$HOME\""),
                4 => self
                    .w("for i in $(seq 1 ${toString replicas}); do systemctl start app@$i; done"),
                _ => self.w("# owner: ${owner}; it's a '''quoted''' note"),
            }
        }
        self.indent -= 1;
        self.nl();
        self.w("''");
    }

    fn list(&mut self, budget: usize) {
        self.w("[ ");
        for _ in 0..self.rng.below(5) {
            self.atom(budget.min(1));
            self.w(" ");
        }
        self.w("]");
    }

    /// A function application of a known function.
    fn apply(&mut self, budget: usize) {
        let (f, n) = self.rng.pick(FUNCS);
        self.w(f);
        for _ in 0..n {
            self.w(" ");
            self.atom(budget - 1);
        }
    }

    /// Arithmetic: `a + b * (c - 2)`.
    fn arith(&mut self) {
        self.w_pick(&["replicas", "defaults.retention", "(settings.size or 8)"]);
        for _ in 0..1 + self.rng.below(3) {
            self.w(" ");
            self.w_pick(BIN_OPS);
            self.w(" ");
            if self.rng.chance(20) {
                self.w("(replicas - 1)");
            } else {
                let n = 1 + self.rng.below(100);
                self.w(&n.to_string());
            }
        }
    }

    /// A boolean: comparisons joined by `&&`, `||`, `->`, with `!` and `?`.
    fn logic(&mut self) {
        for i in 0..1 + self.rng.below(3) {
            if i > 0 {
                self.w_pick(&[" && ", " || ", " -> "]);
            }
            match self.rng.below(4) {
                0 => {
                    self.w("settings ? ");
                    self.w_pick(KEYS);
                }
                1 => {
                    self.w("!(config.");
                    self.w_pick(KEYS);
                    self.w(" or false)");
                }
                _ => {
                    self.w("replicas ");
                    self.w_pick(CMP_OPS);
                    self.w(" ");
                    let n = self.rng.below(10);
                    self.w(&n.to_string());
                }
            }
        }
    }

    /// `x: ...` or `{ a, b ? 1, ... }@arg: ...`.
    fn lambda(&mut self, budget: usize) {
        let mark = self.scope.len();
        if self.rng.chance(40) {
            let arg = self.rng.pick(ARG_NAMES);
            self.w(arg);
            self.w(": ");
            self.bind(arg);
        } else {
            self.w("{ ");
            let mut formals: Vec<&str> = Vec::new();
            for _ in 0..1 + self.rng.below(4) {
                let a = self.rng.pick(ARG_NAMES);
                if formals.contains(&a) {
                    continue;
                }
                formals.push(a);
                self.w(a);
                if self.rng.chance(40) {
                    self.w(" ? ");
                    self.scalar();
                }
                self.w(", ");
            }
            self.w("... }");
            for a in formals {
                self.bind(a);
            }
            if self.rng.chance(30) {
                self.w("@args");
                self.bind("args");
            }
            self.w(": ");
        }
        self.expr(budget.saturating_sub(1));
        self.scope.truncate(mark);
    }

    /// `let a = ...; b = ...; in ...` inside an expression.
    fn let_in(&mut self, budget: usize) {
        let mark = self.scope.len();
        self.w("let");
        self.indent += 1;
        let mut used = Vec::new();
        let n = 1 + self.rng.below(3);
        let mut names = Vec::new();
        for _ in 0..n {
            let k = self.fresh("local");
            used.push(k.clone());
            self.nl();
            self.w(&format!("{k} = "));
            self.expr(budget - 1);
            self.w(";");
            names.push(k);
        }
        for k in names {
            self.bind(&k);
        }
        self.indent -= 1;
        self.nl();
        self.w("in ");
        self.expr(budget - 1);
        self.scope.truncate(mark);
    }
}
