#!/usr/bin/env bash
# Counts the instructions `infra eval --strict` and `nix-instantiate --eval --strict` execute
# on bench/eval/ and bench/idioms/ (valgrind's callgrind), side by side, each without its
# start-up (the count for `1`). Deterministic where the wall clock of a shared machine is not:
# use it to compare two builds of infra (OLD), and to see where infra stands against Nix.
# Prints a Markdown table. Needs valgrind and nix-bin (Debian); installs them when missing.
# Usage: bench/instructions.sh [INFRA_BINARY [OLD_INFRA_BINARY]]
#   (default: target/release/infra, built; slow: about 20 s a program under valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind nix-instantiate; do
    if ! command -v "$tool" >/dev/null; then
        pkg=$([ "$tool" = valgrind ] && echo valgrind || echo nix-bin)
        if [ "$(id -u)" = 0 ]; then apt-get install -y -qq "$pkg" >/dev/null; else sudo apt-get install -y -qq "$pkg" >/dev/null; fi
    fi
done
if [ $# -ge 1 ]; then infra="$1"; else cargo build --release --quiet; infra="$PWD/target/release/infra"; fi
old="${2:-}"
export NIX_STATE_DIR="$(mktemp -d)" NIX_LOG_DIR="$(mktemp -d)"
one="$(mktemp --suffix .nix)"; echo 1 > "$one"

count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/refs:/ { gsub(",", "", $4); print $4 }'; }

infra_start="$(count "$infra" eval --strict "$one")"
nix_start="$(count nix-instantiate --eval --strict "$one")"
[ -n "$old" ] && old_start="$(count "$old" eval --strict "$one")"
if [ -n "$old" ]; then
    echo "| program | old infra | infra | change | nix | nix/infra |"
    echo "| --- | --- | --- | --- | --- | --- |"
else
    echo "| program | infra | nix | nix/infra |"
    echo "| --- | --- | --- | --- |"
fi
for program in bench/eval/*.nix bench/idioms/*.nix; do
    name="$(basename "$program" .nix)"
    ours=$(( $(count "$infra" eval --strict "$program") - infra_start ))
    nix=$(( $(count nix-instantiate --eval --strict "$program") - nix_start ))
    if [ -n "$old" ]; then
        before=$(( $(count "$old" eval --strict "$program") - old_start ))
        python3 -c "import sys; b,o,n=map(int,sys.argv[2:]); print(f'| {sys.argv[1]} | {b/1e6:.0f} M | {o/1e6:.0f} M | {(o-b)*100/b:+.1f}% | {n/1e6:.0f} M | {n/o:.2f} |')" "$name" "$before" "$ours" "$nix"
    else
        python3 -c "import sys; o,n=map(int,sys.argv[2:]); print(f'| {sys.argv[1]} | {o/1e6:.0f} M | {n/1e6:.0f} M | {n/o:.2f} |')" "$name" "$ours" "$nix"
    fi
done
rm -f "$one"
