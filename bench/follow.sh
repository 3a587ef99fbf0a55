#!/usr/bin/env bash
# Unplanned failover with a subscription that follows the primary, beside
# PostgreSQL 17's manual procedure, in one run:
#   tandem: SIGKILL primary -> pg_promote on the standby -> INSERT -> row at a
#           subscriber whose CONNECTION names both nodes (no ALTER SUBSCRIPTION;
#           crates/testkit/examples/follow_bench.rs);
#   PostgreSQL 17: fast stop of the primary -> pg_promote -> ALTER SUBSCRIPTION
#           ... CONNECTION -> INSERT -> row (failover_bench part d, with
#           wal_retrieve_retry_interval = 200ms on the subscriber).
# Failure detection is not part of either time: on loopback the kernel closes
# the dead primary's connections at once (elsewhere: wal_receiver_timeout or
# the CONNECTION's TCP keepalives).
#   bench/follow.sh [TRIALS]        (default 3; PostgreSQL 17 from $PG17_BIN,
#                                    default /opt/pgref/17/bin, as user pgref)
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${1:-3}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
if [ -z "${TANDEM_BIN:-}" ]; then
  cargo build --release -q -p tandem --bins
fi
cargo build --release -q -p tandem-testkit --example follow_bench --example failover_bench
"$TARGET/release/examples/follow_bench" "$TRIALS"
echo
echo "## PostgreSQL 17: manual procedure (failover_bench part d, one trial per run, ms)"
echo
echo "| run | measurement | n (tandem / pg17) | tandem median | tandem max | PostgreSQL 17 median | PostgreSQL 17 max | ratio |"
echo "|---|---|---|---|---|---|---|---|"
for i in $(seq 1 "$TRIALS"); do
  "$TARGET/release/examples/failover_bench" 1 --parts d --systems pg17 \
    | grep -E '^\| d ' | sed "s/^/| $i /"
done
