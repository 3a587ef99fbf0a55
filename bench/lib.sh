# Shared by the bench/*.sh scripts that start their own servers (sourced, not
# run): where PostgreSQL 17 is and as whom it runs, the scratch directory,
# starting and stopping data directories (every started one is stopped on
# exit), the test PKI and TLS settings for tandem and PostgreSQL, and the
# summary table with each system's TLS cost.
#
# Before sourcing, a script may set TANDEM_BIN (else target/release/tandem),
# PG17_BIN (default /opt/pgref/17/bin; empty: tandem only) and PGREF_USER
# (default pgref: PostgreSQL refuses to run as root, so as root its programs
# run as that user).

PG17_BIN=${PG17_BIN-/opt/pgref/17/bin}
PGREF_USER=${PGREF_USER:-pgref}
T=${TANDEM_BIN:-$PWD/target/release/tandem}

# Runs a PostgreSQL program: as $PGREF_USER when root, else as is.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$PGREF_USER" -- "$@"; else "$@"; fi; }

# WORK: a fresh scratch directory /tmp/tandem-$1.XXXXXX, readable by
# $PGREF_USER; removed on exit unless KEEP is set.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/tandem-$1.XXXXXX")
  chmod 755 "$WORK"
  STARTED=()
  trap bench_cleanup EXIT
}

# Data directories started, "tandem DIR" or "pg DIR", stopped in reverse order
# on exit.
STARTED=()
stop_dir() { # kind dir [mode]
  if [ "$1" = tandem ]; then
    "$T" stop -D "$2" ${3:+-m "$3"} >/dev/null 2>&1 || true
  else
    as_pg "$PG17_BIN/pg_ctl" stop -D "$2" ${3:+-m "$3"} >/dev/null 2>&1 || true
  fi
}
# Crashes data directory $2 of kind $1: SIGKILL of tandem's server, waiting
# until the process is gone (a large process takes a moment to exit, at most
# 30 s); PostgreSQL: an immediate stop, its crash.
crash_dir() { # kind dir
  if [ "$1" = tandem ]; then
    local pid i
    pid=$(head -1 "$2/postmaster.pid")
    kill -9 "$pid"
    for ((i = 0; i < 300; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  else
    stop_dir pg "$2" immediate
  fi
}
# Wall-clock seconds now, and since an earlier now().
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
# Initialises data directory $2 of kind $1 (tandem or pg) for port $3,
# listening on 127.0.0.1 only, without Unix-domain sockets.
init_dir() { # kind dir port
  if [ "$1" = pg ] && [ "$(id -u)" = 0 ]; then
    # PostgreSQL runs as $PGREF_USER: it owns the directory and its parent
    mkdir -p "$2" && chown "$PGREF_USER" "$2" "$(dirname "$2")"
  fi
  if [ "$1" = tandem ]; then
    "$T" initdb -D "$2" --port "$3" >/dev/null 2>&1
    printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" >> "$2/postgresql.conf"
  else
    as_pg "$PG17_BIN/initdb" -D "$2" -U postgres -A trust >/dev/null
    printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n" "$3" >> "$2/postgresql.conf"
  fi
}
# Starts data directory $2 of kind $1, its log in $2.log, and returns once it
# accepts connections; it is stopped on exit.
start_dir() { # kind dir
  STARTED+=("$1 $2")
  if [ "$1" = tandem ]; then
    "$T" start -D "$2" -l "$2.log" >/dev/null
  else
    as_pg "$PG17_BIN/pg_ctl" start -D "$2" -l "$2.log" -w >/dev/null
  fi
}
bench_cleanup() {
  local i
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
    # shellcheck disable=SC2086
    stop_dir ${STARTED[i]} immediate
  done
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}

# SYSTEMS: "tandem pg" with PostgreSQL 17 at $PG17_BIN (PGVER: its version),
# else "tandem" (and a line saying so when $1 is "say").
bench_systems() {
  SYSTEMS="tandem"
  if [ -n "$PG17_BIN" ] && [ -x "$PG17_BIN/postgres" ]; then
    SYSTEMS="tandem pg"
    PGVER=$("$PG17_BIN/postgres" --version | awk '{print $3}')
  elif [ "${1:-}" = say ]; then
    echo "== PostgreSQL 17 not found at '${PG17_BIN:-}' (set PG17_BIN=DIR, or scripts/install-pg17.sh): measuring tandem only"
  fi
}

# MODES from TLS: TLS=0 plain TCP only, TLS=1 TLS only, else both.
bench_modes() {
  case "${TLS:-both}" in
    0 | off) MODES="plain" ;;
    1 | on) MODES="tls" ;;
    *) MODES="plain tls" ;;
  esac
}

# The test PKI in $WORK/pki (PKI), when MODES has tls: root.crt signs
# server.crt (127.0.0.1, localhost), ECDSA P-256, made with openssl.
make_pki() {
  PKI=$WORK/pki
  [[ " $MODES " == *" tls "* ]] || return 0
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl ecparam -name prime256v1 -genkey -noout -out root.key
    openssl req -x509 -new -key root.key -sha256 -days 2 -subj "/CN=bench root CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.crt
    openssl ecparam -name prime256v1 -genkey -noout -out server.key
    openssl req -new -key server.key -subj "/CN=127.0.0.1" -out server.csr
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA root.crt -CAkey root.key -CAcreateserial \
      -days 2 -sha256 -extfile server.ext -out server.crt
  ) 2>/dev/null
  chmod 755 "$PKI"
  chmod 644 "$PKI/root.crt"
}

# Copies the test server certificate and key into data directory $1 (owned by
# $2 if given: PostgreSQL insists the key belongs to the server's user);
# enable_ssl also turns TLS on there.
install_cert() {
  cp "$PKI/server.crt" "$PKI/server.key" "$1/"
  chmod 600 "$1/server.key"
  if [ -n "${2:-}" ]; then chown "$2" "$1/server.crt" "$1/server.key"; fi
}
enable_ssl() {
  install_cert "$@"
  printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >> "$1/postgresql.conf"
}

# The options a client adds to verify the test server: sslmode=verify-full
# with the test CA ("tls"), or sslmode=disable.
ssl_options() {
  if [ "$1" = tls ]; then
    echo "sslmode=verify-full sslrootcert=$PKI/root.crt"
  else
    echo "sslmode=disable"
  fi
}

# The summary table: a column per system and transport (results in R under
# SYSTEM/MODE/KEY) and, with both transports, each system's TLS cost.
summary_header() { # width
  COLS=()
  local sys name mode c
  for sys in $SYSTEMS; do
    name=$([ "$sys" = tandem ] && echo tandem || echo "PG $PGVER")
    for mode in $MODES; do COLS+=("$sys/$mode|$name $([ "$mode" = tls ] && echo TLS || echo plain)"); done
    [ "$MODES" = "plain tls" ] && COLS+=("$sys/cost|$name TLS cost")
  done
  printf "%-${1}s" ""
  for c in "${COLS[@]}"; do printf ' %17s' "${c#*|}"; done
  echo
}
summary_row() { # width title key [kind: ratio (TLS / plain) or diff (TLS - plain)]
  printf "%-${1}s" "$2"
  local c k v
  for c in "${COLS[@]}"; do
    k=${c%%|*}
    if [ "${k#*/}" = cost ] && [ -z "${4:-}" ]; then
      v=
    elif [ "${k#*/}" = cost ]; then
      v=$(python3 -c "import sys
a, b, kind = sys.argv[1:]
try:
    a, b = float(a), float(b)
    print(f'x{b / a:.2f}' if kind == 'ratio' else f'{b - a:+.2f}')
except (ValueError, ZeroDivisionError):
    print('-')" "${R[${k%/*}/plain/$3]:-}" "${R[${k%/*}/tls/$3]:-}" "${4:-}")
    else
      v=${R[$k/$3]:-}
    fi
    printf ' %17s' "$v"
  done
  echo
}
