#!/usr/bin/env bash
# Secondary index upkeep side by side: tandem vs PostgreSQL 17 on the same
# machine and settings (fsync on, synchronous_commit on). A table with a
# primary key, a UNIQUE column and a plain index, ROWS rows (default
# 100000), then pgbench custom scripts (prepared statements, CLIENTS
# clients, SECONDS each):
#   insert         INSERT of a new row: two index entries besides the row
#   upsert         INSERT ... ON CONFLICT (email) DO UPDATE of an existing row
#   move           UPDATE of the indexed column: its entry moves
#   unique-lookup  SELECT by the UNIQUE column (an index scan)
#   range          SELECT count(*) of ~100 rows by a range of the indexed column
#   top            SELECT the 10 rows of the lowest team values at or above a
#                  random one (ORDER BY team LIMIT 10: read in index order)
#
#   bench/indexes.sh [SECONDS]
#
# PostgreSQL 17: $PG17_BIN (default /opt/pgref/17/bin; empty: tandem only).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROWS=${ROWS:-100000}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
. bench/lib.sh
bench_workdir indexes
TPORT=$((20000 + RANDOM % 10000)); PPORT=$((TPORT + 1))
PGBENCH=${PGBENCH:-pgbench}
if [ -n "$PG17_BIN" ] && [ -x "$PG17_BIN/pgbench" ]; then PGBENCH="$PG17_BIN/pgbench"; fi
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q; fi

cat > "$WORK/insert.sql" <<SQL
\set id random($((ROWS + 1)), 2000000000)
INSERT INTO users VALUES (:id, 'u' || :id, :id % 1000) ON CONFLICT DO NOTHING;
SQL
cat > "$WORK/upsert.sql" <<SQL
\set id random(1, $ROWS)
INSERT INTO users VALUES (:id, 'u' || :id, 0) ON CONFLICT (email) DO UPDATE SET team = users.team + 1;
SQL
cat > "$WORK/move.sql" <<SQL
\set id random(1, $ROWS)
UPDATE users SET team = team + 1 WHERE id = :id;
SQL
cat > "$WORK/unique-lookup.sql" <<SQL
\set id random(1, $ROWS)
SELECT id FROM users WHERE email = 'u' || :id;
SQL
cat > "$WORK/range.sql" <<SQL
\set t random(0, 900)
SELECT count(*) FROM users WHERE team >= :t AND team < :t + 1;
SQL
cat > "$WORK/top.sql" <<SQL
\set t random(0, 900)
SELECT id, team FROM users WHERE team >= :t ORDER BY team LIMIT 10;
SQL
chmod a+r "$WORK"/*.sql
workloads=(insert upsert move unique-lookup range top)
declare -A TPS

bench_one() { # label port
  local label=$1 port=$2
  local psql=(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
  "${psql[@]}" -c "CREATE TABLE users (id int PRIMARY KEY, email text UNIQUE, team int)" \
    -c "INSERT INTO users SELECT g, 'u' || g, g % 1000 FROM generate_series(1, $ROWS) g" \
    -c "CREATE INDEX users_team ON users (team)" >/dev/null
  for w in "${workloads[@]}"; do
    TPS["$label/$w"]=$(PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres "$PGBENCH" -n -M prepared \
      -c "$CLIENTS" -j "$THREADS" -T "$SECS" -f "$WORK/$w.sql" postgres 2>&1 \
      | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
  done
}

bench_systems say
for sys in $SYSTEMS; do
  port=$TPORT; label=tandem
  if [ "$sys" = pg ]; then port=$PPORT; label=postgres; fi
  echo "== $sys (port $port)"
  init_dir "$sys" "$WORK/$sys" "$port"
  printf "%s\n" 'fsync = on' 'synchronous_commit = on' >> "$WORK/$sys/postgresql.conf"
  start_dir "$sys" "$WORK/$sys"
  bench_one "$label" "$port"
  stop_dir "$sys" "$WORK/$sys" fast
done

echo
printf "%-14s | %12s | %12s | %8s\n" workload "tandem tps" "pg tps" "ratio"
for w in "${workloads[@]}"; do
  t=${TPS[tandem/$w]:-n/a}; p=${TPS[postgres/$w]:-n/a}
  r=n/a
  if [[ $t =~ ^[0-9.]+$ && $p =~ ^[0-9.]+$ ]]; then r=$(echo "scale=2; $t / $p" | bc); fi
  printf "%-14s | %12s | %12s | %8s\n" "$w" "$t" "$p" "$r"
done
echo "($ROWS rows, $CLIENTS clients, $THREADS threads, ${SECS}s each, prepared, fsync=on, synchronous_commit=on)"
