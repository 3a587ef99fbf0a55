#!/usr/bin/env bash
# pgbench side by side: tandem vs PostgreSQL on the same machine, same settings
# (fsync on, synchronous_commit on), scale 1 unless SCALE is set.
#
#   bench/pgbench.sh [SECONDS]
#
# PostgreSQL: $PGBIN (a bin/ directory with initdb, pg_ctl, postgres) or
# /opt/pgref/17/bin (installed by ../shared/pgref/install.sh). PostgreSQL refuses
# to run as root: when root, its server runs as user $PGUSER_OS (default pgref).
# Prints a table of TPS and average latency per workload.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
SCALE=${SCALE:-1}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
PGBIN=${PGBIN:-/opt/pgref/17/bin}
PGUSER_OS=${PGUSER_OS:-pgref}
WORK=$(mktemp -d /tmp/tandem-bench.XXXXXX)
chmod 755 "$WORK"
TPORT=$((20000 + RANDOM % 10000)); PPORT=$((TPORT + 1))
PGBENCH=${PGBENCH:-pgbench}
[ -x "$PGBIN/pgbench" ] && PGBENCH="$PGBIN/pgbench"

if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q; fi
T=${TANDEM_BIN:-$PWD/target/release/tandem}

cleanup() {
  "$T" stop -D "$WORK/tandem" -m immediate >/dev/null 2>&1 || true
  if [ -x "$PGBIN/pg_ctl" ]; then run_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

run_pg() {
  if [ "$(id -u)" = 0 ]; then su "$PGUSER_OS" -s /bin/bash -c "$(printf '%q ' "$@")"; else "$@"; fi
}

workloads=("tpcb:" "simple-update:-N" "select-only:-S")
declare -A RESULT

bench_one() { # name port label
  local label=$1 port=$2
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres "$PGBENCH" -i -s "$SCALE" -q postgres >/dev/null 2>&1
  for w in "${workloads[@]}"; do
    local name=${w%%:*} flag=${w#*:}
    local out
    out=$(PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres "$PGBENCH" $flag -n -c "$CLIENTS" -j "$THREADS" -T "$SECS" postgres 2>&1)
    local tps lat
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
    lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' | head -1)
    RESULT["$label/$name/tps"]=${tps:-n/a}
    RESULT["$label/$name/lat"]=${lat:-n/a}
    local mp
    mp=$(PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres "$PGBENCH" $flag -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$SECS" postgres 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
    RESULT["$label/$name/tps_prepared"]=${mp:-n/a}
  done
}

echo "== tandem (port $TPORT)"
"$T" initdb -D "$WORK/tandem" --port "$TPORT" >/dev/null 2>&1
cat >> "$WORK/tandem/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = on
synchronous_commit = on
max_connections = 100
CONF
"$T" start -D "$WORK/tandem" -l "$WORK/tandem.log" >/dev/null
bench_one tandem "$TPORT"
"$T" stop -D "$WORK/tandem" >/dev/null

if [ -x "$PGBIN/postgres" ]; then
  echo "== PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') (port $PPORT)"
  mkdir -p "$WORK/pg"; chmod 700 "$WORK/pg"
  [ "$(id -u)" = 0 ] && chown "$PGUSER_OS" "$WORK/pg" "$WORK"
  run_pg "$PGBIN/initdb" -D "$WORK/pg" -U postgres -A trust >/dev/null
  run_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
    -o "-p $PPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=on -c synchronous_commit=on" start >/dev/null
  bench_one postgres "$PPORT"
  run_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null
  HAVE_PG=1
else
  echo "(no PostgreSQL server at $PGBIN: run ../shared/pgref/install.sh 17 or set PGBIN)"
  HAVE_PG=0
fi

echo
printf "%-14s %-10s | %12s %12s %10s | %12s %12s %10s\n" workload mode "tandem tps" "tandem ms" "" "pg tps" "pg ms" ""
for w in "${workloads[@]}"; do
  name=${w%%:*}
  printf "%-14s %-10s | %12s %12s %10s | %12s %12s %10s\n" "$name" simple \
    "${RESULT[tandem/$name/tps]}" "${RESULT[tandem/$name/lat]}" "" \
    "${RESULT[postgres/$name/tps]:-n/a}" "${RESULT[postgres/$name/lat]:-n/a}" ""
  printf "%-14s %-10s | %12s %12s %10s | %12s %12s %10s\n" "$name" prepared \
    "${RESULT[tandem/$name/tps_prepared]}" "" "" "${RESULT[postgres/$name/tps_prepared]:-n/a}" "" ""
done
echo "(scale $SCALE, $CLIENTS clients, $THREADS threads, ${SECS}s each, fsync=on, synchronous_commit=on)"
