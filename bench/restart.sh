#!/usr/bin/env bash
# Crash restart time against WAL volume and against data size, tandem vs
# PostgreSQL 17 on the same machine: for each scale in $SCALES (the data) and
# each duration in $LOADS (seconds of `pgbench -N` after a CHECKPOINT: the WAL
# since the redo point), SIGKILL the server (PostgreSQL: an immediate stop, its
# crash), then time the start until it accepts connections. No checkpoint runs
# in between (checkpoint_timeout = 1h, max_wal_size = 20GB), so recovery
# replays all of that WAL. Prints one line per system, scale and load: the WAL
# replayed (MB) and the restart time.
#
#   bench/restart.sh                          # SCALES="1 20" LOADS="0 10 30"
#   SCALES=10 LOADS="0 5 20 40" bench/restart.sh
#   PG17_BIN= bench/restart.sh                # tandem only
set -euo pipefail
cd "$(dirname "$0")/.."
SCALES=${SCALES:-1 20}
LOADS=${LOADS:-0 10 30}
CLIENTS=${CLIENTS:-8}
. bench/lib.sh
bench_workdir restart
bench_systems say
PGBENCH="$PG17_BIN/pgbench"
PSQL="$PG17_BIN/psql"
[ -x "$PGBENCH" ] || PGBENCH=pgbench
[ -x "$PSQL" ] || PSQL=psql
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q -p tandem; fi
PORT=$((20000 + RANDOM % 10000))

measure() { # kind scale
  local kind=$1 scale=$2 dir="$WORK/$1-$2" port=$((PORT++)) t0 lsn0 mb load
  init_dir "$kind" "$dir" "$port"
  printf "fsync = on\ncheckpoint_timeout = 1h\nmax_wal_size = 20GB\n" >>"$dir/postgresql.conf"
  start_dir "$kind" "$dir"
  local env=(env PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres)
  local sql=("${env[@]}" "$PSQL" -X -A -t -q -d postgres -c)
  "${env[@]}" "$PGBENCH" -i -s "$scale" -q postgres >/dev/null 2>&1
  for load in $LOADS; do
    "${sql[@]}" CHECKPOINT >/dev/null
    lsn0=$("${sql[@]}" "SELECT pg_current_wal_lsn()")
    if [ "$load" -gt 0 ]; then
      "${env[@]}" "$PGBENCH" -N -n -c "$CLIENTS" -j 2 -T "$load" postgres >/dev/null 2>&1
    fi
    mb=$("${sql[@]}" "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / 1048576.0, 1)")
    crash_dir "$kind" "$dir"
    t0=$(now)
    start_dir "$kind" "$dir"
    printf '%-6s scale=%-3s load=%3ss wal_since_checkpoint=%7s MB restart_s=%s\n' \
      "$kind" "$scale" "$load" "$mb" "$(since "$t0")"
  done
  stop_dir "$kind" "$dir"
}

for scale in $SCALES; do
  for sys in $SYSTEMS; do
    measure "$sys" "$scale"
  done
done
