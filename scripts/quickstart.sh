#!/usr/bin/env bash
# Builds tandem, creates a data directory, starts a node on 127.0.0.1, loads
# pgbench data, runs a short pgbench, and leaves the node running for psql.
#   scripts/quickstart.sh [DATADIR] [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-/tmp/tandem-quickstart}
PORT=${2:-5432}
cargo build --release -q
T=target/release/tandem
if [ -f "$DATA/postmaster.pid" ]; then $T stop -D "$DATA" || true; fi
rm -rf "$DATA"
$T initdb -D "$DATA" --port "$PORT"
echo "listen_addresses = '127.0.0.1'" >> "$DATA/postgresql.conf"
$T start -D "$DATA" -l "$DATA/server.log"
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=postgres
psql -X -c "SELECT version()" -c "SHOW server_version" -c "SELECT pg_current_wal_lsn(), system_identifier FROM pg_control_system()"
if command -v pgbench >/dev/null; then
  pgbench -i -s 1 -q
  pgbench -c 4 -j 2 -T 5 -P 1
fi
echo
echo "tandem is running on port $PORT (data: $DATA). Try: psql -h 127.0.0.1 -p $PORT -U postgres"
echo "Stop it with: $T stop -D $DATA"
