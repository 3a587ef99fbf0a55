#!/usr/bin/env bash
# Walsender streaming throughput over TLS and over plain TCP, tandem beside
# PostgreSQL 17: each server gets ssl = on (a self-signed certificate made
# here with openssl), a physical slot, then about $MB MB of WAL (one INSERT of
# wide rows); PostgreSQL 17's pg_receivewal then streams that WAL from the
# slot's start to its end (--endpos, --no-sync) twice: sslmode=disable and
# sslmode=require. Prints MB/s for each (best of $RUNS).
#   bench/replication_tls.sh [MB]
# PostgreSQL 17 comes from $PG17_BIN (default /opt/pgref/17/bin), run as user
# $PGREF_USER (default pgref); set PG17_BIN= (empty) to measure tandem only.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-256}
RUNS=${RUNS:-3}
PG17_BIN=${PG17_BIN-/opt/pgref/17/bin}
PGREF_USER=${PGREF_USER:-pgref}
RECEIVEWAL=${PG17_BIN:+$PG17_BIN/pg_receivewal}
RECEIVEWAL=${RECEIVEWAL:-pg_receivewal}
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q -p tandem; fi
T=${TANDEM_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/tandem}
WORK=$(mktemp -d /tmp/tandem-tlsbench.XXXXXX)
chmod 755 "$WORK"
P=$((22000 + RANDOM % 8000)); PP=$((P + 1))
cleanup() {
  "$T" stop -D "$WORK/tandem" -m immediate >/dev/null 2>&1 || true
  if [ -n "$PG17_BIN" ] && [ -d "$WORK/pg" ]; then
    runuser -u "$PGREF_USER" -- "$PG17_BIN/pg_ctl" stop -D "$WORK/pg/data" -m immediate >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -keyout "$WORK/server.key" -out "$WORK/server.crt" >/dev/null 2>&1
chmod 600 "$WORK/server.key"

# install_tls DATADIR: certificate, key and ssl = on
install_tls() {
  cp "$WORK/server.crt" "$WORK/server.key" "$1/"
  printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >> "$1/postgresql.conf"
}

# measure PORT NAME: loads the WAL, streams it with and without TLS
measure() {
  local port=$1 name=$2
  export PGPORT=$port
  psql -XAtqc "select pg_create_physical_replication_slot('bench', true)" >/dev/null
  psql -XAtqc "create table wide (id int, pad text)" >/dev/null
  local rows=$((MB * 1024 * 1024 / 1100))
  psql -XAtqc "insert into wide select g, repeat('x', 1000) from generate_series(1, $rows) g" >/dev/null
  local start end
  start=$(psql -XAtc "select restart_lsn from pg_replication_slots where slot_name = 'bench'")
  end=$(psql -XAtc "select pg_current_wal_lsn()")
  local bytes
  bytes=$(psql -XAtc "select pg_wal_lsn_diff('$end', '$start')")
  local mode best out secs rate
  echo "$name, $(python3 -c "print(round($bytes / 1048576))") MB of WAL, pg_receivewal --endpos (best of $RUNS):"
  for mode in disable require; do
    best=0
    for _ in $(seq "$RUNS"); do
      out="$WORK/recv-$port"
      rm -rf "$out"; mkdir -p "$out"; chmod 777 "$out"
      secs=$( { /usr/bin/time -f %e "$RECEIVEWAL" -d "host=127.0.0.1 port=$port user=postgres sslmode=$mode" \
        -D "$out" -S bench -E "$end" --no-sync --no-loop >/dev/null 2>&1; } 2>&1 | tail -1)
      rate=$(python3 -c "print(f'{$bytes / 1048576 / max($secs, 0.01):.0f}')")
      best=$(python3 -c "print(max($best, $rate))")
    done
    echo "  sslmode=$mode: ${best} MB/s"
  done
}

# tandem
"$T" initdb -D "$WORK/tandem" --port "$P" >/dev/null 2>&1
printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_wal_size = '4GB'\n" >> "$WORK/tandem/postgresql.conf"
install_tls "$WORK/tandem"
"$T" start -D "$WORK/tandem" -l "$WORK/tandem.log" >/dev/null
measure "$P" tandem
"$T" stop -D "$WORK/tandem" >/dev/null 2>&1 || true

# PostgreSQL 17, same setup
if [ -n "$PG17_BIN" ] && [ -x "$PG17_BIN/postgres" ]; then
  as_pg() { runuser -u "$PGREF_USER" -- "$@"; }
  mkdir -p "$WORK/pg" && chown "$PGREF_USER" "$WORK/pg"
  as_pg "$PG17_BIN/initdb" -D "$WORK/pg/data" -U postgres -A trust >/dev/null
  printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_wal_size = '4GB'\n" "$PP" >> "$WORK/pg/data/postgresql.conf"
  install_tls "$WORK/pg/data"
  chown "$PGREF_USER" "$WORK/pg/data/server.crt" "$WORK/pg/data/server.key"
  as_pg "$PG17_BIN/pg_ctl" start -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w >/dev/null
  measure "$PP" "PostgreSQL 17"
fi
