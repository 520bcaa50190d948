# `infra destroy`: stops the application.
set -eu
if [ -f "$INFRA_ROOT/app.pid" ]; then
    kill "$(cat "$INFRA_ROOT/app.pid")" 2>/dev/null || true
    rm -f "$INFRA_ROOT/app.pid"
fi
