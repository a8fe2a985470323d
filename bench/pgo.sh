#!/usr/bin/env bash
# Writes default.pgo, the CPU profile "go build" uses for profile-guided
# optimisation of the plexor binary (go help buildflags, -pgo=auto): builds
# the binary without a profile, runs the load points that exercise the
# delivery and publish paths (one-channel, hundred-channel, publish-rate, as
# bench/plexor.sh configures them) against "plexor serve --cpuprofile",
# stops the server and puts its profile in place. Takes about a minute.
#   POINTS  which points (default: one-channel,hundred-channel,publish-rate)
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

go build -pgo=off -o "$dir/plexor" .
port=$("$dir/plexor" load --free-port)
token="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

PLEXOR_ADDR="127.0.0.1:$port" PLEXOR_PUBLISH_TOKENS="$token" \
PLEXOR_MAX_CONNECTIONS_PER_IP=0 PLEXOR_HEARTBEAT=5s PLEXOR_HISTORY_SIZE=1000 PLEXOR_HISTORY_TTL=24h \
PLEXOR_LOG_LEVEL=warn \
  "$dir/plexor" serve --cpuprofile "$dir/cpu.pprof" 2>"$dir/server.log" &
pid=$!

"$dir/plexor" load --target plexor --url "http://127.0.0.1:$port" --token "$token" --pid "$pid" \
  --points "${POINTS:-one-channel,hundred-channel,publish-rate}" "$@"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
if [ "$status" -ne 0 ] || [ ! -s "$dir/cpu.pprof" ]; then
  echo "plexor serve exited with status $status and no profile; its log:" >&2; cat "$dir/server.log" >&2; exit 1
fi
mv "$dir/cpu.pprof" default.pgo
echo "wrote default.pgo ($(wc -c <default.pgo) bytes); go build uses it from now on (-pgo=off to build without)" >&2
