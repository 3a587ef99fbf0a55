#!/usr/bin/env bash
# Installs the Python clients the client-program tests run (psycopg 3,
# SQLAlchemy 2 and asyncpg, from PyPI) into a virtual environment whose interpreter is
# $TANDEM_PYTHON (default /opt/tandem-py/bin/python). The tests find it
# through the same variable. Idempotent. As root on Debian it installs
# python3-venv first when missing.
set -euo pipefail
PY=${TANDEM_PYTHON:-/opt/tandem-py/bin/python}
VENV=$(dirname "$(dirname "$PY")")
if "$PY" -c 'import psycopg, sqlalchemy, asyncpg' >/dev/null 2>&1; then
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq python3-venv >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
  fi
fi
[ -x "$PY" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q 'psycopg[binary]==3.3.9' 'SQLAlchemy==2.1.9' 'asyncpg==0.32.0'
"$PY" -c 'import psycopg, sqlalchemy, asyncpg; print("psycopg", psycopg.__version__, "SQLAlchemy", sqlalchemy.__version__, "asyncpg", asyncpg.__version__)'
