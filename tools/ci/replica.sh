#!/usr/bin/env bash
# A streaming replica of the local PostgreSQL cluster, for the replica tests and benchmark.
#
#   tools/ci/replica.sh up       create it (pg_basebackup -R) unless it is running
#   tools/ci/replica.sh start    start it;  stop: stop it (fast shutdown)
#   tools/ci/replica.sh pause    pause WAL replay on it;  resume: resume replay
#   tools/ci/replica.sh status   one line: port, running or not, replay paused or not
#   tools/ci/replica.sh down     stop it and remove its data directory
#
# Environment: PRIMARY_PORT (5432), REPLICA_PORT (5433), REPLICA_DIR (a directory of the postgres
# user, one per port), REPLICATION_USER / REPLICATION_PASSWORD (a role created on the primary if
# missing). Runs as root (commands go through `su postgres`) or as the postgres user. `up` is
# idempotent: run twice, it leaves the running replica as it is; a stopped one is copied afresh.
set -euo pipefail

cmd=${1:-up}
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICA_PORT=${REPLICA_PORT:-5433}
PG_HOME=$(getent passwd postgres | cut -d: -f6)
REPLICA_DIR=${REPLICA_DIR:-$PG_HOME/bookstore-replica-$REPLICA_PORT}
REPLICATION_USER=${REPLICATION_USER:-bookstore_replication}
REPLICATION_PASSWORD=${REPLICATION_PASSWORD:-bookstore_replication}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PG_BIN/pg_ctl" ] || PG_BIN=$(dirname "$(command -v pg_ctl)")

as_postgres() {
  if [ "$(id -un)" = postgres ]; then bash -c "$1"; else su postgres -c "$1"; fi
}
replica_sql() { as_postgres "psql -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p $REPLICA_PORT -d postgres -tA" <<<"$1"; }
running() { as_postgres "'$PG_BIN/pg_ctl' -D '$REPLICA_DIR' status" >/dev/null 2>&1; }
start() {
  running && return 0
  as_postgres "'$PG_BIN/pg_ctl' -D '$REPLICA_DIR' -l '$REPLICA_DIR/server.log' -w -t 120 start" >/dev/null
}
stop() {
  running || return 0
  as_postgres "'$PG_BIN/pg_ctl' -D '$REPLICA_DIR' -m fast -w stop" >/dev/null
}

# psql over TCP as postgres needs a password; over the socket, peer authentication is enough.
primary_sql() { as_postgres "psql -X -q -v ON_ERROR_STOP=1 -p $PRIMARY_PORT -tA" <<<"$1"; }

up() {
  if [ -f "$REPLICA_DIR/standby.signal" ] && running; then
    echo "replica on port $REPLICA_PORT: running ($REPLICA_DIR)"
    return 0
  fi
  # A copy left stopped may need WAL the primary has since recycled (there is no replication slot,
  # so that a forgotten replica never makes the primary keep WAL): it is taken again from scratch.
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$REPLICA_PORT"; then
    echo "port $REPLICA_PORT is taken by another server: choose another REPLICA_PORT" >&2
    exit 1
  fi
  # The role pg_basebackup and the standby connect as, and a pg_hba rule letting it in over TCP.
  primary_sql "DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$REPLICATION_USER') THEN
      CREATE ROLE $REPLICATION_USER WITH REPLICATION LOGIN PASSWORD '$REPLICATION_PASSWORD';
    END IF;
  END \$\$;"
  local allowed hba
  allowed=$(primary_sql "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host'
    AND 'replication' = ANY(database) AND ('all' = ANY(user_name) OR '$REPLICATION_USER' = ANY(user_name))
    AND address = '127.0.0.1' AND error IS NULL")
  if [ "$allowed" = 0 ]; then
    hba=$(primary_sql "SHOW hba_file")
    echo "host replication $REPLICATION_USER 127.0.0.1/32 scram-sha-256" >>"$hba"
    primary_sql "SELECT pg_reload_conf()" >/dev/null
  fi
  # Settings a hot standby must have at least as high as its primary.
  local settings
  settings=$(primary_sql "SELECT string_agg(name || ' = ' || setting, E'\n') FROM pg_settings WHERE name IN
    ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions',
     'max_locks_per_transaction')")
  as_postgres "rm -rf '$REPLICA_DIR' && mkdir -p '$REPLICA_DIR' && chmod 700 '$REPLICA_DIR'"
  local t0=$SECONDS
  echo "pg_basebackup of 127.0.0.1:$PRIMARY_PORT into $REPLICA_DIR ..."
  as_postgres "PGPASSWORD='$REPLICATION_PASSWORD' '$PG_BIN/pg_basebackup' -h 127.0.0.1 -p $PRIMARY_PORT \
    -U $REPLICATION_USER -D '$REPLICA_DIR' -R -X stream -c fast"
  # A cluster packaged the Debian way keeps its configuration outside the data directory: the copy
  # gets a small one of its own (postgresql.auto.conf, copied with it, may add to it).
  as_postgres "cat > '$REPLICA_DIR/postgresql.conf'" <<CONF
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/var/run/postgresql'
hba_file = '$REPLICA_DIR/pg_hba.conf'
ident_file = '$REPLICA_DIR/pg_ident.conf'
hot_standby = on
hot_standby_feedback = on
ssl = off
shared_buffers = 128MB
logging_collector = off
$settings
CONF
  as_postgres "cat > '$REPLICA_DIR/pg_hba.conf'" <<HBA
local all postgres peer
local all all peer
host all all 127.0.0.1/32 scram-sha-256
HBA
  as_postgres "touch '$REPLICA_DIR/pg_ident.conf'"
  start
  echo "replica on port $REPLICA_PORT: created and started in $((SECONDS - t0)) s"
}

case "$cmd" in
  up) up ;;
  start) start ;;
  stop) stop ;;
  pause) replica_sql "SELECT pg_wal_replay_pause()" >/dev/null ;;
  resume) replica_sql "SELECT pg_wal_replay_resume()" >/dev/null ;;
  status)
    if running; then
      echo "port $REPLICA_PORT: running, replay paused: $(replica_sql 'SELECT pg_is_wal_replay_paused()')"
    else
      echo "port $REPLICA_PORT: stopped"
    fi
    ;;
  down)
    stop
    as_postgres "rm -rf '$REPLICA_DIR'"
    ;;
  *)
    echo "usage: $0 up|start|stop|pause|resume|status|down" >&2
    exit 2
    ;;
esac
