#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the tests and benches.
#
#   scripts/pg-cluster.sh start DIR [--durable]   prints postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-cluster.sh stop DIR                stops it and removes DIR
#
# Trust auth, loopback only, sockets inside DIR. Without --durable, fsync is off
# (a test cluster lives for one run; the benches pass --durable to measure
# commits as a real server makes them). As root, initdb and pg_ctl run as the
# `postgres` user (PostgreSQL refuses to run as root): DIR is handed to it, so
# DIR's parent folders must let it through (`mktemp -d` itself is fine).
# initdb + start take about a second.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [--durable]" >&2; exit 2; }

# Debian puts the server binaries outside PATH, one folder per major version: take the newest.
bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  [ -x "$d/initdb" ] && { bindir=$d; break; }
done
[ -n "$bindir" ] || bindir=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
[ -x "$bindir/initdb" ] || { echo "PostgreSQL's initdb was not found (apt-get install postgresql-15)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  opts="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=200"
  [ "${3:-}" = "--durable" ] || opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  # A random free port; another process may take it between the check and the
  # start, so a failed start tries another one.
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o "$opts -p $port" start >/dev/null 2>&1; then
      echo "postgres://postgres@127.0.0.1:$port/postgres"
      exit 0
    fi
  done
  cat "$dir/server.log" >&2 2>/dev/null
  exit 1
  ;;
stop)
  [ -d "$dir/data" ] && as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR [--durable]" >&2
  exit 2
  ;;
esac
