#!/usr/bin/env bash
# Runs the same standard load points as plexor.sh against nginx + Nchan from
# Debian's packages (nginx-light, libnginx-mod-nchan; installed with apt-get
# when missing, which needs root): writes nginx.conf (nchan.conf.in) into a
# temporary directory with a free loopback port and one worker, starts nginx
# as a non-daemon child, runs the points measuring the worker process
# (the master only supervises), stops nginx. Extra arguments go to
# "plexor load" (e.g. --scale 0.1); POINTS as in plexor.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

module=/usr/lib/nginx/modules/ngx_nchan_module.so
if ! command -v nginx >/dev/null || [ ! -f "$module" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light libnginx-mod-nchan
fi

dir=$(mktemp -d)
master=
cleanup() {
  if [ -n "$master" ]; then kill -QUIT "$master" 2>/dev/null || true; wait "$master" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/plexor" .
port=$("$dir/plexor" load --free-port)
mkdir -p "$dir/tmp"
sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@MODULE@|$module|g" -e "s|@NOFILE@|$(ulimit -n)|g" \
  bench/nchan.conf.in >"$dir/nginx.conf"
nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
master=$!

worker=
for _ in $(seq 100); do
  worker=$(pgrep -P "$master" | head -1) && [ -n "$worker" ] && break
  sleep 0.1
done
[ -n "$worker" ] || { echo "nginx started no worker; error.log:" >&2; cat "$dir/error.log" >&2; exit 1; }

echo "nginx $(nginx -v 2>&1 | sed 's|.*/||') + nchan (master $master, worker $worker) on 127.0.0.1:$port; $(nproc) CPUs" >&2
status=0
"$dir/plexor" load --target nchan --url "http://127.0.0.1:$port" --pid "$worker" \
  --points "${POINTS:-standard}" --idle-settle 8s "$@" || status=$?
if grep -qE '\[(alert|crit|emerg)\]' "$dir/error.log"; then
  echo "nginx error.log:" >&2; grep -E '\[(alert|crit|emerg|error)\]' "$dir/error.log" | tail -20 >&2
fi
exit "$status"
