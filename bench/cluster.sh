#!/usr/bin/env bash
# Runs load points against a Plexor cluster on this machine: starts a
# throw-away redis-server (no persistence) and NODES Plexor nodes sharing it,
# all on free loopback ports, then plexor load with the nodes' URLs
# (subscribers and publishers spread over the nodes round-robin, so most
# deliveries cross nodes through Redis), and stops everything. Server CPU and
# RSS are the nodes' (summed); Redis's CPU time is printed on its own.
#   NODES   how many Plexor nodes (default 3)
#   POINTS  which points (default: hundred-channel,one-channel)
# Extra arguments go to "plexor load" (e.g. --scale 0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
nodes=${NODES:-3}

command -v redis-server >/dev/null ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server)

dir=$(mktemp -d)
pids=()
redis_pid=
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$redis_pid" ]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/plexor" .
token="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
redis_port=$("$dir/plexor" load --free-port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --loglevel warning \
  >"$dir/redis.log" 2>&1 &
redis_pid=$!

urls=()
for i in $(seq 1 "$nodes"); do
  port=$("$dir/plexor" load --free-port)
  PLEXOR_ADDR="127.0.0.1:$port" PLEXOR_PUBLISH_TOKENS="$token" PLEXOR_ADMIN_TOKENS="admin-$token" \
  PLEXOR_REDIS_URL="redis://127.0.0.1:$redis_port" PLEXOR_REDIS_PREFIX=bench \
  PLEXOR_MAX_CONNECTIONS_PER_IP=0 PLEXOR_HEARTBEAT=5s PLEXOR_HISTORY_SIZE=1000 PLEXOR_HISTORY_TTL=24h \
  PLEXOR_LOG_LEVEL=warn \
    "$dir/plexor" serve 2>"$dir/node$i.log" &
  pids+=($!)
  urls+=("http://127.0.0.1:$port")
done
url_list=$(IFS=,; echo "${urls[*]}")
pid_list=$(IFS=,; echo "${pids[*]}")
for u in "${urls[@]}"; do # wait until every node is subscribed to Redis
  for _ in $(seq 1 100); do
    curl -fs "$u/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks=$(getconf CLK_TCK)
redis_before=$(cpu "$redis_pid")
echo "$nodes plexor nodes (pids $pid_list) on one redis-server (pid $redis_pid); $(nproc) CPUs" >&2
status=0
"$dir/plexor" load --target plexor --url "$url_list" --token "$token" --pid "$pid_list" \
  --points "${POINTS:-hundred-channel,one-channel}" "$@" || status=$?
redis_after=$(cpu "$redis_pid")
echo "redis-server CPU during the run: $(awk -v a="$redis_before" -v b="$redis_after" -v t="$ticks" 'BEGIN{printf "%.1f s", (b-a)/t}')" >&2
for i in "${!pids[@]}"; do
  if ! kill -0 "${pids[$i]}" 2>/dev/null; then
    echo "node $((i+1)) died; its log:" >&2; cat "$dir/node$((i+1)).log" >&2; exit 1
  fi
  if [ -s "$dir/node$((i+1)).log" ]; then echo "node $((i+1)) log (warnings):" >&2; tail -5 "$dir/node$((i+1)).log" >&2; fi
done
exit "$status"
