#!/usr/bin/env bash
# Throwaway local PostgreSQL cluster for dev and tests.
#
#   scripts/postgres.sh start  [--dir DIR] [--port PORT] [--durable]
#   scripts/postgres.sh stop   [--dir DIR]
#   scripts/postgres.sh status [--dir DIR]
#
# DIR defaults to <repo>/.services/postgres, PORT to 15432; a relative --dir is taken relative to
# the current directory. `start` prints exactly one line on stdout,
# DATABASE_URL=postgresql://ingest:ingest@127.0.0.1:PORT/ingest; progress goes to stderr.
#
# Another checkout's server: when PORT is taken by a PostgreSQL that trusts the `ingest` role
# (another worktree or clone started it with this script) and has the durability asked for,
# `start` reuses it and prints its URL; `stop` here then leaves it alone. A port taken by anything
# else fails at once, naming the port. Which DIR started which port: scripts/registry.sh.
#
# Installs Debian's `postgresql` if no initdb is found under /usr/lib/postgresql/*/bin.
# The cluster: superuser role `ingest` (password `ingest`), database `ingest`, trust auth on
# loopback and the unix socket, listening on 127.0.0.1 only, fsync/full_page_writes/
# synchronous_commit off (data may be lost on a machine crash: test use only). --durable turns
# them on, as in production, for benchmarks; the setting follows the flag at every start.
#
# Ownership: PostgreSQL refuses to run as root, so the server runs as the OS user `postgres`
# (created by the Debian package; created here if missing) and DIR is chown'ed to it. That user
# must be able to traverse every parent of DIR. We never chmod anything above DIR: when the
# parent of DIR is not reachable by `postgres` (e.g. a checkout under a 0700 /root), the cluster
# lives instead in /tmp/ingest-pg-<hash of DIR> (deterministic, so stop/status find it) and
# DIR/cluster is a symlink to it. Layout of the cluster home: data/ (PGDATA), postgres.log,
# and the unix socket (.s.PGSQL.PORT) unless that path would be too long for a socket.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
PG_USER=postgres
# shellcheck source=scripts/registry.sh
source "$SCRIPT_DIR/registry.sh"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<'EOF'
usage: scripts/postgres.sh start  [--dir DIR] [--port PORT] [--durable]
       scripts/postgres.sh stop   [--dir DIR]
       scripts/postgres.sh status [--dir DIR]
EOF
    exit 2
}

# ---------------------------------------------------------------- setup helpers

find_bindir() {
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
        # Highest major version wins (sort -V on the version component).
        if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1) == "$d" ]]; then
            best=$d
        fi
    done
    [[ -n $best ]] && echo "$best"
}

ensure_postgres_installed() {
    if ! BINDIR=$(find_bindir); then
        [[ $(id -u) -eq 0 ]] || die "PostgreSQL not installed and not root to install it"
        log "initdb not found; installing Debian package postgresql"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2
        BINDIR=$(find_bindir) || die "postgresql installed but no initdb under /usr/lib/postgresql/*/bin"
    fi
}

ensure_pg_user() {
    id -u "$PG_USER" >/dev/null 2>&1 && return 0
    log "creating system user $PG_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$PG_USER"
}

as_pg() {
    # From /: the caller's cwd (e.g. /root) may be unreadable for $PG_USER.
    if [[ $(id -un) == "$PG_USER" ]]; then
        (cd / && "$@")
    elif [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        die "run as root (or as $PG_USER)"
    fi
}

# Where the cluster actually lives for $DIR (see header). Sets HOME_DIR.
resolve_home() {
    local parent hash
    parent=$(dirname "$DIR")
    if id -u "$PG_USER" >/dev/null 2>&1 && ! as_pg test -x "$parent" 2>/dev/null; then
        hash=$(printf '%s' "$DIR" | sha256sum | cut -c1-16)
        HOME_DIR=/tmp/ingest-pg-$hash
    else
        HOME_DIR=$DIR
    fi
    PGDATA_DIR=$HOME_DIR/data
}

# Unix socket paths are limited to ~107 bytes.
socket_dir_for() {
    local port=$1
    if (( ${#HOME_DIR} + ${#port} + 12 < 100 )); then
        echo "$HOME_DIR"
    else
        echo "/tmp/ingest-pg-sock-$(printf '%s' "$DIR" | sha256sum | cut -c1-16)"
    fi
}

# Port of the running postmaster (line 4 of postmaster.pid), if any.
running_port() {
    sed -n '4p' "$PGDATA_DIR/postmaster.pid" 2>/dev/null
}

is_running() {
    [[ -f $PGDATA_DIR/PG_VERSION ]] || return 1
    as_pg "$BINDIR/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

url() { echo "DATABASE_URL=postgresql://ingest:ingest@127.0.0.1:$1/ingest"; }

psql_admin() {
    # Over TCP as the superuser `ingest` (trust on loopback); works as root.
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U ingest -d postgres "${@:2}"
}

# ---------------------------------------------------------------- subcommands

# Tests want speed; benchmarks must pay for durability as production does (--durable).
durability_settings() {
    if [[ $DURABLE == 1 ]]; then
        printf 'fsync = on\nsynchronous_commit = on\nfull_page_writes = on\n'
    else
        printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
    fi
}

cmd_start() {
    local t0 sockdir port pwfile
    t0=$(date +%s%N)
    ensure_postgres_installed
    ensure_pg_user
    mkdir -p "$DIR"
    resolve_home
    mkdir -p "$HOME_DIR"
    if [[ $HOME_DIR != "$DIR" ]]; then
        log "note: $PG_USER cannot reach $(dirname "$DIR"); cluster lives in $HOME_DIR"
        ln -sfn "$HOME_DIR" "$DIR/cluster"
    fi
    chown "$PG_USER:" "$HOME_DIR"
    chmod 0750 "$HOME_DIR"

    exec 9>"$HOME_DIR/.lock"
    flock 9

    if is_running; then
        port=$(running_port)
        [[ -n $port ]] || port=$PORT
        log "already running on 127.0.0.1:$port ($PGDATA_DIR)"
        [[ $port == "$PORT" ]] || log "warning: running on port $port, not $PORT"
        url "$port" | register postgres "$port" "$DIR"
        url "$port"
        return 0
    fi

    # Before initdb: a second checkout reusing the first one's server needs no cluster of its own.
    if port_open "$PORT"; then
        reuse_running_server
        return 0
    fi

    if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then
        log "initdb in $PGDATA_DIR"
        rm -rf "$PGDATA_DIR"
        pwfile=$(mktemp)
        echo ingest >"$pwfile"
        chown "$PG_USER:" "$pwfile"
        if ! as_pg "$BINDIR/initdb" -D "$PGDATA_DIR" -U ingest --pwfile="$pwfile" \
                --auth-local=trust --auth-host=trust -E UTF8 --locale=C --no-sync \
                >"$HOME_DIR/initdb.log" 2>&1; then
            rm -f "$pwfile"
            tail -n 30 "$HOME_DIR/initdb.log" >&2 || true
            die "initdb failed (see $HOME_DIR/initdb.log)"
        fi
        rm -f "$pwfile"
        echo "include_if_exists = 'ingest.conf'" >>"$PGDATA_DIR/postgresql.conf"
    fi

    port_open "$PORT" && die "127.0.0.1:$PORT was taken by another process while we started"

    sockdir=$(socket_dir_for "$PORT")
    if [[ $sockdir != "$HOME_DIR" ]]; then
        mkdir -p "$sockdir"
        chown "$PG_USER:" "$sockdir"
        chmod 0700 "$sockdir"
    fi
    # Rewritten at every start so port and settings follow this script.
    cat >"$PGDATA_DIR/ingest.conf" <<EOF
# Written by scripts/postgres.sh at each start; edits are overwritten.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
max_connections = 200
$(durability_settings)
logging_collector = off
EOF
    chown "$PG_USER:" "$PGDATA_DIR/ingest.conf"

    log "starting PostgreSQL on 127.0.0.1:$PORT ($PGDATA_DIR)"
    # 9>&-: the postmaster must not inherit (and hold) our lock.
    if ! as_pg "$BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$HOME_DIR/postgres.log" -w -t 60 \
            </dev/null >/dev/null 2>&1 9>&-; then
        log "pg_ctl start failed; last lines of $HOME_DIR/postgres.log:"
        tail -n 30 "$HOME_DIR/postgres.log" >&2 || true
        die "PostgreSQL failed to start"
    fi

    if [[ $(psql_admin "$PORT" -tAc "SELECT 1 FROM pg_database WHERE datname = 'ingest'") != 1 ]]; then
        log "creating database ingest"
        psql_admin "$PORT" -c "CREATE DATABASE ingest OWNER ingest"
    fi
    log "ready in $((($(date +%s%N) - t0) / 1000000)) ms"
    url "$PORT" | register postgres "$PORT" "$DIR"
    url "$PORT"
}

# The port is taken. When it is a PostgreSQL that trusts the `ingest` role (one this script
# started for another checkout, most likely) and its durability is the one asked for, use it:
# the tests make a database of their own per run, so two checkouts never share data.
reuse_running_server() {
    local owner fsync wanted=off
    owner=$(registered_owner postgres "$PORT") || owner=""
    [[ $DURABLE == 1 ]] && wanted=on
    # Bounded: whatever holds the port may accept a connection and never answer.
    if ! fsync=$(PGCONNECT_TIMEOUT=5 psql_admin "$PORT" -tAc "SHOW fsync" 2>/dev/null); then
        die "127.0.0.1:$PORT is already in use by another process, and it is not a PostgreSQL" \
            "that lets the ingest role in; pass --port PORT, or set DATABASE_URL to a server to use"
    fi
    if [[ $fsync != "$wanted" ]]; then
        die "127.0.0.1:$PORT is a PostgreSQL with fsync=$fsync${owner:+ (started by $owner)}," \
            "but this start asks for fsync=$wanted; pass another --port, or stop that server"
    fi
    if [[ -n $owner ]]; then
        log "127.0.0.1:$PORT is the PostgreSQL that $owner started; reusing it." \
            "It keeps running; stop it with: $0 stop --dir $owner"
    else
        log "127.0.0.1:$PORT is a PostgreSQL that trusts the ingest role; reusing it"
    fi
    url "$PORT"
}

cmd_stop() {
    [[ -d $DIR ]] || { log "not running ($DIR does not exist)"; return 0; }
    BINDIR=$(find_bindir) || { log "not running (PostgreSQL not installed)"; return 0; }
    resolve_home
    if ! is_running; then
        log "not running"
        return 0
    fi
    log "stopping PostgreSQL ($PGDATA_DIR)"
    as_pg "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 60 >/dev/null 2>&1 \
        || die "pg_ctl stop failed; see $HOME_DIR/postgres.log"
    unregister postgres "$DIR"
    log "stopped"
}

cmd_status() {
    BINDIR=$(find_bindir) || { log "not running (PostgreSQL not installed)"; return 1; }
    resolve_home
    if is_running; then
        log "running on 127.0.0.1:$(running_port) ($PGDATA_DIR)"
        return 0
    fi
    log "not running"
    return 1
}

# ---------------------------------------------------------------- main

[[ $# -ge 1 ]] || usage
CMD=$1
shift
DIR=$REPO_ROOT/.services/postgres
PORT=15432
DURABLE=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --dir) [[ $# -ge 2 ]] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#*=}; shift ;;
        --port) [[ $# -ge 2 ]] || usage; PORT=$2; shift 2 ;;
        --port=*) PORT=${1#*=}; shift ;;
        --durable) DURABLE=1; shift ;;
        -h|--help) usage ;;
        *) log "unknown argument: $1"; usage ;;
    esac
done
[[ $PORT =~ ^[0-9]+$ ]] || die "port must be a number"
DIR=$(realpath -m -- "$DIR")

case $CMD in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) usage ;;
esac
