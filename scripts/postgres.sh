#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for distributed sweeps: Debian's server binaries (installed when missing), data in
# $PG_DIR, listening on $PG_HOST:$PG_PORT, with the databases `optuna` (the studies) and `mlflow` (the tracking
# server's backend). `make postgres` / `make postgres-stop` call it.
#
#   scripts/postgres.sh start   start it (or say where it already runs) and print the URLs
#   scripts/postgres.sh stop    stop it and delete its data: it is throwaway
#   scripts/postgres.sh url DB  the SQLAlchemy URL of database DB
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5433}
PG_DIR=${PG_DIR:-/tmp/sweeplab-postgres-$PG_PORT}
PG_USER=${PG_USER:-sweeplab}
PG_PASSWORD=${PG_PASSWORD:-sweeplab}
DATABASES=(optuna mlflow)

say() { echo "postgres: $*" >&2; }

url() {  # clients connect over TCP with the password; only this script uses the socket
    local host=$PG_HOST
    case $host in 0.0.0.0|'*'|::) host=$(hostname -I 2>/dev/null | awk '{print $1}'); host=${host:-127.0.0.1};; esac
    echo "postgresql://$PG_USER:$PG_PASSWORD@$host:$PG_PORT/$1"
}

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

install_server() {
    [ -n "$(bindir)" ] && return
    if [ "$(id -u)" != 0 ]; then
        say "Debian's PostgreSQL server is not installed: run 'sudo apt-get install postgresql' first"; exit 1
    fi
    say "installing Debian's postgresql package"
    # Only our throwaway cluster should run: no 'main' cluster on 5432 started behind the user's back.
    mkdir -p /etc/postgresql-common
    [ -e /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" \
        > /etc/postgresql-common/createcluster.conf
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# initdb and the server refuse to run as root: as root they run as the package's `postgres` user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

running() { [ -f "$PG_DIR/PG_VERSION" ] && as_owner "$(bindir)/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; }

is_loopback() { case $1 in 127.*|localhost|::1) return 0;; *) return 1;; esac; }

start() {
    install_server
    local bin; bin=$(bindir)
    if running; then
        say "already running on $PG_HOST:$PG_PORT (data in $PG_DIR)"
    else
        if [ ! -f "$PG_DIR/PG_VERSION" ]; then
            mkdir -p "$PG_DIR"
            [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
            chmod 700 "$PG_DIR"
            local pwfile; pwfile=$(mktemp); echo "$PG_PASSWORD" > "$pwfile"; chmod 644 "$pwfile"
            as_owner "$bin/initdb" -D "$PG_DIR" -U "$PG_USER" --pwfile="$pwfile" -E UTF8 --locale=C \
                --auth-local=trust --auth-host=scram-sha-256 >/dev/null
            rm -f "$pwfile"
            if ! is_loopback "$PG_HOST"; then
                say "warning: listening on $PG_HOST, not loopback: any machine that can reach it may try the password"
                printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' \
                    | as_owner tee -a "$PG_DIR/pg_hba.conf" >/dev/null
            fi
        fi
        as_owner "$bin/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=$PG_HOST -p $PG_PORT -k $PG_DIR" start >/dev/null \
            || { tail -n 20 "$PG_DIR/server.log" >&2; exit 1; }
        say "started PostgreSQL $(basename "$(dirname "$bin")") on $PG_HOST:$PG_PORT (data in $PG_DIR)"
    fi
    for db in "${DATABASES[@]}"; do
        as_owner "$bin/psql" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
            || as_owner "$bin/createdb" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" "$db"
    done
    say "Optuna storage:  $(url optuna)"
    say "MLflow backend:  $(url mlflow)   (make server runs a tracking server on it)"
}

stop() {
    if running; then
        as_owner "$(bindir)/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null
        say "stopped the cluster on port $PG_PORT"
    fi
    rm -rf "$PG_DIR"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    url) url "${2:?which database: optuna or mlflow}" ;;
    *) echo "usage: $0 start|stop|url DB" >&2; exit 2 ;;
esac
