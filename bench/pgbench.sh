#!/usr/bin/env bash
# pgbench side by side: tandem vs PostgreSQL on the same machine, same settings
# (fsync on, synchronous_commit on), scale 1 unless SCALE is set.
#
#   bench/pgbench.sh [SECONDS]
#
# PostgreSQL 17: the programs in $PG17_BIN (default /opt/pgref/17/bin, where
# scripts/install-pg17.sh puts them; set PG17_BIN= (empty) to measure tandem
# only). PostgreSQL refuses to run as root: when root, its server runs as user
# $PGREF_USER (default pgref).
# Prints a table of TPS and average latency per workload.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}
SCALE=${SCALE:-1}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
. bench/lib.sh
bench_workdir bench
TPORT=$((20000 + RANDOM % 10000)); PPORT=$((TPORT + 1))
PGBENCH=${PGBENCH:-pgbench}
[ -x "$PG17_BIN/pgbench" ] && PGBENCH="$PG17_BIN/pgbench"

if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q; fi



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
init_dir tandem "$WORK/tandem" "$TPORT"
cat >> "$WORK/tandem/postgresql.conf" <<CONF
fsync = on
synchronous_commit = on
max_connections = 100
CONF
start_dir tandem "$WORK/tandem"
bench_one tandem "$TPORT"
stop_dir tandem "$WORK/tandem"

if [ -x "$PG17_BIN/postgres" ]; then
  echo "== PostgreSQL $("$PG17_BIN/postgres" --version | awk '{print $3}') (port $PPORT)"
  mkdir -p "$WORK/pg"; chmod 700 "$WORK/pg"
  [ "$(id -u)" = 0 ] && chown "$PGREF_USER" "$WORK/pg" "$WORK"
  init_dir pg "$WORK/pg" "$PPORT"
  printf "%s\n" 'fsync=on' 'synchronous_commit=on' >> "$WORK/pg/postgresql.conf"
  start_dir pg "$WORK/pg"
  bench_one postgres "$PPORT"
  stop_dir pg "$WORK/pg" fast
  HAVE_PG=1
else
  echo "(no PostgreSQL server at '$PG17_BIN': run scripts/install-pg17.sh or set PG17_BIN)"
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
