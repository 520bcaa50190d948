#!/usr/bin/env bash
# The cache benchmark (issue 7): machine A applies N components and pushes to a cache served
# by a real nginx (WebDAV) on loopback; machine B — a fresh copy with an empty `.infra/`, the
# same state directory (standing in for remote state) — runs `infra plan` with the cache.
# Reports B's cache requests (goal ≤ N+5), wall time (goal ≤ 1 s) and Terraform steps (goal 0).
# Usage: bench/cache.sh [N]   (needs nginx: Debian's nginx-light; and tools/install-terraform)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
[ -x target/release/infra ] || cargo build --release --quiet
infra="$PWD/target/release/infra"
export PATH="$(bash tools/install-terraform):/usr/bin:/bin:/usr/sbin"
base="$PWD/target/bench-cache"
rm -rf "$base" && mkdir -p "$base/state" "$base/nginx/data" "$base/nginx/tmp"
chmod 777 "$base/nginx/data" "$base/nginx/tmp"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$base/nginx/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $base/nginx/nginx.pid; error_log $base/nginx/error.log;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $base/nginx/tmp; client_max_body_size 0;
  server { listen 127.0.0.1:$port; root $base/nginx/data;
    location / { dav_methods PUT; create_full_put_path on; dav_access user:rw all:r; } } }
CONF
nginx -c "$base/nginx/nginx.conf" -p "$base/nginx" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.5
url="http://127.0.0.1:$port/cache"
bash bench/estate.sh "$base/a" "$n"
cp -r "$base/a" "$base/b"
for m in a b; do mkdir -p "$base/$m/.infra" && ln -s "$base/state" "$base/$m/.infra/tfstate"; done
echo "A applies $n components and pushes (setup)…"
"$infra" -C "$base/a" apply --auto-approve -j 8 --cache "$url" >/dev/null 2>&1
start=$(date +%s%N)
"$infra" -C "$base/b" plan --json --cache "$url" > "$base/b.json" 2> "$base/b.err"
end=$(date +%s%N)
requests=$(sed -n 's/^cache pull from .*: \([0-9]*\) requests.*/\1/p' "$base/b.err")
steps=$(grep -c '"event":"started"' "$base/b.json" || true)
probes=$(grep -c '"step":"version"' "$base/b.json" || true)
uptodate=$(grep -c '"status":"up-to-date"' "$base/b.json" || true)
echo "fresh machine B, $n applied components, nothing changed:"
echo "  cache requests: $requests (goal <= $((n + 5)))"
echo "  wall time of infra plan: $(( (end - start) / 1000000 )) ms (goal <= 1000 ms)"
echo "  up to date: $uptodate of $n; processes: $steps ($probes of them the one-time \`terraform version\` probe)"
start=$(date +%s%N)
"$infra" -C "$base/b" plan --json --cache "$url" > /dev/null 2>&1
end=$(date +%s%N)
echo "  again (version cached): $(( (end - start) / 1000000 )) ms"
