#!/usr/bin/env bash
# Back-to-back pairs: runs the standard load points against two Plexor
# binaries in turn (A, B, A, B, ...), ROUNDS times, so that both see the
# same machine. The load tool of binary B drives both (the client side must
# not differ between the two). Use it for "no regression" checks of a change:
#   go build -o /tmp/before . (at the old commit) ; go build -o /tmp/after .
#   bash bench/compare.sh /tmp/before /tmp/after [ROUNDS] [plexor load flags]
# Settings as bench/plexor.sh. POINTS chooses the points (default: standard).
set -euo pipefail
a=$1 b=$2 rounds=${3:-3}
shift 3 || shift $#
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

run() { # run LABEL BINARY
  local label=$1 bin=$2 port token
  shift 2
  port=$("$b" load --free-port)
  token="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  PLEXOR_ADDR="127.0.0.1:$port" PLEXOR_PUBLISH_TOKENS="$token" PLEXOR_ADMIN_TOKENS="admin-$token" \
  PLEXOR_MAX_CONNECTIONS_PER_IP=0 PLEXOR_HEARTBEAT=5s PLEXOR_HISTORY_SIZE=1000 PLEXOR_HISTORY_TTL=24h \
  PLEXOR_LOG_LEVEL=warn "$bin" serve 2>"$dir/server.log" &
  pid=$!
  echo "== $label: $bin (pid $pid) on 127.0.0.1:$port" >&2
  "$b" load --target plexor --url "http://127.0.0.1:$port" --token "$token" --pid "$pid" \
    --points "${POINTS:-standard}" --idle-settle 8s "$@"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
for r in $(seq 1 "$rounds"); do
  run "round $r A" "$a" "$@"
  run "round $r B" "$b" "$@"
done
