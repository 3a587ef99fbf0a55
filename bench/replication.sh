#!/usr/bin/env bash
# Replication benchmark, tandem beside PostgreSQL 17: for each, a primary and one
# streaming standby on 127.0.0.1 under `pgbench -N -c 8` (scale 1, fsync on);
# prints
#   - TPS with the standby asynchronous, and write_lag / flush_lag / replay_lag
#     p50/p99 sampled from pg_stat_replication every $SAMPLE_MS ms (default 10)
#     during that run, by one psql session running the query under \watch (so
#     client start-up does not limit the sampling rate); a lag that is NULL
#     (the standby has caught up) counts as 0;
#   - TPS with the standby synchronous (synchronous_standby_names = 's1',
#     synchronous_commit = on).
#   bench/replication.sh [SECONDS]
# RATE=N limits the asynchronous run to N transactions per second (pgbench -R),
# so both systems produce the same WAL volume while the lags are sampled
# (unlimited, the faster primary also loads its standby more).
# PostgreSQL 17 comes from $PG17_BIN (default /opt/pgref/17/bin), run as user
# $PGREF_USER (default pgref); set PG17_BIN= (empty) to measure tandem only.
# The standby of each is made by its own basebackup tool with -R -C -S s1.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
CLIENTS=${CLIENTS:-8}
SAMPLE_MS=${SAMPLE_MS:-10}
RATE=${RATE:-}
PG17_BIN=${PG17_BIN-/opt/pgref/17/bin}
PGREF_USER=${PGREF_USER:-pgref}
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q; fi
T=${TANDEM_BIN:-$PWD/target/release/tandem}
WORK=$(mktemp -d /tmp/tandem-replbench.XXXXXX)
chmod 755 "$WORK"
P=$((22000 + RANDOM % 8000)); S=$((P + 1))
cleanup() {
  "$T" stop -D "$WORK/standby" -m immediate >/dev/null 2>&1 || true
  "$T" stop -D "$WORK/primary" -m immediate >/dev/null 2>&1 || true
  if [ -n "$PG17_BIN" ] && [ -d "$WORK/pg" ]; then
    runuser -u "$PGREF_USER" -- "$PG17_BIN/pg_ctl" stop -D "$WORK/pg/standby" -m immediate >/dev/null 2>&1 || true
    runuser -u "$PGREF_USER" -- "$PG17_BIN/pg_ctl" stop -D "$WORK/pg/primary" -m immediate >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres

# Measures the running primary on port $1 (standby application_name s1) and
# prints the result lines under the heading $2.
measure() {
  local port=$1 name=$2
  for _ in $(seq 100); do
    [ "$(PGPORT=$port psql -XAtc "select count(*) from pg_stat_replication where state = 'streaming'")" = 1 ] && break
    sleep 0.1
  done
  # one psql session samples the lags (write flush replay, in ms) until killed
  local watch
  watch=$(awk -v ms="$SAMPLE_MS" 'BEGIN { printf "%.3f", ms / 1000 }')
  PGPORT=$port psql -XAtq -F ' ' > "$WORK/lag-$name.txt" 2>/dev/null < <(printf '%s\n' \
    "select coalesce(extract(epoch from write_lag) * 1000, 0), coalesce(extract(epoch from flush_lag) * 1000, 0), coalesce(extract(epoch from replay_lag) * 1000, 0) from pg_stat_replication" \
    "\\watch $watch") &
  local sampler=$!
  local async
  async=$(PGPORT=$port pgbench -n -N -c "$CLIENTS" -j 2 -T "$SECS" ${RATE:+-R "$RATE"} 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  kill $sampler 2>/dev/null || true; wait $sampler 2>/dev/null || true
  local lags
  lags=$(python3 - "$WORK/lag-$name.txt" <<'PY'
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
  echo "  async standby${RATE:+ (pgbench -R $RATE)}: tps $async"
  echo "    $lags"
  echo "  sync standby (synchronous_commit = on): tps $sync"
}

# tandem
"$T" initdb -D "$WORK/primary" --port "$P" >/dev/null 2>&1
printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" >> "$WORK/primary/postgresql.conf"
"$T" start -D "$WORK/primary" -l "$WORK/primary.log" >/dev/null
PGPORT=$P pgbench -i -s 1 -q >/dev/null 2>&1
"$T" basebackup -d "host=127.0.0.1 port=$P user=postgres dbname=postgres" -D "$WORK/standby" -R -C -S s1 >/dev/null
printf "port = %s\nprimary_conninfo = 'host=127.0.0.1 port=%s user=postgres dbname=postgres application_name=s1'\n" "$S" "$P" >> "$WORK/standby/postgresql.auto.conf"
"$T" start -D "$WORK/standby" -l "$WORK/standby.log" >/dev/null
TANDEM_OUT=$(measure "$P" tandem)
"$T" stop -D "$WORK/standby" >/dev/null 2>&1 || true
"$T" stop -D "$WORK/primary" >/dev/null 2>&1 || true
echo "$TANDEM_OUT"

# PostgreSQL 17, same setup
if [ -n "$PG17_BIN" ] && [ -x "$PG17_BIN/postgres" ]; then
  PP=$((P + 2)); PS=$((P + 3))
  as_pg() { runuser -u "$PGREF_USER" -- "$@"; }
  mkdir -p "$WORK/pg" && chown "$PGREF_USER" "$WORK/pg"
  as_pg "$PG17_BIN/initdb" -D "$WORK/pg/primary" -U postgres -A trust >/dev/null
  printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" "$PP" >> "$WORK/pg/primary/postgresql.conf"
  as_pg "$PG17_BIN/pg_ctl" start -D "$WORK/pg/primary" -l "$WORK/pg/primary.log" -w >/dev/null
  PGPORT=$PP pgbench -i -s 1 -q >/dev/null 2>&1
  as_pg "$PG17_BIN/pg_basebackup" -h 127.0.0.1 -p "$PP" -U postgres -D "$WORK/pg/standby" -R -C -S s1 >/dev/null
  printf "port = %s\nprimary_conninfo = 'host=127.0.0.1 port=%s user=postgres dbname=postgres application_name=s1'\n" "$PS" "$PP" >> "$WORK/pg/standby/postgresql.auto.conf"
  as_pg "$PG17_BIN/pg_ctl" start -D "$WORK/pg/standby" -l "$WORK/pg/standby.log" -w >/dev/null
  measure "$PP" "PostgreSQL 17"
fi
