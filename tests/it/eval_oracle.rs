//! The real Nix as the oracle for evaluation: random well-typed programs (deterministic seed,
//! bounded size) printed by `infra` and by `nix-instantiate --eval --strict` must be identical.
//! Programs are evaluated in batches (one list per Nix call); a batch that differs is split to
//! name the programs that differ.

#![allow(clippy::disallowed_methods)]

use std::path::Path;

use evaluator::{Evaluator, PrintMode};

use crate::support::{Rng, TestIo, case_count, nix_instantiate, scratch_dir};

#[test]
fn random_programs_agree_with_nix() {
    let n_programs = case_count("INFRA_EVAL_ORACLE_CASES", 3000);
    let dir = scratch_dir("eval-oracle");
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let programs: Vec<String> = (0..n_programs)
        .map(|_| {
            let ty = TYPES[rng.below(TYPES.len())];
            let mut out = String::new();
            generate(&mut rng, ty, 3, &mut out);
            out
        })
        .collect();
    let mut differences = Vec::new();
    let mut n_agreed_values = 0;
    for (i, batch) in programs.chunks(100).enumerate() {
        let text = format!(
            "[\n{}\n]\n",
            batch.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join("\n")
        );
        let verdict = compare(&dir, &format!("batch{i}"), &text);
        if let Some(diff) = compare_lazy(&dir, &format!("lazy{i}"), &text) {
            differences.push(diff);
        }
        n_agreed_values += usize::from(matches!(verdict, Verdict::SameValue));
        if matches!(verdict, Verdict::Differ(_) | Verdict::BothFailed) {
            for (k, program) in batch.iter().enumerate() {
                if let Verdict::Differ(diff) = compare(&dir, &format!("case{i}-{k}"), program) {
                    differences.push(diff);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    // The generator makes programs that evaluate; most batches must be whole values.
    let n_batches = n_programs.div_ceil(100);
    assert!(
        n_agreed_values * 5 >= n_batches * 4,
        "only {n_agreed_values} of {n_batches} batches evaluated"
    );
    assert!(
        differences.is_empty(),
        "{} of {n_programs} programs differ from Nix, e.g.:\n{}",
        differences.len(),
        differences.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Where lazy printing depends on where a thunk is made: a set pattern's default that is a
/// literal or a variable is that value, not a thunk (Nix's `maybeThunk`).
#[test]
fn lazy_printing_of_pattern_defaults_agrees_with_nix() {
    let dir = scratch_dir("eval-oracle-defaults");
    let programs = [
        "let f = { a ? 1, b ? [ a ] }: { inherit a b; }; in f { }",
        "let f = { a ? 1, b ? a, c ? \"s\" }@args: [ a b c args ]; in f { }",
        "let x = 2; f = { a ? x }: { inherit a; }; in f { }",
        "let f = { a, b ? a }: { inherit b; }; in f { a = 1 + 1; }",
    ];
    let differences: Vec<String> = programs
        .iter()
        .enumerate()
        .filter_map(|(i, program)| compare_lazy(&dir, &format!("defaults{i}"), program))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// The same program printed without `--strict`: what is unevaluated shows as `<CODE>` on
/// both sides, in the same places.
fn compare_lazy(dir: &Path, name: &str, text: &str) -> Option<String> {
    let path = dir.join(format!("{name}.nix"));
    std::fs::write(&path, text).expect("write case");
    let output = nix_instantiate().arg("--eval").arg(&path).output().expect("run nix");
    let nix = String::from_utf8_lossy(&output.stdout).trim_end().to_owned();
    let mut evaluator = Evaluator::new(Box::new(TestIo));
    let ours = evaluator
        .eval_file(&path)
        .and_then(|v| evaluator.print(&v, PrintMode::Lazy))
        .unwrap_or_else(|e| e.to_string());
    (output.status.success() && nix != ours)
        .then(|| format!("--- (lazy) {text}\n  nix:   {nix}\n  infra: {ours}"))
}

enum Verdict {
    SameValue,
    BothFailed,
    Differ(String),
}

/// Evaluates `text` with both and compares.
fn compare(dir: &Path, name: &str, text: &str) -> Verdict {
    let path = dir.join(format!("{name}.nix"));
    std::fs::write(&path, text).expect("write case");
    let output =
        nix_instantiate().arg("--eval").arg("--strict").arg(&path).output().expect("run nix");
    let nix = if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).lines().next().unwrap_or("").to_owned())
    };
    let mut evaluator = Evaluator::new(Box::new(TestIo));
    let ours = evaluator
        .eval_file(&path)
        .and_then(|v| evaluator.print(&v, PrintMode::Strict))
        .map_err(|e| e.to_string());
    match (&nix, &ours) {
        (Ok(a), Ok(b)) if a == b => Verdict::SameValue,
        (Err(_), Err(_)) => Verdict::BothFailed,
        _ => Verdict::Differ(format!("--- {text}\n  nix:   {nix:?}\n  infra: {ours:?}")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ty {
    Int,
    Float,
    Bool,
    Str,
    List,
    Set,
}

const TYPES: &[Ty] = &[Ty::Int, Ty::Float, Ty::Bool, Ty::Str, Ty::List, Ty::Set];

/// Writes a random expression of type `ty` that evaluates without error in Nix.
fn generate(rng: &mut Rng, ty: Ty, depth: usize, out: &mut String) {
    let leaf = depth == 0 || rng.below(4) == 0;
    let d = depth.saturating_sub(1);
    let sub = |rng: &mut Rng, ty: Ty, out: &mut String| {
        out.push('(');
        generate(rng, ty, d, out);
        out.push(')');
    };
    match ty {
        Ty::Int if leaf => out.push_str(&format!("{}", rng.below(200) as i64 - 100)),
        Ty::Int => match rng.below(12) {
            0 => {
                sub(rng, Ty::Int, out);
                out.push_str(rng.pick(&[" + ", " - ", " * "]));
                sub(rng, Ty::Int, out);
            }
            1 => {
                sub(rng, Ty::Int, out);
                out.push_str(&format!(" / {}", rng.pick(&["3", "-7", "1", "(0 - 2)"])));
            }
            2 => {
                out.push_str("builtins.length ");
                sub(rng, Ty::List, out);
            }
            3 => {
                out.push_str("if ");
                sub(rng, Ty::Bool, out);
                out.push_str(" then ");
                sub(rng, Ty::Int, out);
                out.push_str(" else ");
                sub(rng, Ty::Int, out);
            }
            4 => {
                out.push_str("let x = ");
                sub(rng, Ty::Int, out);
                out.push_str("; y = x * 2; in x + y");
            }
            5 => {
                out.push_str("(x: x + 1) ");
                sub(rng, Ty::Int, out);
            }
            6 => {
                out.push_str("builtins.foldl' (a: b: a + b) 0 [ ");
                for _ in 0..rng.below(4) {
                    sub(rng, Ty::Int, out);
                    out.push(' ');
                }
                out.push(']');
            }
            7 => {
                out.push_str("builtins.stringLength ");
                sub(rng, Ty::Str, out);
            }
            8 => {
                out.push_str("{ a = ");
                sub(rng, Ty::Int, out);
                out.push_str("; }.a");
            }
            9 => {
                out.push_str("{ a = 1; }.b or ");
                sub(rng, Ty::Int, out);
            }
            10 => {
                out.push_str(rng.pick(&[
                    "builtins.bitAnd ",
                    "builtins.bitXor ",
                    "builtins.bitOr ",
                ]));
                sub(rng, Ty::Int, out);
                out.push(' ');
                sub(rng, Ty::Int, out);
            }
            _ => {
                out.push_str("({ a ? 5, b }: a * b) { b = ");
                sub(rng, Ty::Int, out);
                out.push_str("; }");
            }
        },
        Ty::Float if leaf => out.push_str(rng.pick(&[
            "1.5",
            "0.1",
            "3.14159265",
            "100.0",
            "1.0e20",
            "2.5e-7",
            "1234567.0",
            "0.000976562",
        ])),
        Ty::Float => match rng.below(4) {
            0 => {
                sub(rng, Ty::Float, out);
                out.push_str(rng.pick(&[" + ", " - ", " * "]));
                sub(rng, Ty::Int, out);
            }
            1 => {
                sub(rng, Ty::Int, out);
                out.push_str(" / 4.0");
            }
            2 => {
                out.push_str("builtins.fromJSON (builtins.toJSON ");
                sub(rng, Ty::Float, out);
                out.push(')');
            }
            _ => {
                sub(rng, Ty::Float, out);
                out.push_str(" * 0.5");
            }
        },
        Ty::Bool if leaf => out.push_str(rng.pick(&["true", "false"])),
        Ty::Bool => match rng.below(8) {
            0 => {
                sub(rng, Ty::Int, out);
                out.push_str(rng.pick(&[" < ", " <= ", " == ", " != ", " > "]));
                sub(rng, Ty::Int, out);
            }
            1 => {
                sub(rng, Ty::Str, out);
                out.push_str(rng.pick(&[" == ", " < "]));
                sub(rng, Ty::Str, out);
            }
            2 => {
                out.push('!');
                sub(rng, Ty::Bool, out);
            }
            3 => {
                sub(rng, Ty::Bool, out);
                out.push_str(rng.pick(&[" && ", " || ", " -> "]));
                sub(rng, Ty::Bool, out);
            }
            4 => {
                sub(rng, Ty::Set, out);
                out.push_str(rng.pick(&[" ? a", " ? b", " ? a.b"]));
            }
            5 => {
                out.push_str("builtins.elem ");
                sub(rng, Ty::Int, out);
                out.push(' ');
                sub(rng, Ty::List, out);
            }
            6 => {
                sub(rng, Ty::List, out);
                out.push_str(" == ");
                sub(rng, Ty::List, out);
            }
            _ => {
                out.push_str(rng.pick(&[
                    "builtins.isInt ",
                    "builtins.isString ",
                    "builtins.isAttrs ",
                ]));
                {
                    let t = TYPES[rng.below(TYPES.len())];
                    sub(rng, t, out)
                };
            }
        },
        Ty::Str if leaf => out.push_str(rng.pick(&[
            "\"eu-west-1\"",
            "\"\"",
            "\"a\\\"b\"",
            "\"10.0.0.0/16\"",
            "\"x\\ny\"",
            "\"$${a}\"",
            "''\n    indented\n      more\n  ''",
        ])),
        Ty::Str => match rng.below(9) {
            0 => {
                sub(rng, Ty::Str, out);
                out.push_str(" + ");
                sub(rng, Ty::Str, out);
            }
            1 => {
                out.push_str("\"pre-${");
                sub(rng, Ty::Str, out);
                out.push_str("}-post\"");
            }
            2 => {
                out.push_str("toString ");
                {
                    let t = rng.pick_ty(&[Ty::Int, Ty::Float, Ty::Bool, Ty::Str]);
                    sub(rng, t, out)
                };
            }
            3 => {
                out.push_str("builtins.concatStringsSep \",\" [ ");
                for _ in 0..rng.below(3) {
                    sub(rng, Ty::Str, out);
                    out.push(' ');
                }
                out.push(']');
            }
            4 => {
                out.push_str("builtins.substring 1 3 ");
                sub(rng, Ty::Str, out);
            }
            5 => {
                out.push_str("builtins.replaceStrings [ \"a\" \"-\" ] [ \"A\" \"_\" ] ");
                sub(rng, Ty::Str, out);
            }
            6 => {
                out.push_str("builtins.toJSON ");
                {
                    let t = TYPES[rng.below(TYPES.len())];
                    sub(rng, t, out)
                };
            }
            7 => {
                out.push_str("builtins.typeOf ");
                {
                    let t = TYPES[rng.below(TYPES.len())];
                    sub(rng, t, out)
                };
            }
            _ => {
                out.push_str("''\n  line ${");
                sub(rng, Ty::Str, out);
                out.push_str("}\n    deeper\n''");
            }
        },
        Ty::List if leaf => {
            out.push_str(rng.pick(&["[ ]", "[ 1 2 3 ]", "[ \"b\" \"a\" ]", "[ [ 1 ] { a = 1; } ]"]))
        }
        Ty::List => match rng.below(8) {
            0 => {
                out.push_str("[ ");
                for _ in 0..rng.below(4) {
                    {
                        let t = TYPES[rng.below(TYPES.len())];
                        sub(rng, t, out)
                    };
                    out.push(' ');
                }
                out.push(']');
            }
            1 => {
                sub(rng, Ty::List, out);
                out.push_str(" ++ ");
                sub(rng, Ty::List, out);
            }
            2 => {
                out.push_str("map (x: x * 2) [ ");
                for _ in 0..rng.below(4) {
                    sub(rng, Ty::Int, out);
                    out.push(' ');
                }
                out.push(']');
            }
            3 => {
                out.push_str("builtins.filter (x: x > 0) [ ");
                for _ in 0..rng.below(4) {
                    sub(rng, Ty::Int, out);
                    out.push(' ');
                }
                out.push(']');
            }
            4 => {
                out.push_str("builtins.sort builtins.lessThan [ ");
                for _ in 0..rng.below(5) {
                    sub(rng, Ty::Int, out);
                    out.push(' ');
                }
                out.push(']');
            }
            5 => {
                out.push_str("builtins.attrNames ");
                sub(rng, Ty::Set, out);
            }
            6 => {
                out.push_str("builtins.genList (i: i * ");
                sub(rng, Ty::Int, out);
                out.push_str(") 3");
            }
            _ => {
                out.push_str("builtins.attrValues ");
                sub(rng, Ty::Set, out);
            }
        },
        Ty::Set if leaf => {
            out.push_str(rng.pick(&["{ }", "{ a = 1; }", "{ a = { b = 2; }; c = \"x\"; }"]))
        }
        Ty::Set => match rng.below(7) {
            0 => {
                out.push_str("{ ");
                for key in ["a", "b", "\"c d\""].iter().take(1 + rng.below(3)) {
                    out.push_str(key);
                    out.push_str(" = ");
                    {
                        let t = TYPES[rng.below(TYPES.len())];
                        sub(rng, t, out)
                    };
                    out.push_str("; ");
                }
                out.push('}');
            }
            1 => {
                sub(rng, Ty::Set, out);
                out.push_str(" // ");
                sub(rng, Ty::Set, out);
            }
            2 => {
                out.push_str("builtins.mapAttrs (n: v: n) ");
                sub(rng, Ty::Set, out);
            }
            3 => {
                out.push_str("builtins.listToAttrs [ { name = \"k\"; value = ");
                sub(rng, Ty::Int, out);
                out.push_str("; } ]");
            }
            4 => {
                out.push_str("rec { a = ");
                sub(rng, Ty::Int, out);
                out.push_str("; b = a + 1; c.d = b; }");
            }
            5 => {
                out.push_str("builtins.removeAttrs ");
                sub(rng, Ty::Set, out);
                out.push_str(" [ \"a\" ]");
            }
            _ => {
                out.push_str("let s = ");
                sub(rng, Ty::Set, out);
                out.push_str("; in s // { inherit s; }");
            }
        },
    }
}

impl Rng {
    fn pick_ty(&mut self, types: &[Ty]) -> Ty {
        types[self.below(types.len())]
    }
}
