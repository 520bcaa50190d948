#!/usr/bin/env bash
# `infra build` on a synthetic estate (bench/layered-estate.sh): 5 stacks × 200 components
# (1,000 work directories), 20 shared modules, hierarchical YAML config per stack, an output
# reference in 9 of every 10 components. Times a cold build, a no-op build, and a build after one module file changed
# (which re-renders only the work directories made from that module), as medians of several
# runs. Usage: [BASELINE=OTHER_INFRA_BINARY] bench/build.sh [RUNS]   (needs a release build;
# BASELINE: the cold build of another binary too, side by side)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
infra="${INFRA:-$PWD/target/release/infra}"
[ -x "$infra" ] || cargo build --release --quiet
dir="$PWD/target/bench-build"
rm -rf "$dir" "$dir"-cold-*
bash bench/layered-estate.sh "$dir" 5 200

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
ms() { local start end; start=$(date +%s%N); "$@" >/dev/null 2>&1; end=$(date +%s%N); echo $(( (end - start) / 1000000 )); }

# Cold builds on a fresh filesystem (bench/fresh-fs.sh says why).
. bench/fresh-fs.sh
cold_build() {
    local bin="$1" i root
    root=$(fresh_root "$dir-cold")
    for i in $(seq "$runs"); do
        mkdir -p "$root-$i" && cp -r "$dir/main.infra" "$dir/modules" "$dir/config" "$root-$i/"
    done
    sync
    for i in $(seq "$runs"); do ms "$bin" -C "$root-$i" build; done | median
    release_fresh_root
}
cold=$(cold_build "$infra")
[ -n "${BASELINE:-}" ] && baseline_cold=$(cold_build "$BASELINE")
rm -rf "$dir"-cold-*
"$infra" -C "$dir" build >/dev/null 2>&1
noop=$(for _ in $(seq "$runs"); do ms "$infra" -C "$dir" build; done | median)
changed=$(for i in $(seq "$runs"); do echo "# edit $i" >> "$dir/modules/m07/main.tf"; ms "$infra" -C "$dir" build; done | median)
echo "# edit final" >> "$dir/modules/m07/main.tf"
summary=$("$infra" -C "$dir" build 2>&1 >/dev/null)
echo "components: 1000 (5 stacks x 200), runs: $runs (medians)"
echo "cold build:              ${cold} ms${baseline_cold:+   (BASELINE $BASELINE: ${baseline_cold} ms)}"
echo "no-op build:             ${noop} ms"
echo "one module file changed: ${changed} ms   ($summary)"
