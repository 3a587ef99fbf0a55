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
PG17_BIN=${PG17_BIN-/opt/pgref/17/bin}
PGREF_USER=${PGREF_USER:-pgref}
case "${TLS:-both}" in
  0 | off) MODES="plain" ;;
  1 | on) MODES="tls" ;;
  *) MODES="plain tls" ;;
esac
if [ -z "${TANDEM_BIN:-}" ]; then
  cargo build --release -q -p tandem --bins --example apply_probe
fi
T=${TANDEM_BIN:-$PWD/target/release/tandem}
PROBE=${PROBE_BIN:-$PWD/target/release/examples/apply_probe}
WORK=$(mktemp -d /tmp/tandem-applybench.XXXXXX)
chmod 755 "$WORK"
P=$((22000 + RANDOM % 8000))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$PGREF_USER" -- "$@"; else "$@"; fi; }
# data directories started, "tandem DIR" or "pg DIR", stopped in reverse order
STARTED=()
stop_dir() { # kind dir [mode]
  if [ "$1" = tandem ]; then
    "$T" stop -D "$2" ${3:+-m "$3"} >/dev/null 2>&1 || true
  else
    as_pg "$PG17_BIN/pg_ctl" stop -D "$2" ${3:+-m "$3"} >/dev/null 2>&1 || true
  fi
}
cleanup() {
  local i
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    # shellcheck disable=SC2086
    stop_dir ${STARTED[i]} immediate
  done
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres PGSSLMODE=disable
now() { date +%s.%N; }
q() { PGPORT=$1 psql -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres sslmode=disable"; }
# The subscription's connection string to the publisher on port $1, mode $2.
sub_conninfo() {
  if [ "$2" = tls ]; then
    echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres sslmode=verify-full sslrootcert=$PKI/root.crt"
  else
    conninfo "$1"
  fi
}

# The test PKI: root.crt signs server.crt (127.0.0.1, localhost).
PKI=$WORK/pki
if [[ " $MODES " == *" tls "* ]]; then
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl ecparam -name prime256v1 -genkey -noout -out root.key
    openssl req -x509 -new -key root.key -sha256 -days 2 -subj "/CN=bench root CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.crt
    openssl ecparam -name prime256v1 -genkey -noout -out server.key
    openssl req -new -key server.key -subj "/CN=127.0.0.1" -out server.csr
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA root.crt -CAkey root.key -CAcreateserial \
      -days 2 -sha256 -extfile server.ext -out server.crt
  ) 2>/dev/null
  chmod 755 "$PKI"
  chmod 644 "$PKI/root.crt"
fi

# Turns TLS on in data directory $1 with the test server certificate ($2 owns
# the files if given: PostgreSQL insists the key belongs to the server's user).
enable_ssl() {
  cp "$PKI/server.crt" "$PKI/server.key" "$1/"
  chmod 600 "$1/server.key"
  if [ -n "${2:-}" ]; then chown "$2" "$1/server.crt" "$1/server.key"; fi
  printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >> "$1/postgresql.conf"
}

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
  for n in pub sub; do
    "$T" initdb -D "$d/$n" --port "$([ $n = pub ] && echo "$p" || echo "$s")" >/dev/null 2>&1
    printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" >> "$d/$n/postgresql.conf"
  done
  echo "wal_level = logical" >> "$d/pub/postgresql.conf"
  if [ "$mode" = tls ]; then enable_ssl "$d/pub"; fi
  for n in pub sub; do
    STARTED+=("tandem $d/$n")
    "$T" start -D "$d/$n" -l "$d/$n.log" >/dev/null
  done
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
  for n in pub sub; do
    as_pg "$PG17_BIN/initdb" -D "$d/$n" -U postgres -A trust >/dev/null
    printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" \
      "$([ $n = pub ] && echo "$p" || echo "$s")" >> "$d/$n/postgresql.conf"
  done
  echo "wal_level = logical" >> "$d/pub/postgresql.conf"
  if [ "$mode" = tls ]; then
    enable_ssl "$d/pub" "$([ "$(id -u)" = 0 ] && echo "$PGREF_USER")"
  fi
  for n in pub sub; do
    STARTED+=("pg $d/$n")
    as_pg "$PG17_BIN/pg_ctl" start -D "$d/$n" -l "$d/$n.log" -w >/dev/null
  done
  echo "== PostgreSQL $PGVER, $mode (publisher $p, subscriber $s)"
  measure "$p" "$s" "pg/$mode" "$mode"
  stop_dir pg "$d/sub"
  stop_dir pg "$d/pub"
}

SYSTEMS="tandem"
if [ -n "$PG17_BIN" ] && [ -x "$PG17_BIN/postgres" ]; then
  SYSTEMS="tandem pg"
  PGVER=$("$PG17_BIN/postgres" --version | awk '{print $3}')
else
  echo "== PostgreSQL 17 not found at '${PG17_BIN:-}' (set PG17_BIN=DIR, or scripts/install-pg17.sh): measuring tandem only"
fi
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
COLS=()
for sys in $SYSTEMS; do
  name=$([ "$sys" = tandem ] && echo tandem || echo "PG $PGVER")
  for mode in $MODES; do COLS+=("$sys/$mode|$name $([ "$mode" = tls ] && echo TLS || echo plain)"); done
  [ "$MODES" = "plain tls" ] && COLS+=("$sys/cost|$name TLS cost")
done
printf '%-50s' ""
for c in "${COLS[@]}"; do printf ' %17s' "${c#*|}"; done
echo
row() { # title key [kind: ratio (TLS / plain) or diff (TLS - plain)]
  printf '%-50s' "$1"
  local c k v
  for c in "${COLS[@]}"; do
    k=${c%%|*}
    if [ "${k#*/}" = cost ] && [ -z "${3:-}" ]; then
      v=
    elif [ "${k#*/}" = cost ]; then
      v=$(python3 -c "import sys
a, b, kind = sys.argv[1:]
try:
    a, b = float(a), float(b)
    print(f'x{b / a:.2f}' if kind == 'ratio' else f'{b - a:+.2f}')
except (ValueError, ZeroDivisionError):
    print('-')" "${R[${k%/*}/plain/$2]:-}" "${R[${k%/*}/tls/$2]:-}" "${3:-}")
    else
      v=${R[$k/$2]:-}
    fi
    printf ' %17s' "$v"
  done
  echo
}
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
