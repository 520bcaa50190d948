# Unpacks the image into releases/DIGEST and makes sure the server runs; the server serves
# `live`, which only `release` switches.
set -eu
digest=$(basename "$INFRA_INPUT_REGISTRY_IMAGE" .tar.gz)
release="$INFRA_ROOT/releases/$digest"
rm -rf "$release.tmp" && mkdir -p "$release.tmp"
tar -xzf "$INFRA_ROOT/$INFRA_INPUT_REGISTRY_IMAGE" -C "$release.tmp"
rm -rf "$release" && mv "$release.tmp" "$release"
pidfile="$INFRA_ROOT/server.pid"
if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
    nohup python3 -m http.server "$INFRA_INPUT_PORT" --bind 127.0.0.1 --directory "$INFRA_ROOT/live" \
        >"$INFRA_ROOT/server.log" 2>&1 </dev/null &
    echo $! > "$pidfile"
    echo "server started on port $INFRA_INPUT_PORT"
fi
printf '{"release":"releases/%s","url":"http://127.0.0.1:%s/"}' "$digest" "$INFRA_INPUT_PORT" > "$INFRA_OUTPUTS"
