#!/usr/bin/env bash
# Runs the standard load points against bench/floor, the least a Go server
# can do for them (one write(2) per delivery, nothing else): the floor under
# the CPU figures of any Go server — Plexor's included — on this machine.
# Extra arguments go to "plexor load"; POINTS as in plexor.sh (default:
# one-channel,hundred-channel,publish-rate; idle memory means nothing here).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/plexor" .
go build -o "$dir/floor" ./bench/floor
port=$("$dir/plexor" load --free-port)
"$dir/floor" "127.0.0.1:$port" &
pid=$!
echo "bench/floor (pid $pid) on 127.0.0.1:$port; $(nproc) CPUs" >&2
"$dir/plexor" load --target nchan --url "http://127.0.0.1:$port" --pid "$pid" \
  --points "${POINTS:-one-channel,hundred-channel,publish-rate}" "$@"
