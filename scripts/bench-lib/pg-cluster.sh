# Sourced by the PostgreSQL benchmark scripts (pgqueuer_peer.sh, pg-prototype/run.sh): a
# throwaway cluster like the tests' (TestSupport's PostgresCluster), stopped at exit.
#   pg_cluster_start DB [SETTING...]   initdb + start on a free loopback port, make database DB;
#                                      sets PG_BIN, PG_HOST, PG_PORT. SETTINGs ("name = value")
#                                      go to postgresql.conf.
#   pg_cluster_sync_standby NAME       a synchronous standby of it (pg_basebackup, slot NAME)
#   pg_psql ARGS...                    psql -X on the cluster as postgres
# Needs: Debian's postgresql server binaries (/usr/lib/postgresql/*/bin), python3 (free port),
# a function `say` for progress and $PG_LOG for the servers' output. Runs initdb and postgres
# as the postgres OS user when we are root (PostgreSQL refuses root), in /tmp.

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_HOST=127.0.0.1
PG_PORT=
pg_datas=() pg_dirs=()

pg_cluster_cleanup() {
  local i data pid
  for ((i = ${#pg_datas[@]} - 1; i >= 0; i--)); do  # standbys first
    data="${pg_datas[$i]}"
    pid=$(head -1 "$data/postmaster.pid" 2>/dev/null) || continue
    kill -INT "$pid" 2>/dev/null || continue  # fast shutdown
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait || true  # the runuser (or postgres) jobs, which end with their postmaster
  for dir in "${pg_dirs[@]}"; do rm -rf "$dir"; done
}
trap pg_cluster_cleanup EXIT

pg_as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pg_psql() { "$PG_BIN/psql" -X -h "$PG_HOST" -p "$PG_PORT" -U postgres "$@"; }

# pg_new_dir: a fresh directory the postgres user owns, in $pg_dir (removed at exit).
pg_new_dir() {
  pg_dir=$(mktemp -d /tmp/taskmaster-pgbench-XXXXXX)
  pg_dirs+=("$pg_dir")
  chmod 755 "$pg_dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$pg_dir"; fi
}

# pg_start_postmaster DATA PORT: runs postgres in the background (this shell, through runuser,
# reaps it: no zombie left for process 1) and waits until postmaster.pid says ready/standby.
pg_start_postmaster() {
  local data="$1" port="$2" status
  pg_datas+=("$data")
  pg_as_postgres "$PG_BIN/postgres" -D "$data" -p "$port" >>"$PG_LOG" 2>&1 &
  for _ in $(seq 300); do
    status=$(sed -n 8p "$data/postmaster.pid" 2>/dev/null | tr -d ' ') || true
    if [ "$status" = ready ] || [ "$status" = standby ]; then return 0; fi
    sleep 0.1
  done
  say "postgres on $data did not start within 30 s (see $PG_LOG)"
  exit 1
}

pg_cluster_start() {
  local db="$1" setting
  shift
  [ -n "$PG_BIN" ] || { say "no /usr/lib/postgresql/*/bin: install Debian's postgresql package"; exit 1; }
  PG_PORT=$(pg_free_port)
  pg_new_dir
  say "starting a throwaway cluster on $PG_HOST:$PG_PORT ($pg_dir)"
  pg_as_postgres "$PG_BIN/initdb" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync -D "$pg_dir/data" \
    >>"$PG_LOG" 2>&1
  {
    printf '%s\n' "listen_addresses = '127.0.0.1'" "unix_socket_directories = ''" "fsync = on" \
      "synchronous_commit = on" "wal_level = replica" "max_wal_senders = 10" "max_replication_slots = 10"
    for setting in "$@"; do printf '%s\n' "$setting"; done
  } >>"$pg_dir/data/postgresql.conf"
  pg_start_postmaster "$pg_dir/data" "$PG_PORT"
  pg_psql -q -d postgres -c "CREATE DATABASE \"$db\"" >>"$PG_LOG" 2>&1
}

pg_cluster_sync_standby() {
  local name="$1" port state
  port=$(pg_free_port)
  pg_new_dir
  say "making a synchronous standby on $PG_HOST:$port"
  pg_as_postgres "$PG_BIN/pg_basebackup" -h "$PG_HOST" -p "$PG_PORT" -U postgres -D "$pg_dir/data" \
    -R -X stream -C -S "$name" -c fast --no-sync >>"$PG_LOG" 2>&1
  # The copy must not keep the primary's synchronous_standby_names (a promoted standby would wait
  # for itself), and names itself for the primary's (the last setting in the file wins).
  sed -i '/^synchronous_standby_names/d' "$pg_dir/data/postgresql.auto.conf"
  echo "primary_conninfo = 'host=$PG_HOST port=$PG_PORT user=postgres application_name=$name'" \
    >>"$pg_dir/data/postgresql.auto.conf"
  pg_start_postmaster "$pg_dir/data" "$port"
  pg_psql -q -d postgres -c "ALTER SYSTEM SET synchronous_standby_names = '\"$name\"'" \
    -c "SELECT pg_reload_conf()" >>"$PG_LOG" 2>&1
  for i in $(seq 300); do
    state=$(pg_psql -A -t -d postgres -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$name'")
    [ "$state" = sync ] && return 0
    sleep 0.1
  done
  say "the standby did not become synchronous within 30 s (see $PG_LOG)"
  exit 1
}
