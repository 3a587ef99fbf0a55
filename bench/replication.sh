#!/usr/bin/env bash
# Replication benchmark, tandem beside PostgreSQL 17, each over plain TCP and
# over TLS: for each system and transport, a fresh primary and one streaming
# standby on 127.0.0.1 under `pgbench -N -c 8` (scale 1, fsync on); prints
#   - TPS with the standby asynchronous, and write_lag / flush_lag / replay_lag
#     p50/p99 sampled from pg_stat_replication every $SAMPLE_MS ms (default 10)
#     during that run, by one psql session running the query under \watch (so
#     client start-up does not limit the sampling rate); a lag that is NULL
#     (the standby has caught up) counts as 0;
#   - TPS with the standby synchronous (synchronous_standby_names = 's1',
#     synchronous_commit = on);
#   then a table of the four runs side by side with each system's TLS cost
#   (TLS / plain: TPS ratio, lag difference).
#   bench/replication.sh [SECONDS]
# TLS: the certificates are made at run time with openssl (a CA and a server
# certificate for 127.0.0.1 and localhost, ECDSA P-256); both systems run with
# ssl = on and their standby connects (base backup and streaming) with
# sslmode=verify-full and the CA as sslrootcert. The run prints the walsender's
# pg_stat_ssl row to show the stream is encrypted. Only the replication
# connection is encrypted: pgbench and psql connect with
# PGSSLMODE=$CLIENT_SSLMODE (default disable), so the TPS difference is the
# standby's.
# TLS=0 measures plain TCP only, TLS=1 TLS only (default: both).
# RATE=N limits the asynchronous run to N transactions per second (pgbench -R),
# so both systems produce the same WAL volume while the lags are sampled
# (unlimited, the faster primary also loads its standby more).
# PostgreSQL 17 comes from $PG17_BIN (default /opt/pgref/17/bin), run as user
# $PGREF_USER (default pgref); set PG17_BIN= (empty) to measure tandem only.
# The standby of each is made by its own basebackup tool with -c fast -R -C -S s1
# (a spread checkpoint would hold the base backup for minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
CLIENTS=${CLIENTS:-8}
SAMPLE_MS=${SAMPLE_MS:-10}
RATE=${RATE:-}
. bench/lib.sh
bench_modes
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q -p tandem --bin tandem; fi
bench_workdir replbench
P=$((22000 + RANDOM % 8000))
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres
export PGSSLMODE=${CLIENT_SSLMODE:-disable}
make_pki

# The standby's connection string to the primary on port $1 for mode $2.
conninfo() { echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres $(ssl_options "$2")"; }

declare -A R
# Measures the running primary on port $1 (standby application_name s1),
# prints the result lines under the heading $2 and keeps the numbers in R
# under the label $3.
measure() {
  local port=$1 name=$2 label=$3
  for _ in $(seq 100); do
    [ "$(PGPORT=$port psql -XAtc "select count(*) from pg_stat_replication where state = 'streaming'")" = 1 ] && break
    sleep 0.1
  done
  local ssl
  ssl=$(PGPORT=$port psql -XAt -F ' ' -c "select case when s.ssl then 'ssl = on, ' || s.version || ', ' || s.cipher else 'ssl = off' end from pg_stat_replication r join pg_stat_ssl s using (pid)")
  # one psql session samples the lags (write flush replay, in ms) until killed
  local watch
  watch=$(awk -v ms="$SAMPLE_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
  PGPORT=$port psql -XAtq -F ' ' > "$WORK/lag-${label//\//-}.txt" 2>/dev/null < <(printf '%s\n' \
    "select coalesce(extract(epoch from write_lag) * 1000, 0), coalesce(extract(epoch from flush_lag) * 1000, 0), coalesce(extract(epoch from replay_lag) * 1000, 0) from pg_stat_replication" \
    "\\watch $watch") &
  local sampler=$!
  local async
  async=$(PGPORT=$port pgbench -n -N -c "$CLIENTS" -j 2 -T "$SECS" ${RATE:+-R "$RATE"} 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  kill $sampler 2>/dev/null || true; wait $sampler 2>/dev/null || true
  local lags
  lags=$(python3 - "$WORK/lag-${label//\//-}.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
out = []
for i, name in enumerate(["write_lag", "flush_lag", "replay_lag"]):
    v = sorted(float(r[i]) for r in rows)
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
    out.append(f"{name} p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms")
print("; ".join(out) + f" ({len(rows)} samples)")
PY
)
  PGPORT=$port psql -Xqc "alter system set synchronous_standby_names = 's1'" -c "select pg_reload_conf()" >/dev/null
  for _ in $(seq 100); do
    [ "$(PGPORT=$port psql -XAtc "select sync_state from pg_stat_replication")" = sync ] && break
    sleep 0.1
  done
  local sync
  sync=$(PGPORT=$port pgbench -n -N -c "$CLIENTS" -j 2 -T "$SECS" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  echo "$name, pgbench -N -c $CLIENTS, ${SECS}s, scale 1, fsync on:"
  echo "  replication connection: $ssl"
  echo "  async standby${RATE:+ (pgbench -R $RATE)}: tps $async"
  echo "    $lags"
  echo "  sync standby (synchronous_commit = on): tps $sync"
  R[$label/async]=$(printf '%.0f' "${async:-0}")
  R[$label/sync]=$(printf '%.0f' "${sync:-0}")
  R[$label/replay50]=$(sed -n 's/.*replay_lag p50 \([0-9.na]*\) ms.*/\1/p' <<< "$lags")
  R[$label/replay99]=$(sed -n 's/.*replay_lag p50 [0-9.na]* ms, p99 \([0-9.na]*\) ms.*/\1/p' <<< "$lags")
  R[$label/flush50]=$(sed -n 's/.*flush_lag p50 \([0-9.na]*\) ms.*/\1/p' <<< "$lags")
}

# One tandem primary + standby pair over transport $1, ports $2 and $2 + 1.
run_tandem() {
  local mode=$1 p=$2 s=$(($2 + 1)) d=$WORK/tandem-$1
  mkdir -p "$d"
  init_dir tandem "$d/primary" "$p"
  if [ "$mode" = tls ]; then enable_ssl "$d/primary"; fi
  start_dir tandem "$d/primary"
  PGPORT=$p pgbench -i -s 1 -q >/dev/null 2>&1
  "$T" basebackup -d "$(conninfo "$p" "$mode")" -D "$d/standby" -c fast -R -C -S s1 >/dev/null
  printf "port = %s\nprimary_conninfo = '%s application_name=s1'\n" "$s" "$(conninfo "$p" "$mode")" >> "$d/standby/postgresql.auto.conf"
  # the standby has the primary's postgresql.conf (ssl = on) but not its key
  if [ "$mode" = tls ]; then install_cert "$d/standby"; fi
  start_dir tandem "$d/standby"
  measure "$p" "tandem, $mode" "tandem/$mode"
  stop_dir tandem "$d/standby"
  stop_dir tandem "$d/primary"
}

# The same with PostgreSQL 17.
run_pg() {
  local mode=$1 p=$2 s=$(($2 + 1)) d=$WORK/pg-$1
  mkdir -p "$d" && chown "$PGREF_USER" "$d"
  init_dir pg "$d/primary" "$p"
  if [ "$mode" = tls ]; then enable_ssl "$d/primary" "$PGREF_USER"; fi
  start_dir pg "$d/primary"
  PGPORT=$p pgbench -i -s 1 -q >/dev/null 2>&1
  as_pg "$PG17_BIN/pg_basebackup" -d "$(conninfo "$p" "$mode")" -D "$d/standby" -c fast -R -C -S s1 >/dev/null
  printf "port = %s\nprimary_conninfo = '%s application_name=s1'\n" "$s" "$(conninfo "$p" "$mode")" >> "$d/standby/postgresql.auto.conf"
  start_dir pg "$d/standby"
  measure "$p" "PostgreSQL $PGVER, $mode" "pg/$mode"
  stop_dir pg "$d/standby"
  stop_dir pg "$d/primary"
}

bench_systems
port=$P
for sys in $SYSTEMS; do
  for mode in $MODES; do
    "run_$sys" "$mode" "$port"
    port=$((port + 2))
  done
done

# The summary: every run side by side; with both transports, each system's
# TLS cost (TPS: TLS / plain; lag: TLS - plain).
echo
echo "primary + streaming standby on 127.0.0.1, pgbench -N -c $CLIENTS, ${SECS}s per run, scale 1, fsync on"
summary_header 34
row() { summary_row 34 "$@"; }
row "async standby tps" async ratio
row "  flush_lag p50 (ms)" flush50 diff
row "  replay_lag p50 (ms)" replay50 diff
row "  replay_lag p99 (ms)" replay99 diff
row "sync standby tps" sync ratio
