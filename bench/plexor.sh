#!/usr/bin/env bash
# Runs the standard load points (plexor load --points) against Plexor: builds
# the binary, starts "plexor serve" on a free loopback port, runs the points,
# prints one table, stops the server. Bounded: each point takes at most about
# a minute. Extra arguments go to "plexor load" (e.g. --scale 0.1).
#   POINTS       which points (default: standard = idle,one-channel,hundred-channel,publish-rate)
#   CPU_PROFILE  a file: build without default.pgo and have the server write a
#                CPU profile of the whole run there, complete once this script
#                exits (bench/pgo.sh)
# The server's settings: heartbeat 5 s (the idle point samples memory after
# 8 s), no per-address connection limit, history 1000 events per channel for
# 24 h (the defaults, as nchan.sh configures Nchan), warnings-only log.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

build=(go build -o "$dir/plexor")
serve=(serve)
if [ -n "${CPU_PROFILE:-}" ]; then build+=(-pgo=off); serve+=(--cpuprofile "$CPU_PROFILE"); fi
"${build[@]}" .
port=$("$dir/plexor" load --free-port)
token="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

PLEXOR_ADDR="127.0.0.1:$port" PLEXOR_PUBLISH_TOKENS="$token" PLEXOR_ADMIN_TOKENS="admin-$token" \
PLEXOR_MAX_CONNECTIONS_PER_IP=0 PLEXOR_HEARTBEAT=5s PLEXOR_HISTORY_SIZE=1000 PLEXOR_HISTORY_TTL=24h \
PLEXOR_LOG_LEVEL=warn \
  "$dir/plexor" "${serve[@]}" 2>"$dir/server.log" &
pid=$!

echo "plexor serve (pid $pid) on 127.0.0.1:$port; $(nproc) CPUs; open files: $(ulimit -n)" >&2
status=0
"$dir/plexor" load --target plexor --url "http://127.0.0.1:$port" --token "$token" --pid "$pid" \
  --points "${POINTS:-standard}" --idle-settle 8s "$@" || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "plexor serve died; its log:" >&2; cat "$dir/server.log" >&2; exit 1
fi
if [ -s "$dir/server.log" ]; then echo "server log (warnings):" >&2; tail -20 "$dir/server.log" >&2; fi
exit "$status"
