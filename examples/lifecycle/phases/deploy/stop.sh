# `infra destroy`: stops the server and removes the releases.
set -eu
pidfile="$INFRA_ROOT/server.pid"
if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
fi
rm -rf "$INFRA_ROOT/releases" "$INFRA_ROOT/live"
