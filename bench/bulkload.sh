#!/usr/bin/env bash
# Bulk load side by side: `pgbench -i` on tandem and on PostgreSQL 17, same
# machine, default settings (fsync on). Prints pgbench's per-step times (drop
# tables, create tables, client-side generate = COPY, vacuum, primary keys)
# and, for tandem, the server's peak and final resident memory (VmHWM, VmRSS).
#
#   SCALE=30 RUNS=3 bench/bulkload.sh
#
# PostgreSQL 17: the programs in $PG17_BIN (default /opt/pgref/17/bin; set
# PG17_BIN= (empty) to measure tandem only), run as $PGREF_USER when root.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-10}
RUNS=${RUNS:-1}
. bench/lib.sh
bench_workdir bulk
bench_systems say
TPORT=$((20000 + RANDOM % 10000)); PPORT=$((TPORT + 1))
PGBENCH=${PGBENCH:-pgbench}
[ -x "${PG17_BIN:-}/pgbench" ] && PGBENCH="$PG17_BIN/pgbench"
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q; fi

for sys in $SYSTEMS; do
  port=$([ "$sys" = tandem ] && echo "$TPORT" || echo "$PPORT")
  if [ "$sys" = pg ]; then
    mkdir -p "$WORK/pg"; chmod 700 "$WORK/pg"
    if [ "$(id -u)" = 0 ]; then chown "$PGREF_USER" "$WORK/pg" "$WORK"; fi
  fi
  init_dir "$sys" "$WORK/$sys" "$port"
  start_dir "$sys" "$WORK/$sys"
done

for ((run = 1; run <= RUNS; run++)); do
  for sys in $SYSTEMS; do
    port=$([ "$sys" = tandem ] && echo "$TPORT" || echo "$PPORT")
    line=$(PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres "$PGBENCH" -i -s "$SCALE" postgres 2>&1 | grep '^done in' || true)
    mem=
    if [ "$sys" = tandem ]; then
      pid=$(head -1 "$WORK/tandem/postmaster.pid")
      mem=$(awk '/VmHWM|VmRSS/ {printf "%s %d MB  ", $1, $2 / 1024}' "/proc/$pid/status")
    fi
    printf '%-6s s=%s run %d: %s %s\n' "$sys" "$SCALE" "$run" "$line" "$mem"
  done
done
