#!/usr/bin/env bash
# Subscription apply benchmark, tandem beside PostgreSQL 17: for each, a
# publisher (wal_level = logical) and a subscriber on 127.0.0.1 (fsync on,
# default settings otherwise: the subscription's synchronous_commit is off on
# both), a publication FOR ALL TABLES and a subscription WITH (copy_data =
# false). Under a steady insert load on the publisher (pgbench, $CLIENTS
# clients, one single-row INSERT per transaction into a table with a primary
# key, SECONDS seconds) it prints
#   - the publisher's insert rate (pgbench tps);
#   - apply throughput: rows at the subscriber / time from load start until
#     the subscriber has every row (polled with psql every 20 ms, so the
#     catch-up time includes a few ms of psql start-up), with the backlog when
#     the load ended;
#   - commit-to-visible latency p50/p99/max: crates/tandem/examples/apply_probe.rs
#     commits a marker row on the publisher every 50 ms during the load and
#     polls the subscriber until it is visible.
#   bench/apply.sh [SECONDS]
# PostgreSQL 17 comes from $PG17_BIN (default /opt/pgref/17/bin), run as user
# $PGREF_USER (default pgref) when this runs as root; set PG17_BIN= (empty) to
# measure tandem only.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
CLIENTS=${CLIENTS:-8}
PG17_BIN=${PG17_BIN-/opt/pgref/17/bin}
PGREF_USER=${PGREF_USER:-pgref}
if [ -z "${TANDEM_BIN:-}" ]; then
  cargo build --release -q -p tandem --bins --example apply_probe
fi
T=${TANDEM_BIN:-$PWD/target/release/tandem}
PROBE=${PROBE_BIN:-$PWD/target/release/examples/apply_probe}
WORK=$(mktemp -d /tmp/tandem-applybench.XXXXXX)
chmod 755 "$WORK"
P=$((22000 + RANDOM % 8000)); S=$((P + 1)); PP=$((P + 2)); PS=$((P + 3))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$PGREF_USER" -- "$@"; else "$@"; fi; }
cleanup() {
  "$T" stop -D "$WORK/sub" -m immediate >/dev/null 2>&1 || true
  "$T" stop -D "$WORK/pub" -m immediate >/dev/null 2>&1 || true
  if [ -n "$PG17_BIN" ] && [ -d "$WORK/pg" ]; then
    as_pg "$PG17_BIN/pg_ctl" stop -D "$WORK/pg/sub" -m immediate >/dev/null 2>&1 || true
    as_pg "$PG17_BIN/pg_ctl" stop -D "$WORK/pg/pub" -m immediate >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres
now() { date +%s.%N; }
q() { PGPORT=$1 psql -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres"; }

# The load: one row per transaction; each client numbers its rows with its own
# counter (pgbench variables live as long as the client), so keys never clash.
cat > "$WORK/insert.sql" <<'SQL'
\set n :n + 1
\set id :client_id * 1000000000 + :n
insert into load (id, v) values (:id, 'a row of steady insert load, about fifty bytes');
SQL
chmod 644 "$WORK/insert.sql"
SCHEMA="create table load (id bigint primary key, v text); create table probe (id int primary key)"
declare -A R

# Measures the running publisher on port $1 with the subscriber on port $2
# (both empty); stores the results in R under the label $3.
measure() {
  local pport=$1 sport=$2 label=$3
  q "$pport" "$SCHEMA"
  q "$sport" "$SCHEMA"
  q "$pport" "create publication bench for all tables"
  PGPORT=$sport psql -XAtq -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
    -c "create subscription bench connection '$(conninfo "$pport")' publication bench with (copy_data = false)" \
    2> >(grep -v '^NOTICE:' >&2)
  # streaming: a marker row arrives
  q "$pport" "insert into probe values (0)"
  local ok=0
  for _ in $(seq 300); do
    [ "$(q "$sport" "select count(*) from probe where id = 0")" = 1 ] && { ok=1; break; }
    sleep 0.1
  done
  if [ $ok = 0 ]; then echo "$label: the subscription does not stream" >&2; return 1; fi

  local t0 t1 tend tps probe pubrows subrows_at_end subrows
  t0=$(now)
  "$PROBE" "$(conninfo "$pport")" "$(conninfo "$sport")" "$SECS" 50 1 > "$WORK/probe-$label.txt" &
  local probe_pid=$!
  tps=$(PGPORT=$pport pgbench -n -c "$CLIENTS" -j 2 -T "$SECS" -D n=0 -f "$WORK/insert.sql" 2>&1 |
    sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  tend=$(now)
  pubrows=$(q "$pport" "select count(*) from load")
  subrows_at_end=
  local deadline=$((SECONDS + 60 + 10 * SECS))
  while :; do
    subrows=$(q "$sport" "select count(*) from load")
    subrows_at_end=${subrows_at_end:-$subrows}
    [ "$subrows" -ge "$pubrows" ] && break
    if [ $SECONDS -gt $deadline ]; then
      echo "$label: subscriber still has $subrows of $pubrows rows; giving up" >&2
      break
    fi
    sleep 0.02
  done
  t1=$(now)
  wait $probe_pid || echo "$label: the probe failed" >&2
  probe=$(cat "$WORK/probe-$label.txt")
  R[$label/tps]=$(printf '%.0f' "${tps:-0}")
  R[$label/rows]=$pubrows
  R[$label/subrows]=$subrows
  R[$label/apply]=$(echo "$subrows / ($t1 - $t0)" | bc)
  R[$label/catchup]=$(printf '%.2f' "$(echo "$t1 - $tend" | bc)")
  R[$label/backlog]=$((pubrows - subrows_at_end))
  R[$label/p50]=$(awk '{print $4}' <<< "$probe")
  R[$label/p99]=$(awk '{print $7}' <<< "$probe")
  R[$label/max]=$(awk '{print $10}' <<< "$probe")
  R[$label/probes]="$(awk '{print $2}' <<< "$probe") ($(awk '{print $13}' <<< "$probe") timeouts)"
}

# tandem
for n in pub sub; do
  port=$([ $n = pub ] && echo "$P" || echo "$S")
  "$T" initdb -D "$WORK/$n" --port "$port" >/dev/null 2>&1
  printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" >> "$WORK/$n/postgresql.conf"
done
echo "wal_level = logical" >> "$WORK/pub/postgresql.conf"
"$T" start -D "$WORK/pub" -l "$WORK/pub.log" >/dev/null
"$T" start -D "$WORK/sub" -l "$WORK/sub.log" >/dev/null
echo "== tandem (publisher $P, subscriber $S)"
measure "$P" "$S" tandem
"$T" stop -D "$WORK/sub" >/dev/null 2>&1 || true
"$T" stop -D "$WORK/pub" >/dev/null 2>&1 || true

# PostgreSQL 17, same setup
have_pg=0
if [ -n "$PG17_BIN" ] && [ -x "$PG17_BIN/postgres" ]; then
  have_pg=1
  PGVER=$("$PG17_BIN/postgres" --version | awk '{print $3}')
  mkdir -p "$WORK/pg"
  [ "$(id -u)" = 0 ] && chown "$PGREF_USER" "$WORK/pg"
  for n in pub sub; do
    port=$([ $n = pub ] && echo "$PP" || echo "$PS")
    as_pg "$PG17_BIN/initdb" -D "$WORK/pg/$n" -U postgres -A trust >/dev/null
    printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" "$port" >> "$WORK/pg/$n/postgresql.conf"
  done
  echo "wal_level = logical" >> "$WORK/pg/pub/postgresql.conf"
  as_pg "$PG17_BIN/pg_ctl" start -D "$WORK/pg/pub" -l "$WORK/pg/pub.log" -w >/dev/null
  as_pg "$PG17_BIN/pg_ctl" start -D "$WORK/pg/sub" -l "$WORK/pg/sub.log" -w >/dev/null
  echo "== PostgreSQL $PGVER (publisher $PP, subscriber $PS)"
  measure "$PP" "$PS" postgres
  as_pg "$PG17_BIN/pg_ctl" stop -D "$WORK/pg/sub" >/dev/null 2>&1 || true
  as_pg "$PG17_BIN/pg_ctl" stop -D "$WORK/pg/pub" >/dev/null 2>&1 || true
else
  echo "== PostgreSQL 17 not found at '${PG17_BIN:-}' (set PG17_BIN=DIR, or scripts/install-pg17.sh): measuring tandem only"
fi

echo
echo "subscription apply, publisher -> subscriber on 127.0.0.1, fsync on: pgbench -c $CLIENTS, ${SECS}s,"
echo "one single-row INSERT per transaction; probe: one marker row committed every 50 ms."
printf '%-50s %16s' "" tandem
[ $have_pg = 1 ] && printf ' %16s' "PostgreSQL $PGVER"
echo
row() { # title key [unit]
  printf '%-50s %16s' "$1" "${R[tandem/$2]}${3:-}"
  [ $have_pg = 1 ] && printf ' %16s' "${R[postgres/$2]}${3:-}"
  echo
}
row "publisher inserts (rows/s, pgbench tps)" tps
row "rows inserted" rows
row "rows behind at the subscriber at load end" backlog
row "catch-up after load end (s)" catchup
row "apply throughput (rows/s, load start->caught up)" apply
row "commit-to-visible p50 (ms)" p50
row "commit-to-visible p99 (ms)" p99
row "commit-to-visible max (ms)" max
row "probes" probes
