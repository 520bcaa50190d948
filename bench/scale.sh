#!/usr/bin/env bash
# The scale benchmark (issue 14): a generated estate of N components in 50 stacks (N/50 each),
# 20 shared modules (variables and outputs only, so the real Terraform applies them offline),
# layered YAML config per stack, 9 of every 10 components reading the previous one's output.
# Machine A applies everything with the real Terraform and pushes to three caches: S3 (a real
# moto server on loopback), a directory, and nginx's WebDAV (plain HTTP: no conditional writes,
# so no records index — today's one request per component). Then, as medians of RUNS runs:
#   fresh:   a fresh checkout (empty .infra/, the same state directory standing in for remote
#            state) runs `infra plan` with each cache: requests, wall time, processes
#   no-op plan / no-op build in A (everything applied): wall time, processes
#   cold build: an empty store, every work directory rendered
#   one change: one component's input changed, `infra apply` of it: infra's wall time minus
#            the Terraform processes' (the per-component `seconds` of the JSON events)
# Usage: bench/scale.sh [RUNS] [N...]   (default: 5 runs, N = 1000 10000). Applying 10,000
# components takes a while (set-up only; the estate is kept in target/bench-scale-N and
# reused when its main.infra is unchanged). Needs nginx and tools/install-ci-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)
[ -x target/release/infra ] || cargo build --release --quiet
infra="${INFRA:-$PWD/target/release/infra}"
tools="$(bash tools/install-ci-tools)"
export PATH="$(bash tools/install-terraform):$tools:/usr/bin:/bin:/usr/sbin"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export NO_COLOR=1

. bench/fresh-fs.sh
# Times are read from bash's EPOCHREALTIME in microseconds: `date` in a subshell costs a
# millisecond, which was counted against infra when it stood between the command and the clock.
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }


for n in "${sizes[@]}"; do
    base="$PWD/target/bench-scale-$n"
    fresh_estate="$base.new"
    rm -rf "$fresh_estate" "$base"/b-* && mkdir -p "$fresh_estate"
    bash bench/layered-estate.sh "$fresh_estate" 50 $(( n / 50 ))
    if [ -f "$base/a/.applied" ] && cmp -s "$base/a/main.infra" "$fresh_estate/main.infra"; then
        echo "N=$n: reusing the applied estate in $base" >&2
    else
        rm -rf "$base" && mkdir -p "$base/state"
        mv "$fresh_estate" "$base/a"
    fi
    rm -rf "$fresh_estate"

    # The servers: moto (S3) and nginx (WebDAV), on loopback, for this size.
    mkdir -p "$base/moto" "$base/nginx/data" "$base/nginx/tmp"
    chmod 777 "$base/nginx/data" "$base/nginx/tmp"
    moto_port=$(free_port)
    moto_server -H 127.0.0.1 -p "$moto_port" > "$base/moto/log" 2>&1 &
    moto=$!
    nginx_port=$(free_port)
    cat > "$base/nginx/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $base/nginx/nginx.pid; error_log $base/nginx/error.log;
events { worker_connections 256; }
http { access_log off; client_body_temp_path $base/nginx/tmp; client_max_body_size 0;
  server { listen 127.0.0.1:$nginx_port; root $base/nginx/data;
    location / { dav_methods PUT; create_full_put_path on; dav_access user:rw all:r; } } }
CONF
    nginx -c "$base/nginx/nginx.conf" -p "$base/nginx" &
    nginx_pid=$!
    trap 'kill $moto $nginx_pid 2>/dev/null || true' EXIT
    for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $moto_port))" 2>/dev/null && break; sleep 0.1; done
    export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
    curl -s -X PUT "$AWS_ENDPOINT_URL/cache" >/dev/null
    s3="s3://cache/estate"
    file="file://$base/file-cache"
    http="http://127.0.0.1:$nginx_port/cache"

    if [ ! -f "$base/a/.applied" ]; then
        mkdir -p "$base/a/.infra" && ln -sfn "$base/state" "$base/a/.infra/tfstate"
        echo "N=$n: A applies every component (set-up; the real Terraform)…" >&2
        start=${EPOCHREALTIME/[.,]/}
        "$infra" -C "$base/a" apply --auto-approve -j 8 > "$base/apply.log" 2>&1
        echo "N=$n: applied in $(( (${EPOCHREALTIME/[.,]/} - start) / 1000000 )) s" >&2
        touch "$base/a/.applied"
    fi
    # The caches are fresh for every measurement (the servers are new): push to each.
    for url in "$s3" "$file" "$http"; do
        "$infra" -C "$base/a" cache push "$url" > /dev/null 2>&1
    done

    sleep 31 # past ext4's window for freed inodes (bench/fresh-fs.sh)
    echo "== N = $n components (50 stacks × $(( n / 50 ))), runs: $runs, medians =="
    for pair in "s3:$s3" "file:$file" "http (per component):$http"; do
        name="${pair%%:*}"; url="${pair#*:}"
        times=()
        # Fresh checkouts, none deleted until the end (bench/fresh-fs.sh: writing 10,000
        # records right after deleting 10,000 measures the deletion).
        for i in $(seq "$runs"); do
            b="$base/b-${name%% *}-$i"
            mkdir -p "$b" && cp -r "$base/a/main.infra" "$base/a/modules" "$base/a/config" "$b/"
            mkdir -p "$b/.infra" && ln -s "$base/state" "$b/.infra/tfstate"
            start=${EPOCHREALTIME/[.,]/}
            "$infra" -C "$b" plan --json --cache "$url" > "$base/b.json" 2> "$base/b.err"
            times+=($(( (${EPOCHREALTIME/[.,]/} - start) / 1000 )))
        done
        requests=$(sed -n 's/^cache pull from .*: \([0-9]*\) requests\{0,1\},.*/\1/p' "$base/b.err")
        processes=$(grep -c '"event":"started"' "$base/b.json" || true)
        uptodate=$(grep -c '"status":"up-to-date"' "$base/b.json" || true)
        wall=$(printf '%s\n' "${times[@]}" | median)
        echo "fresh checkout, nothing changed, $name cache: $requests requests, ${wall} ms, $processes processes ($uptodate up to date)"
    done

    times=()
    for _ in $(seq "$runs"); do
        start=${EPOCHREALTIME/[.,]/}
        "$infra" -C "$base/a" plan --json > "$base/a.json" 2>/dev/null
        times+=($(( (${EPOCHREALTIME/[.,]/} - start) / 1000 )))
    done
    processes=$(grep -c '"event":"started"' "$base/a.json" || true)
    echo "no-op plan, everything applied: $(printf '%s\n' "${times[@]}" | median) ms, $processes processes"

    times=()
    for _ in $(seq "$runs"); do
        start=${EPOCHREALTIME/[.,]/}; "$infra" -C "$base/a" build > /dev/null 2>&1; times+=($(( (${EPOCHREALTIME/[.,]/} - start) / 1000 )))
    done
    echo "no-op build: $(printf '%s\n' "${times[@]}" | median) ms"

    # Cold builds on a fresh filesystem (bench/fresh-fs.sh says why).
    times=()
    root=$(fresh_root "$base/cold")
    for i in $(seq "$runs"); do
        mkdir -p "$root-$i" && cp -r "$base/a/main.infra" "$base/a/modules" "$base/a/config" "$root-$i/"
    done
    sync
    for i in $(seq "$runs"); do
        start=${EPOCHREALTIME/[.,]/}; "$infra" -C "$root-$i" build > /dev/null 2>&1; times+=($(( (${EPOCHREALTIME/[.,]/} - start) / 1000 )))
    done
    release_fresh_root
    echo "cold build ($n work directories): $(printf '%s\n' "${times[@]}" | median) ms"

    # One changed component: s00/c001's name (the `edit` binding), applied alone.
    overheads=()
    for i in $(seq "$runs"); do
        sed -i "s/^  edit = .*/  edit = \"-$$-$i\";/" "$base/a/main.infra"
        start=${EPOCHREALTIME/[.,]/}
        "$infra" -C "$base/a" apply --auto-approve --json s00/c001 --only > "$base/one.json" 2>/dev/null
        wall=$(( ${EPOCHREALTIME/[.,]/} - start ))
        overheads+=($(python3 -c "import json,sys; tf=sum(json.loads(l).get('seconds') or 0 for l in open(sys.argv[1]) if '\"finished\"' in l); print(f'{int(sys.argv[2])/1000 - 1000*tf:.1f}')" "$base/one.json" "$wall"))
    done
    sed -i "s/^  edit = .*/  edit = \"\";/" "$base/a/main.infra"
    "$infra" -C "$base/a" apply --auto-approve s00/c001 --only > /dev/null 2>&1
    echo "one changed component of $n: infra's wall time minus its Terraform processes': $(printf '%s\n' "${overheads[@]}" | median) ms"
    kill $moto $nginx_pid 2>/dev/null || true
    trap - EXIT
    rm -rf "$base"/b-*
done
