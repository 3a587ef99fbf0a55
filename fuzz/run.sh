#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (default 20) seconds,
# one after another, starting from the committed seeds (fuzz/seeds/<target>)
# plus whatever an earlier run added to fuzz/corpus/<target>.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs only the stable toolchain: it builds with plain cargo and the flags
# `cargo fuzz build -s none -a` uses (libFuzzer's coverage instrumentation
# through LLVM's sancov pass, all stable -C flags; no sanitizer), so CI needs no
# cargo-fuzz install. A crash stops the script with a non-zero status; the
# input is saved as fuzz/artifacts/<target>/crash-* (replay: run the target's
# binary on the file, or `cargo fuzz run -s none -a <target> <file>`).
# Environment: FUZZ_JOBS (cargo -j), CARGO_TARGET_DIR (default fuzz/target).
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:-20}
shift || true
all=(frontend_message repl_command wal_record wal_decode pgoutput slot_state conninfo)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

triple=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing \
 -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
 -Cllvm-args=-sanitizer-coverage-stack-depth \
 -Cdebug-assertions -Ccodegen-units=1"

start=$(date +%s)
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
cargo build --manifest-path Cargo.toml --release --target "$triple" \
  --config 'profile.release.debug="line-tables-only"' \
  ${FUZZ_JOBS:+-j "$FUZZ_JOBS"} "${bins[@]}"
echo "fuzz: build took $(( $(date +%s) - start )) s"

for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "fuzz: $t for ${secs} s"
  log=$(mktemp)
  if ! "$CARGO_TARGET_DIR/$triple/release/$t" "corpus/$t" "seeds/$t" \
      -max_total_time="$secs" -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t/" >&2
    rm -f "$log"
    exit 1
  fi
  # The last status line: executions, coverage (cov: edges, ft: features), exec/s.
  grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  rm -f "$log"
done
echo "fuzz: all targets passed; total $(( $(date +%s) - start )) s"
