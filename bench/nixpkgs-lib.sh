#!/usr/bin/env bash
# nixpkgs' library, unmodified (the corpus in ../shared/corpora/nixpkgs-lib, when present): its
# own test suites run by infra and by Nix 2.8 side by side, with timings.
#
#   bench/nixpkgs-lib.sh [CORPUS] [INFRA]
#
# - lib/tests/misc.nix: prints the failing tests (`[ ]` when all pass), both ways.
# - lib/tests/modules.sh: the module system's checks, once with the real `nix-instantiate` and
#   once with a shim that hands the same requests to `infra eval`; prints each pass/fail count.
# - evalModules with an `attrsOf (submodule …)` of 1,000 and 4,000 entries: median time
#   (hyperfine where installed) and peak memory, both ways.
#
# Not a cargo test: the corpus is third-party code the project does not ship.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="$(realpath "${1:-../shared/corpora/nixpkgs-lib}")"
infra="$(realpath "${2:-target/release/infra}")"
[ -d "$corpus/lib" ] || { echo "no corpus at $corpus" >&2; exit 2; }
[ -x "$infra" ] || { echo "build it first: cargo build --release ($infra)" >&2; exit 2; }
command -v nix-instantiate >/dev/null || { echo "nix-instantiate is needed (apt-get install nix-bin)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export NIX_STATE_DIR="$work/nix/state" NIX_LOG_DIR="$work/nix/log" NIX_CONF_DIR="$work/nix/conf"

# `nix-instantiate` as modules.sh calls it, answered by `infra eval`.
mkdir -p "$work/shim"
cat > "$work/shim/nix-instantiate" <<SHIM
#!/usr/bin/env bash
args=(); expr=""; attr=""; file=""
while [ \$# -gt 0 ]; do
    case "\$1" in
        --timeout|--arg|--argstr|-I) shift 2 ;;
        --eval-only|--eval|--show-trace|--read-write-mode) shift ;;
        --json) args+=(--json); shift ;;
        --strict) args+=(--strict); shift ;;
        -E|--expr) expr="\$2"; shift 2 ;;
        -A|--attr) attr="\$2"; shift 2 ;;
        *) file="\$1"; shift ;;
    esac
done
if [ -n "\$file" ]; then
    case "\$file" in /*|./*|../*) expr="import \$file" ;; *) expr="import ./\$file" ;; esac
fi
# -A PATH as Nix's command line walks it: attributes by name, list elements by number, and
# "attribute 'x' in selection path 'PATH' not found" when one is missing.
if [ -n "\$attr" ]; then
    path=""
    IFS=. read -ra parts <<< "\$attr"
    for part in "\${parts[@]}"; do
        if [[ "\$part" =~ ^[0-9]+\$ ]]; then path="\$path \$part"; else path="\$path \"\$part\""; fi
    done
    expr="let walk = v: p: if p == [ ] then v else let h = builtins.head p; t = builtins.tail p; in if builtins.isInt h then walk (builtins.elemAt v h) t else if v ? \\\${h} then walk v.\\\${h} t else throw \"attribute '\\\${h}' in selection path '\$attr' not found\"; in walk (\$expr) [\$path ]"
fi
# Diagnostics as JSON, printed as Nix prints errors (\`error: MESSAGE\`, unwrapped), so that
# the suite's patterns see the message text and not the terminal rendering.
out="\$("$infra" eval --message-format json "\${args[@]}" -E "\$expr")" && { printf '%s\n' "\$out"; exit 0; }
printf '%s\n' "\$out" | python3 -c '
import json, re, sys
for line in sys.stdin:
    try:
        d = json.loads(line)
    except ValueError:
        continue
    # Nix drops escape sequences when stderr is not a terminal.
    print("error: " + re.sub(r"\x1b\\[[0-9;]*[A-Za-z]", "", d.get("message", "")), file=sys.stderr)
    # The trace (--show-trace in Nix): infra carries it as labels.
    for label in d.get("labels", []) or []:
        print("       … " + re.sub(r"\x1b\\[[0-9;]*[A-Za-z]", "", label.get("message", "")), file=sys.stderr)
'
exit 1
SHIM
chmod +x "$work/shim/nix-instantiate"
[ -z "${PRINT_SHIM:-}" ] || { cat "$work/shim/nix-instantiate"; exit 0; }

seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; end=$(date +%s.%N); echo "$end - $start" | bc; }

echo "== lib/tests/misc.nix (failing tests; [ ] is all pass)"
nix_misc="$(nix-instantiate --eval --strict "$corpus/lib/tests/misc.nix" 2>/dev/null || echo error)"
infra_misc="$("$infra" eval --strict "$corpus/lib/tests/misc.nix" 2>/dev/null || echo error)"
echo "nix:   $nix_misc"
echo "infra: $infra_misc"
echo "time (s): nix $(seconds nix-instantiate --eval --strict "$corpus/lib/tests/misc.nix")" \
    "infra $(seconds "$infra" eval --strict "$corpus/lib/tests/misc.nix")"

# Timed before modules.sh: its thousands of short processes leave memory fragmented, and
# infra's heap (transparent huge pages, as mimalloc asks) then stalls in compaction for a while.
echo "== evalModules: an attrsOf (submodule …) of N entries, all forced (median, seconds)"
# hyperfine's median of 10 after a warm-up where it is installed, else a median of 3.
median() {
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 1 --runs 10 --export-json "$work/h.json" "$*" >/dev/null 2>&1 &&
            python3 -c 'import json, sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$work/h.json"
    else
        for _ in 1 2 3; do seconds "$@"; done | sort -n | sed -n 2p
    fi
}
peak_mb() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{ printf "%.0f", $1 / 1024 }'; }
for n in 1000 4000; do
    cat > "$work/modules-$n.nix" <<NIX
let
  lib = import $corpus/lib;
  item = { name = lib.mkOption { type = lib.types.str; }; size = lib.mkOption { type = lib.types.int; default = 1; }; tags = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; }; };
  evaluated = lib.evalModules {
    modules = [
      { options.items = lib.mkOption { type = lib.types.attrsOf (lib.types.submodule { options = item; }); }; }
      { items = builtins.listToAttrs (builtins.genList (i: { name = "i\${toString i}"; value = { name = "item\${toString i}"; size = i; tags = [ "a" ]; }; }) $n); }
      { items.i0.tags = [ "b" ]; }
    ];
  };
in
builtins.deepSeq evaluated.config.items (builtins.length (builtins.attrNames evaluated.config.items))
NIX
    echo "N=$n: nix $(median nix-instantiate --eval --strict "$work/modules-$n.nix") s, $(peak_mb nix-instantiate --eval --strict "$work/modules-$n.nix") MB;" \
        "infra $(median "$infra" eval --strict "$work/modules-$n.nix") s, $(peak_mb "$infra" eval --strict "$work/modules-$n.nix") MB"
done
echo "== lib/tests/modules.sh"
# A copy, so that the corpus stays untouched.
cp -r "$corpus/lib" "$work/lib"
summary() { grep -E '^[0-9]+ (Pass|Fail)$' "$1" | tr '\n' ' '; }
start=$(date +%s.%N)
bash "$work/lib/tests/modules.sh" > "$work/nix.log" 2>&1 || true
nix_time=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
PATH="$work/shim:$PATH" bash "$work/lib/tests/modules.sh" > "$work/infra.log" 2>&1 || true
infra_time=$(echo "$(date +%s.%N) - $start" | bc)
echo "nix:   $(summary "$work/nix.log") (${nix_time} s)"
echo "infra: $(summary "$work/infra.log") (${infra_time} s)"
if [ -n "${KEEP_LOG:-}" ]; then cp "$work/infra.log" "$KEEP_LOG"; echo "infra's log: $KEEP_LOG"; fi

