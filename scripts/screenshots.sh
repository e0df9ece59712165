#!/usr/bin/env bash
# Takes the README's screenshots: the real viewer in an Xvfb window, fed by the demo
# service, driven with keys through xdotool.
# Needs: apt-get install xvfb x11-apps imagemagick xdotool
set -euo pipefail
cd "$(dirname "$0")/.."

display=:97
grpc=127.0.0.1:24317
http=127.0.0.1:24318
out=docs/screenshots
data=$(mktemp -d)
cargo build --release -p oculus -p demo-service -p shop

Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp &
xvfb=$!
cleanup() {
    # The viewer first: it seals its session and needs its display until it exits.
    if [ -n "${viewer:-}" ]; then
        kill "$viewer" 2>/dev/null || true
        wait "$viewer" 2>/dev/null || true
    fi
    kill "$xvfb" 2>/dev/null || true
    rm -rf "$data"
}
trap cleanup EXIT
sleep 1

# A home of its own, so that the window's kept state (tabs, theme) is not the user's.
mkdir -p "$data/home"
HOME=$data/home XDG_DATA_HOME=$data/home/.local/share DISPLAY=$display \
    target/release/oculus --data-dir "$data/data" --grpc "$grpc" --http "$http" &
viewer=$!
sleep 2
# Before any data: the window says where to send it.
DISPLAY=$display xdotool mousemove 1399 859
xwd -root -silent -display "$display" | convert xwd:- -crop 1400x860+0+0 "$out/empty.png"
echo "wrote $out/empty.png"
target/release/demo-service --endpoint "http://$grpc" --iterations 60 --interval-ms 25 >/dev/null 2>&1
target/release/demo-service --endpoint "http://$grpc" --iterations 60 --interval-ms 25 >/dev/null 2>&1
sleep 1

shot() {
    # The pointer out of the way, so no tooltip shows.
    DISPLAY=$display xdotool mousemove 1399 859
    sleep 0.3
    xwd -root -silent -display "$display" | convert xwd:- -crop 1400x860+0+0 "$out/$1.png"
    echo "wrote $out/$1.png"
}
keys() {
    DISPLAY=$display xdotool search --name Oculus windowfocus --sync
    for key in "$@"; do
        DISPLAY=$display xdotool key "$key"
        sleep 0.3
    done
}

# The logs, with an error selected and its details open.
keys g g e e Return
shot logs
# The traces: the newest failed one, its root span's details, logs inline.
keys Escape t g g e Return
sleep 0.5
keys g g Return
shot trace
# Zoomed into the trace's first half: the axis follows, spans past the edge are cut.
keys plus h h
shot trace-zoomed
# The same trace as a flame graph (F), zoomed as it was, the minimap above it.
keys F
shot flame
keys F
# The whole trace again, in the light theme.
keys z Escape T
shot light

# The shop example: one trace across two processes (back to the system theme first).
keys T T Escape
OTEL_EXPORTER_OTLP_ENDPOINT="http://$grpc" target/release/shop >/dev/null 2>&1
sleep 1
keys 1 g g e Return
shot shop

# The operations table (O), then one operation's traces, slowest first, and the
# scatter of its durations over time.
keys Escape Escape O j Return
sleep 0.5
shot operations
