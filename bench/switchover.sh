#!/usr/bin/env bash
# Planned switchover under a steady insert load, tandem beside PostgreSQL 17,
# in one run: builds tandem and crates/testkit/examples/switchover_bench.rs
# (release) and runs it. Per trial and system the test kit starts, on
# 127.0.0.1, a primary, a standby with the slot sync worker and a subscriber
# with a failover subscription; a loader commits one row every 10 ms on
# whichever node accepts writes; then
#   tandem:        tandem switchover --primary P --standby S --subscriber SUB
#   PostgreSQL 17: pg_ctl stop -m fast of P, pg_promote() on S,
#                  ALTER SUBSCRIPTION ... CONNECTION on SUB
# and it measures how long writes are refused (last commit on P -> first on S)
# and the time from the start until the subscriber applies the first row
# committed on S; every row is checked to arrive exactly once. Prints a
# markdown table (medians, max, ratio) and every trial; progress on stderr.
#   bench/switchover.sh [TRIALS] [--systems tandem,pg17] [--interval-ms MS]
# TRIALS defaults to 3. PostgreSQL 17 comes from $PG17_BIN (default
# /opt/pgref/17/bin), run as user pgref when this runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${TANDEM_BIN:-}" ]; then
  cargo build --release -q -p tandem --bins
fi
cargo build --release -q -p tandem-testkit --example switchover_bench
exec "$TARGET/release/examples/switchover_bench" "$@"
