#!/usr/bin/env bash
# Subscription apply benchmark, tandem beside PostgreSQL 17, each over plain
# TCP and over TLS: for each system and transport, a fresh publisher
# (wal_level = logical) and subscriber on 127.0.0.1 (fsync on, default
# settings otherwise: the subscription's synchronous_commit is off on both),
# a publication FOR ALL TABLES and a subscription WITH (copy_data = false).
# Under a steady insert load on the publisher (pgbench, $CLIENTS clients, one
# single-row INSERT per transaction into a table with a primary key, SECONDS
# seconds) it prints
#   - the publisher's insert rate (pgbench tps);
#   - apply throughput: rows at the subscriber / time from load start until
#     the subscriber has every row (polled with psql every 20 ms, so the
#     catch-up time includes a few ms of psql start-up), with the backlog when
#     the load ended;
#   - commit-to-visible latency p50/p99/max: crates/tandem/examples/apply_probe.rs
#     commits a marker row on the publisher every 50 ms during the load and
#     polls the subscriber until it is visible;
#   with both transports, each system's TLS cost (TLS / plain for rates,
#   TLS - plain for latencies).
#   bench/apply.sh [SECONDS]
# TLS: the certificates are made at run time with openssl (a CA and a server
# certificate for 127.0.0.1 and localhost, ECDSA P-256); the publisher runs
# with ssl = on and the subscription connects with sslmode=verify-full and the
# CA as sslrootcert (the publisher's pg_stat_ssl row for the apply walsender
# is checked before the load). Only the subscription's connection is
# encrypted: pgbench, psql and the probe connect without TLS.
# TLS=0 measures plain TCP only, TLS=1 TLS only (default: both).
# PostgreSQL 17 comes from $PG17_BIN (default /opt/pgref/17/bin), run as user
# $PGREF_USER (default pgref) when this runs as root; set PG17_BIN= (empty) to
# measure tandem only.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
CLIENTS=${CLIENTS:-8}
. bench/lib.sh
bench_modes
if [ -z "${TANDEM_BIN:-}" ]; then
  cargo build --release -q -p tandem --bins --example apply_probe
fi
PROBE=${PROBE_BIN:-$PWD/target/release/examples/apply_probe}
bench_workdir applybench
P=$((22000 + RANDOM % 8000))
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres PGSSLMODE=disable
q() { PGPORT=$1 psql -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres sslmode=disable"; }
# The subscription's connection string to the publisher on port $1, mode $2.
sub_conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres $(ssl_options "$2")"; }
make_pki

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
# (both empty) over transport $4; stores the results in R under the label $3.
measure() {
  local pport=$1 sport=$2 label=$3 mode=$4
  q "$pport" "$SCHEMA"
  q "$sport" "$SCHEMA"
  q "$pport" "create publication bench for all tables"
  PGPORT=$sport psql -XAtq -v ON_ERROR_STOP=1 -c "set client_min_messages = warning" \
    -c "create subscription bench connection '$(sub_conninfo "$pport" "$mode")' publication bench with (copy_data = false)" \
    2> >(grep -v '^NOTICE:' >&2)
  # streaming: a marker row arrives
  q "$pport" "insert into probe values (0)"
  local ok=0
  for _ in $(seq 300); do
    [ "$(q "$sport" "select count(*) from probe where id = 0")" = 1 ] && { ok=1; break; }
    sleep 0.1
  done
  if [ $ok = 0 ]; then echo "$label: the subscription does not stream" >&2; return 1; fi
  R[$label/ssl]=$(q "$pport" "select case when s.ssl then s.version else 'off' end from pg_stat_replication r join pg_stat_ssl s using (pid) where r.application_name = 'bench'")
  if [ "$mode" = tls ] && [ "${R[$label/ssl]}" = off ]; then
    echo "$label: the subscription's connection is not encrypted" >&2; return 1
  fi

  local t0 t1 tend tps probe pubrows subrows_at_end subrows
  t0=$(now)
  "$PROBE" "$(conninfo "$pport")" "$(conninfo "$sport")" "$SECS" 50 1 > "$WORK/probe-${label//\//-}.txt" &
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
  probe=$(cat "$WORK/probe-${label//\//-}.txt")
  R[$label/tps]=$(printf '%.0f' "${tps:-0}")
  R[$label/rows]=$pubrows
  R[$label/subrows]=$subrows
  R[$label/apply]=$(echo "$subrows / ($t1 - $t0)" | bc)
  R[$label/catchup]=$(printf '%.2f' "$(echo "$t1 - $tend" | bc)")
  R[$label/backlog]=$((pubrows - subrows_at_end))
  R[$label/p50]=$(awk '{print $4}' <<< "$probe")
  R[$label/p99]=$(awk '{print $7}' <<< "$probe")
  R[$label/max]=$(awk '{print $10}' <<< "$probe")
  R[$label/probes]="$(awk '{print $2}' <<< "$probe") ($(awk '{print $13}' <<< "$probe") t/o)"
}

# One tandem publisher + subscriber pair over transport $1, ports $2, $2 + 1.
run_tandem() {
  local mode=$1 p=$2 s=$(($2 + 1)) d=$WORK/tandem-$1 n
  mkdir -p "$d"
  for n in pub sub; do init_dir tandem "$d/$n" "$([ $n = pub ] && echo "$p" || echo "$s")"; done
  echo "wal_level = logical" >> "$d/pub/postgresql.conf"
  if [ "$mode" = tls ]; then enable_ssl "$d/pub"; fi
  for n in pub sub; do start_dir tandem "$d/$n"; done
  echo "== tandem, $mode (publisher $p, subscriber $s)"
  measure "$p" "$s" "tandem/$mode" "$mode"
  stop_dir tandem "$d/sub"
  stop_dir tandem "$d/pub"
}

# The same with PostgreSQL 17.
run_pg() {
  local mode=$1 p=$2 s=$(($2 + 1)) d=$WORK/pg-$1 n
  mkdir -p "$d"
  if [ "$(id -u)" = 0 ]; then chown "$PGREF_USER" "$d"; fi
  for n in pub sub; do init_dir pg "$d/$n" "$([ $n = pub ] && echo "$p" || echo "$s")"; done
  echo "wal_level = logical" >> "$d/pub/postgresql.conf"
  if [ "$mode" = tls ]; then
    enable_ssl "$d/pub" "$([ "$(id -u)" = 0 ] && echo "$PGREF_USER")"
  fi
  for n in pub sub; do start_dir pg "$d/$n"; done
  echo "== PostgreSQL $PGVER, $mode (publisher $p, subscriber $s)"
  measure "$p" "$s" "pg/$mode" "$mode"
  stop_dir pg "$d/sub"
  stop_dir pg "$d/pub"
}

bench_systems say
port=$P
for sys in $SYSTEMS; do
  for mode in $MODES; do
    "run_$sys" "$mode" "$port"
    port=$((port + 2))
  done
done

echo
echo "subscription apply, publisher -> subscriber on 127.0.0.1, fsync on: pgbench -c $CLIENTS, ${SECS}s,"
echo "one single-row INSERT per transaction; probe: one marker row committed every 50 ms."
summary_header 50
row() { summary_row 50 "$@"; }
row "subscription connection TLS" ssl
row "publisher inserts (rows/s, pgbench tps)" tps ratio
row "rows inserted" rows
row "rows behind at the subscriber at load end" backlog
row "catch-up after load end (s)" catchup diff
row "apply throughput (rows/s, load start->caught up)" apply ratio
row "commit-to-visible p50 (ms)" p50 diff
row "commit-to-visible p99 (ms)" p99 diff
row "commit-to-visible max (ms)" max diff
row "probes" probes
