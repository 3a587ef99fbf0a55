#!/usr/bin/env bash
# record-golden.sh - re-record the expected outputs of a golden test suite
# (crates/tandem/tests/SUITE/NAME.out) from a real PostgreSQL 17. Suites:
# `decoding` (logical decoding, t015) and `app_sql` (the SQL applications use, t060).
#
# Usage (as root, so the server can run as the unprivileged user):
#   scripts/record-golden.sh decoding            # every NAME.sql of the suite
#   scripts/record-golden.sh decoding 04_types   # only the named scripts
#
# Environment: PG17_BIN (default /opt/pgref/17/bin), PSQL (default /usr/bin/psql,
# the client the test uses too), PGREF_USER (default pgref).
#
# It starts a throwaway cluster (initdb -U postgres --auth=trust, wal_level =
# logical, 127.0.0.1 only, no Unix socket, a free port, autovacuum off so no
# stray transactions show up in the decoded output), runs each script with
#   psql -X -a -q -v ON_ERROR_STOP=0 -h 127.0.0.1 -p PORT -U postgres -d postgres -f NAME.sql
# from inside the suite's directory (so error lines read `psql:NAME.sql:LINE:`),
# stdout and stderr into one stream, and writes the masked result to NAME.out.
#
# Masking (the same rules are in crates/testkit/src/golden.rs, which applies
# them to tandem's output and to the stored files):
#   1. every LSN (hex/hex, upper-case digits) becomes 0/LSN;
#   2. `(at <anything>)` (include-timestamp) becomes `(at TIMESTAMP)`, and the
#      PID of psql's `Asynchronous notification ... received from server
#      process with PID N.` becomes PID;
#   3. each line is trimmed; a line of only '-' and '+' (a psql table rule)
#      becomes `---`; a line with '|' has each cell trimmed and is re-joined with
#      ' | ' (so column widths, which depend on LSN and xid lengths, do not count);
#   4. non-zero xids become XID1, XID2, ... numbered by first appearance in the
#      file: the second cell of a row whose first cell is 0/LSN (the lsn | xid |
#      data rows of pg_logical_slot_*_changes), and the number after BEGIN or
#      COMMIT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${1:-}
case "$SUITE" in
  decoding|app_sql) shift ;;
  *) printf 'usage: record-golden.sh decoding|app_sql [NAME ...]\n' >&2; exit 2 ;;
esac
DIR=$ROOT/crates/tandem/tests/$SUITE
PG17_BIN=${PG17_BIN:-/opt/pgref/17/bin}
PSQL=${PSQL:-/usr/bin/psql}
PGREF_USER=${PGREF_USER:-pgref}

die() { printf 'record-golden: %s\n' "$*" >&2; exit 1; }

[ -x "$PG17_BIN/postgres" ] || die "no PostgreSQL in $PG17_BIN"
[ -x "$PSQL" ] || die "no psql at $PSQL"
"$PG17_BIN/postgres" --version | grep -q ' 17\.' || die "$PG17_BIN/postgres is not PostgreSQL 17"

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PGREF_USER" -- "$@"; else "$@"; fi
}

free_port() {
  local p
  for p in $(shuf -i 20001-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

mask() {
  perl -e '
    my %xid; my $n = 0;
    sub x { my $v = shift; $xid{$v} //= "XID" . ++$n; return $xid{$v}; }
    while (my $l = <STDIN>) {
      chomp $l;
      $l =~ s/\b[0-9A-F]{1,8}\/[0-9A-F]{1,8}\b/0\/LSN/g;
      $l =~ s/\(at [^)]*\)/(at TIMESTAMP)/g;
      $l =~ s/(received from server process with PID )[0-9]+/$1PID/g;
      $l =~ s/^\s+|\s+$//g;
      if ($l =~ /^[-+]+$/ && $l =~ /-/) {
        $l = "---";
      } elsif ($l =~ /\|/) {
        my @c = split /\|/, $l, -1;
        s/^\s+|\s+$//g for @c;
        $c[1] = x($c[1]) if @c >= 3 && $c[0] eq "0/LSN" && $c[1] =~ /^[1-9][0-9]*$/;
        $l = join " | ", @c;
      }
      $l =~ s/\b(BEGIN|COMMIT) ([1-9][0-9]*)\b/"$1 " . x($2)/ge;
      print "$l\n";
    }'
}

TMP=$(mktemp -d /tmp/golden.XXXXXX)
chmod 755 "$TMP"
[ "$(id -u)" = 0 ] && chown "$PGREF_USER" "$TMP"
PGDATA=$TMP/data
PORT=$(free_port)

cleanup() {
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as_pg "$PG17_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

export LC_ALL=C LANG=C
unset PGTZ PGOPTIONS PGDATESTYLE PGCLIENTENCODING || true
as_pg "$PG17_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1 \
  || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
as_pg "$PG17_BIN/pg_ctl" -D "$PGDATA" -l "$TMP/server.log" -w -t 60 \
  -o "-c wal_level=logical -c listen_addresses=127.0.0.1 -c unix_socket_directories= -p $PORT -c autovacuum=off" \
  start >/dev/null || { cat "$TMP/server.log" >&2; die "server did not start"; }

psql_q() {
  "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "$1"
}

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in "$DIR"/*.sql; do names+=("$(basename "$f" .sql)"); done
fi

for name in "${names[@]}"; do
  name=${name%.sql}
  [ -f "$DIR/$name.sql" ] || die "no script $DIR/$name.sql"
  (cd "$DIR" && "$PSQL" -X -a -q -v ON_ERROR_STOP=0 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
     -f "$name.sql" >"$TMP/$name.raw" 2>&1) || true
  mask <"$TMP/$name.raw" >"$DIR/$name.out"
  leftover=$(psql_q "SELECT (SELECT count(*) FROM pg_replication_slots) || ' slots, ' || (SELECT count(*) FROM pg_tables WHERE schemaname = 'public') || ' tables'")
  echo "$name: $(wc -l <"$DIR/$name.out") lines ($leftover left over)"
  [ "$leftover" = "0 slots, 0 tables" ] || die "$name.sql does not clean up after itself"
done
