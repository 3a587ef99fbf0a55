#!/usr/bin/env bash
# Checkpoint cost, crash restart time and the write throughput around them,
# tandem (and optionally a second tandem binary, e.g. an older build) vs
# PostgreSQL 17 on the same machine:
#   1. pgbench -i -s $SCALE, then CHECKPOINT timed from the client;
#   2. pgbench -N -c $CLIENTS -T $SECS, $RUNS times (TPS of each run);
#   3. pgbench -N for $SECS more, SIGKILL of the server (PostgreSQL: immediate
#      stop, its crash), start timed until it accepts connections.
#
#   bench/checkpoint.sh            # SCALE=10 CLIENTS=8 SECS=20 RUNS=3
#   OTHER_BIN=/path/to/tandem bench/checkpoint.sh   # also measure that binary
#   PG=0 bench/checkpoint.sh       # without PostgreSQL
#   OTHER_FIRST=1 ...              # measure OTHER_BIN before this build
#
# Prints one line per system and measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-8}
SECS=${SECS:-20}
RUNS=${RUNS:-3}
. bench/lib.sh
bench_workdir checkpoint
bench_systems
PGBENCH="$PG17_BIN/pgbench"
PSQL="$PG17_BIN/psql"
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q -p tandem; fi
PORT=$((20000 + RANDOM % 10000))


measure() { # label kind bin
  local label=$1 kind=$2 dir="$WORK/$1" port=$((PORT++)) t0 out
  T=$3
  init_dir "$kind" "$dir" "$port"
  printf "fsync = on\nsynchronous_commit = on\nmax_connections = 100\n" >>"$dir/postgresql.conf"
  start_dir "$kind" "$dir"
  local env=(env PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres)
  t0=$(now)
  "${env[@]}" "$PGBENCH" -i -s "$SCALE" -q postgres >/dev/null 2>&1
  echo "$label init_s $(since "$t0")"
  t0=$(now)
  "${env[@]}" "$PSQL" -X -q -d postgres -c CHECKPOINT >/dev/null
  echo "$label checkpoint_s $(since "$t0")"
  for ((r = 1; r <= RUNS; r++)); do
    out=$("${env[@]}" "$PGBENCH" -N -n -c "$CLIENTS" -j 2 -T "$SECS" postgres 2>&1)
    echo "$label tps_N $(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)"
  done
  "${env[@]}" "$PGBENCH" -N -n -c "$CLIENTS" -j 2 -T "$SECS" postgres >/dev/null 2>&1 &
  local bench=$!
  sleep "$((SECS / 2))"
  crash_dir "$kind" "$dir"
  wait "$bench" || true
  t0=$(now)
  start_dir "$kind" "$dir"
  echo "$label restart_after_kill_s $(since "$t0")"
  stop_dir "$kind" "$dir"
}

if [ -n "${OTHER_BIN:-}" ] && [ -n "${OTHER_FIRST:-}" ]; then measure other tandem "$OTHER_BIN"; fi
measure tandem tandem "$PWD/target/release/tandem"
if [ -n "${OTHER_BIN:-}" ] && [ -z "${OTHER_FIRST:-}" ]; then measure other tandem "$OTHER_BIN"; fi
if [[ " $SYSTEMS " == *" pg "* ]] && [ "${PG:-1}" = 1 ]; then measure pg17 pg ""; fi
