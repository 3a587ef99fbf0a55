#!/usr/bin/env bash
# Failover-slot timings, tandem beside PostgreSQL 17, in one run: builds tandem
# and crates/testkit/examples/failover_bench.rs (release) and runs it. For each
# system the test kit starts, on 127.0.0.1, a primary, a standby with the slot
# sync worker (sync_replication_slots = on) and a subscriber with a failover
# subscription, then measures (client-side monotonic clock, polls over open
# connections: 1 ms apart, back to back for c):
#   a1  pg_create_logical_replication_slot(..., failover => true) -> synced on the standby
#   a2  CREATE SUBSCRIPTION ... (failover = true) -> synced / sync-ready on the standby
#   b   INSERT commit -> sub1 confirmed_flush_lsn on the primary -> on the standby
#   c   INSERT commit -> row at the subscriber, with and without synchronized_standby_slots
#       (polled back to back with a prepared query: sub-millisecond resolution)
#   d   stop primary -> pg_promote -> ALTER SUBSCRIPTION ... CONNECTION -> new row at subscriber
# and prints a markdown table (medians, max, ratio tandem / PostgreSQL 17), then
# every trial. Progress goes to stderr.
#   bench/failover.sh [TRIALS] [--idle] [--idle-gap S] [--parts a1,a2,b,c,d]
#                     [--systems tandem,pg17] [--d-retry-ms MS]
# TRIALS defaults to 5 (about 3 minutes); --idle adds a1 and b after --idle-gap
# (default 20) seconds without writes per trial. PostgreSQL 17 comes from
# $PG17_BIN (default /opt/pgref/17/bin), run as user pgref when this runs as
# root; without it only tandem is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${TANDEM_BIN:-}" ]; then
  cargo build --release -q -p tandem --bins
fi
cargo build --release -q -p tandem-testkit --example failover_bench
exec "$TARGET/release/examples/failover_bench" "$@"
