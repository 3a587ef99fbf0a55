#!/usr/bin/env bash
# Storage engine candidates on tandem's shapes: the in-memory model of today
# (btree + full image at checkpoint), redb (copy-on-write B-tree, with and
# without quick-repair) and fjall (LSM), at SCALE million pgbench_accounts-like
# rows (default 3, the size of pgbench -s 30).
#
#   bench/engines.sh [SCALE]
#
# Environment: ROWS (overrides SCALE), TXNS (TPC-B transactions per run, default 50000), CRASH_TXNS
# (transactions after the crash child's checkpoint before SIGKILL, default 20000),
# ENGINES (default "btree redb redb-qr fjall"), BUILD=1 to also time a clean
# release build of each engine crate alone, WORKDIR (default a temp dir, removed).
# The program lives outside the workspace (bench/engines has its own [workspace]),
# so CI never builds it. Prints two markdown tables.
set -euo pipefail
cd "$(dirname "$0")/engines"
SCALE=${1:-3}
ROWS=${ROWS:-$((SCALE * 1000000))}
TXNS=${TXNS:-50000}
CRASH_TXNS=${CRASH_TXNS:-20000}
ENGINES=${ENGINES:-btree redb redb-qr fjall}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release -q
BIN=$CARGO_TARGET_DIR/release/engines-bench
WORK=${WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/engines.XXXXXX")}
mkdir -p "$WORK"
[ -n "${WORKDIR:-}" ] || trap 'rm -rf "$WORK"' EXIT

echo "rows=$ROWS txns=$TXNS cache=128MB cores=$(nproc) $(uname -r) disk: $(df -h "$WORK" | awk 'NR==2{print $1" "$2}')"
echo
echo "| engine | load s | load MB/s | disk MB | TPC-B commits/s | p50 / p99 µs | + 2 readers commits/s | p50 / p99 µs | reader gets/s | checkpoint s | commits during it: n / p99 / max µs | scan M rows/s | warm get p50 / p99 µs | reopen s | cold get p50 / p99 µs | RSS MB load / tpcb / end / peak |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for e in $ENGINES; do
  "$BIN" run "$e" "$WORK/$e" "$ROWS" "$TXNS" 2>"$WORK/$e.log" || { echo "| $e | failed: $(tail -1 "$WORK/$e.log") |"; }
  rm -rf "${WORK:?}/$e"
done
echo
echo "Crash: load, checkpoint, 10000 commits, checkpoint, $CRASH_TXNS more commits, SIGKILL, reopen."
echo
echo "| engine | load lsn | checkpoint lsn | killed after lsn | reopened applied_lsn | applied - checkpoint | reopen s | state |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for e in $ENGINES; do
  "$BIN" crash "$e" "$WORK/crash-$e" "$ROWS" "$CRASH_TXNS" 2>"$WORK/crash-$e.log" || { echo "| $e | failed: $(tail -1 "$WORK/crash-$e.log") |"; }
  rm -rf "${WORK:?}/crash-$e"
done

if [ "${BUILD:-0}" = 1 ]; then
  echo
  echo "| crate | clean release build s | crates in its build graph |"
  echo "| --- | --- | --- |"
  for dep in 'redb = "=5.0.0"' 'fjall = "=3.1.13"'; do
    name=${dep%% *}
    p="$WORK/build-$name"
    mkdir -p "$p/src"
    printf '[package]\nname = "b"\nversion = "0.0.0"\nedition = "2021"\n[workspace]\n[dependencies]\n%s\n' "$dep" >"$p/Cargo.toml"
    echo 'fn main() {}' >"$p/src/main.rs"
    (cd "$p" && CARGO_TARGET_DIR="$p/target" cargo generate-lockfile -q --offline 2>/dev/null || CARGO_TARGET_DIR="$p/target" cargo generate-lockfile -q)
    start=$(date +%s.%N)
    (cd "$p" && CARGO_TARGET_DIR="$p/target" cargo build --release -q)
    end=$(date +%s.%N)
    n=$(cd "$p" && cargo tree -e normal,build --prefix none | sed 's/ (\*)//' | sort -u | grep -vc '^b v')
    echo "| $name | $(echo "$end - $start" | bc) | $n |"
  done
fi
