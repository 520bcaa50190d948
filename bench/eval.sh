#!/usr/bin/env bash
# Times `infra eval --strict` against `nix-instantiate --eval --strict` on the programs in
# bench/eval/, side by side (hyperfine, interleaved runs), plus peak memory and startup time.
# Prints a Markdown table: medians, the ratio nix/infra (higher is better for infra), and
# max RSS. Needs hyperfine and nix-bin (Debian); installs them when missing (root or sudo).
# Usage: bench/eval.sh [RUNS]   (default 5 runs per command)
#        INFRA=target/pgo/infra bench/eval.sh   (a given binary, e.g. tools/build-release's)
set -euo pipefail
# A given binary is found from where the script was started.
given="${INFRA:+$(realpath -e "$INFRA")}"
cd "$(dirname "$0")/.."
runs="${1:-5}"
for tool in hyperfine nix-instantiate; do
    if ! command -v "$tool" >/dev/null; then
        pkg=$([ "$tool" = hyperfine ] && echo hyperfine || echo nix-bin)
        if [ "$(id -u)" = 0 ]; then apt-get install -y -qq "$pkg" >/dev/null; else sudo apt-get install -y -qq "$pkg" >/dev/null; fi
    fi
done
if [ -n "$given" ]; then
    infra="$given"
else
    cargo build --release --quiet
    infra="$PWD/target/release/infra"
fi
export NIX_STATE_DIR="$(mktemp -d)" NIX_LOG_DIR="$(mktemp -d)"
out="$(mktemp -d)"

peak_kb() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }

# User time (hyperfine's mean) shows how much of each lead is computation: Nix's system time
# is mostly its collector's page faults.
echo "| program | infra median | nix median | nix/infra | infra user | nix user | infra max RSS | nix max RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for program in bench/eval/*.nix; do
    name="$(basename "$program" .nix)"
    hyperfine --style none --warmup 1 --runs "$runs" --export-json "$out/$name.json" \
        "$infra eval --strict $program" "nix-instantiate --eval --strict $program" >/dev/null
    infra_kb="$(peak_kb "$infra" eval --strict "$program")"
    nix_kb="$(peak_kb nix-instantiate --eval --strict "$program")"
    python3 - "$out/$name.json" "$name" "$infra_kb" "$nix_kb" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))["results"]
ours, nix = (r["median"] for r in data)
ours_user, nix_user = (r["user"] for r in data)
print(f"| {sys.argv[2]} | {ours*1000:.1f} ms | {nix*1000:.1f} ms | {nix/ours:.2f}x | {ours_user*1000:.1f} ms | {nix_user*1000:.1f} ms | {int(sys.argv[3])/1024:.1f} MB | {int(sys.argv[4])/1024:.1f} MB |")
PY
done
hyperfine --style none --warmup 3 --runs 30 --export-json "$out/startup.json" \
    "$infra eval -E 1" "nix-instantiate --eval -E 1" >/dev/null
python3 - "$out/startup.json" <<'PY'
import json, sys
ours, nix = (r["median"] for r in json.load(open(sys.argv[1]))["results"])
print(f"| startup (`-E 1`) | {ours*1000:.1f} ms | {nix*1000:.1f} ms | {nix/ours:.2f}x | | | | |")
PY
rm -rf "$out"
