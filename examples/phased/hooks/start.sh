# The application's setup hook: serves the configured site (started once; the playbook's
# files are read on every request).
set -eu
site="$INFRA_ROOT/srv/$INFRA_INPUT_NAME"
pidfile="$INFRA_ROOT/app.pid"
if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then
    nohup python3 -m http.server "$INFRA_INPUT_PORT" --bind "$INFRA_INPUT_HOST" --directory "$site" \
        >"$INFRA_ROOT/app.log" 2>&1 </dev/null &
    echo $! > "$pidfile"
    echo "started on $INFRA_INPUT_HOST:$INFRA_INPUT_PORT"
fi
printf '{"url":"http://%s:%s/"}' "$INFRA_INPUT_HOST" "$INFRA_INPUT_PORT" > "$INFRA_OUTPUTS"
