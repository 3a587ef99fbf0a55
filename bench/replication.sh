#!/usr/bin/env bash
# Replication benchmark for tandem: a primary and one streaming standby on
# 127.0.0.1 under `pgbench -N -c 8`; prints
#   - TPS with the standby asynchronous, and replay_lag p50/p99 sampled from
#     pg_stat_replication every 100 ms during that run;
#   - TPS with the standby synchronous (synchronous_standby_names = 's1',
#     synchronous_commit = on).
#   bench/replication.sh [SECONDS]
# The PostgreSQL side of the comparison is ../shared/pgref (measure.sh) for now.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
CLIENTS=${CLIENTS:-8}
if [ -z "${TANDEM_BIN:-}" ]; then cargo build --release -q; fi
T=${TANDEM_BIN:-$PWD/target/release/tandem}
WORK=$(mktemp -d /tmp/tandem-replbench.XXXXXX)
P=$((22000 + RANDOM % 8000)); S=$((P + 1))
cleanup() {
  "$T" stop -D "$WORK/standby" -m immediate >/dev/null 2>&1 || true
  "$T" stop -D "$WORK/primary" -m immediate >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export PGHOST=127.0.0.1 PGUSER=postgres PGDATABASE=postgres
"$T" initdb -D "$WORK/primary" --port "$P" >/dev/null 2>&1
printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" >> "$WORK/primary/postgresql.conf"
"$T" start -D "$WORK/primary" -l "$WORK/primary.log" >/dev/null
PGPORT=$P pgbench -i -s 1 -q >/dev/null 2>&1
"$T" basebackup -d "host=127.0.0.1 port=$P user=postgres dbname=postgres" -D "$WORK/standby" -R -C -S s1 >/dev/null
printf "port = %s\nprimary_conninfo = 'host=127.0.0.1 port=%s user=postgres dbname=postgres application_name=s1'\n" "$S" "$P" >> "$WORK/standby/postgresql.auto.conf"
"$T" start -D "$WORK/standby" -l "$WORK/standby.log" >/dev/null
for _ in $(seq 100); do
  [ "$(PGPORT=$P psql -XAtc "select count(*) from pg_stat_replication where state = 'streaming'")" = 1 ] && break
  sleep 0.1
done

sample_lag() { # writes replay_lag in ms, one per line, until killed
  while true; do
    PGPORT=$P psql -XAtc "select coalesce(extract(epoch from replay_lag) * 1000, 0) from pg_stat_replication" 2>/dev/null || true
    sleep 0.1
  done
}
sample_lag > "$WORK/lag.txt" &
SAMPLER=$!
ASYNC=$(PGPORT=$P pgbench -n -N -c "$CLIENTS" -j 2 -T "$SECS" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
kill $SAMPLER 2>/dev/null || true; wait $SAMPLER 2>/dev/null || true
read -r P50 P99 N < <(python3 - "$WORK/lag.txt" <<'PY'
import sys
v = sorted(float(x) for x in open(sys.argv[1]) if x.strip())
q = lambda p: v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
print(f"{q(0.5):.2f} {q(0.99):.2f} {len(v)}")
PY
)
PGPORT=$P psql -Xqc "alter system set synchronous_standby_names = 's1'" -c "select pg_reload_conf()" >/dev/null
for _ in $(seq 100); do
  [ "$(PGPORT=$P psql -XAtc "select sync_state from pg_stat_replication")" = sync ] && break
  sleep 0.1
done
SYNC=$(PGPORT=$P pgbench -n -N -c "$CLIENTS" -j 2 -T "$SECS" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
echo "tandem, pgbench -N -c $CLIENTS, ${SECS}s, scale 1, fsync on:"
echo "  async standby: tps $ASYNC, replay_lag p50 ${P50} ms, p99 ${P99} ms ($N samples)"
echo "  sync standby (synchronous_commit = on): tps $SYNC"
