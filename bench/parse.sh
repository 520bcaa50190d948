#!/usr/bin/env bash
# Lex + parse throughput of lang::parse against rnix on a generated ~2 MB Nix-syntax estate.
# Arguments go to the benchmark: `bench/parse.sh --write /tmp/estate.nix`, `--only infra`;
# INFRA_BENCH_ITERS=N sets the number of timed iterations (default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench -p lang --bench parse -- "$@"
