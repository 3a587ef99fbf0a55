#!/usr/bin/env bash
# Logical decoding throughput: tandem beside PostgreSQL on the same machine and
# the same workload, through pg_logical_slot_peek_changes (test_decoding) and
# through pg_recvlogical streaming to /dev/null.
#
#   bench/decoding.sh [ROWS]
#
# Workloads, each decoded from a slot created before it ran:
#   bulk   ROWS inserts in transactions of 1000 rows
#   small  pgbench -N for SECS seconds (3 updates + 1 insert per transaction)
# Prints changes/s (INSERT/UPDATE/DELETE rows of test_decoding output).
# PostgreSQL 17: the programs in $PG17_BIN (default /opt/pgref/17/bin; empty:
# tandem only), run as $PGREF_USER (default pgref) when root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-200000}
SECS=${SECS:-10}
. bench/lib.sh
bench_workdir decbench
TPORT=$((20000 + RANDOM % 10000)); PPORT=$((TPORT + 1))
PGBENCH=pgbench; [ -x "$PG17_BIN/pgbench" ] && PGBENCH="$PG17_BIN/pgbench"
RECVLOGICAL=pg_recvlogical; [ -x "$PG17_BIN/pg_recvlogical" ] && RECVLOGICAL="$PG17_BIN/pg_recvlogical"
PSQL=psql

if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q; fi


q() { PGHOST=127.0.0.1 PGPORT=$1 PGUSER=postgres "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -d postgres -c "$2"; }
declare -A R

bench_one() { # label port
  local label=$1 port=$2 t0 t1 n lsn
  q "$port" "CREATE TABLE bulk (id int PRIMARY KEY, v text)"
  q "$port" "SELECT 'x' FROM pg_create_logical_replication_slot('bulk', 'test_decoding')" >/dev/null
  q "$port" "SELECT 'x' FROM pg_create_logical_replication_slot('bulk2', 'test_decoding')" >/dev/null
  local i=0
  while [ $i -lt "$ROWS" ]; do
    q "$port" "INSERT INTO bulk SELECT g, 'row ' || g FROM generate_series($((i + 1)), $((i + 1000))) g"
    i=$((i + 1000))
  done
  t0=$(now)
  n=$(q "$port" "SELECT count(*) FROM pg_logical_slot_peek_changes('bulk', NULL, NULL) WHERE data LIKE 'table%'")
  t1=$(now)
  R["$label/bulk/sql"]=$(echo "$n / ($t1 - $t0)" | bc)
  lsn=$(q "$port" "SELECT pg_current_wal_lsn()")
  t0=$(now)
  "$RECVLOGICAL" -d "host=127.0.0.1 port=$port user=postgres dbname=postgres" --slot bulk2 --start \
    --no-loop --endpos "$lsn" -f /dev/null
  t1=$(now)
  R["$label/bulk/recv"]=$(echo "$n / ($t1 - $t0)" | bc)

  PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres "$PGBENCH" -i -s 1 -q postgres >/dev/null 2>&1
  q "$port" "SELECT 'x' FROM pg_create_logical_replication_slot('small', 'test_decoding')" >/dev/null
  q "$port" "SELECT 'x' FROM pg_create_logical_replication_slot('small2', 'test_decoding')" >/dev/null
  PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres "$PGBENCH" -N -n -c 8 -j 2 -T "$SECS" postgres >/dev/null 2>&1
  t0=$(now)
  n=$(q "$port" "SELECT count(*) FROM pg_logical_slot_peek_changes('small', NULL, NULL) WHERE data LIKE 'table%'")
  t1=$(now)
  R["$label/small/sql"]=$(echo "$n / ($t1 - $t0)" | bc)
  R["$label/small/n"]=$n
  lsn=$(q "$port" "SELECT pg_current_wal_lsn()")
  t0=$(now)
  "$RECVLOGICAL" -d "host=127.0.0.1 port=$port user=postgres dbname=postgres" --slot small2 --start \
    --no-loop --endpos "$lsn" -f /dev/null
  t1=$(now)
  R["$label/small/recv"]=$(echo "$n / ($t1 - $t0)" | bc)
}

echo "== tandem (port $TPORT)"
init_dir tandem "$WORK/tandem" "$TPORT"
cat >> "$WORK/tandem/postgresql.conf" <<CONF
wal_level = logical
CONF
start_dir tandem "$WORK/tandem"
bench_one tandem "$TPORT"
stop_dir tandem "$WORK/tandem"

have_pg=0
if [ -x "$PG17_BIN/postgres" ]; then
  have_pg=1
  echo "== PostgreSQL $("$PG17_BIN/postgres" --version | awk '{print $3}') (port $PPORT)"
  mkdir -p "$WORK/pg"; chmod 700 "$WORK/pg"
  [ "$(id -u)" = 0 ] && chown "$PGREF_USER" "$WORK/pg" "$WORK"
  init_dir pg "$WORK/pg" "$PPORT"
  printf "%s\n" 'wal_level=logical' >> "$WORK/pg/postgresql.conf"
  start_dir pg "$WORK/pg"
  bench_one postgres "$PPORT"
fi

echo
echo "decoding throughput, changes/s (bulk: $ROWS inserts in 1000-row transactions; small: pgbench -N ${SECS}s,"
echo "tandem ${R[tandem/small/n]} changes, postgres ${R[postgres/small/n]:-n/a} changes). pg_recvlogical times include"
echo "connecting and stopping at --endpos."
printf '%-8s %-22s %12s' workload interface tandem
[ $have_pg = 1 ] && printf ' %12s' "postgres"
echo
for w in bulk small; do
  for i in sql recv; do
    name=$([ $i = sql ] && echo "peek_changes (SQL)" || echo "pg_recvlogical")
    printf '%-8s %-22s %12s' "$w" "$name" "${R[tandem/$w/$i]}"
    [ $have_pg = 1 ] && printf ' %12s' "${R[postgres/$w/$i]}"
    echo
  done
done
