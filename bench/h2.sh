#!/usr/bin/env bash
# HTTP/1.1 against HTTP/2, in one sitting: for each mode a fresh
# "plexor serve" (cleartext with h2c on, or TLS with a throw-away
# certificate from "plexor load --write-cert") and "plexor load" with its
# subscribers on that mode. Bounded: each point takes at most about a minute.
#   MODES   default: h1 h2c-1 h2c-100 h2-100 h1-tls
#           h1       HTTP/1.1, cleartext
#           h1-tls   HTTP/1.1 over TLS
#           h2c-N    cleartext HTTP/2 (prior knowledge), N feeds per connection
#           h2-N     HTTP/2 over TLS, N feeds per connection
#   POINTS  default: idle,hundred-channel
#   ROUNDS  default 1: the modes are run in turn this many times (pairs
#           back to back)
# Extra arguments go to "plexor load" (e.g. --scale 0.2). The server's
# settings are bench/plexor.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

dir=$(mktemp -d)
pid=
stop() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi
}
trap 'stop; rm -rf "$dir"' EXIT

go build -o "$dir/plexor" .
"$dir/plexor" load --write-cert "$dir"
token="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
status=0
for round in $(seq "${ROUNDS:-1}"); do
  for mode in ${MODES:-h1 h2c-1 h2c-100 h2-100 h1-tls}; do
    port=$("$dir/plexor" load --free-port)
    scheme=http; flags=()
    case "$mode" in
      h1) ;;
      h1-tls) scheme=https ;;
      h2c-*) flags=(--http2 --feeds-per-conn "${mode#h2c-}") ;;
      h2-*) scheme=https; flags=(--http2 --feeds-per-conn "${mode#h2-}") ;;
      *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
    if [ "$scheme" = https ]; then tls=("PLEXOR_TLS_CERT_FILE=$dir/cert.pem" "PLEXOR_TLS_KEY_FILE=$dir/key.pem"); else tls=(PLEXOR_H2C=true); fi
    env "${tls[@]}" PLEXOR_ADDR="127.0.0.1:$port" PLEXOR_PUBLISH_TOKENS="$token" PLEXOR_ADMIN_TOKENS="admin-$token" \
    PLEXOR_MAX_CONNECTIONS_PER_IP=0 PLEXOR_HEARTBEAT=5s PLEXOR_HISTORY_SIZE=1000 PLEXOR_HISTORY_TTL=24h \
    PLEXOR_LOG_LEVEL=warn PLEXOR_H2_MAX_STREAMS=1000 \
      "$dir/plexor" serve 2>"$dir/server.log" &
    pid=$!
    echo "round $round, mode $mode: plexor serve (pid $pid) on 127.0.0.1:$port" >&2
    "$dir/plexor" load --target plexor --url "$scheme://127.0.0.1:$port" --token "$token" --pid "$pid" \
      --points "${POINTS:-idle,hundred-channel}" --idle-settle 8s "${flags[@]}" "$@" | sed "s/^/$mode  /" || status=$?
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "plexor serve died; its log:" >&2; cat "$dir/server.log" >&2; exit 1
    fi
    stop
  done
done
exit "$status"
