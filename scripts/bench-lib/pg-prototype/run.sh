#!/usr/bin/env bash
# Measures the SQL prototype of TaskMaster's PostgreSQL backend with pgbench (prepared
# statements, 2 clients) on a throwaway cluster with fsync and synchronous_commit on (see
# docs/notes/postgres-prototype.md). Prints one JSON line per step on stdout:
#   {"variant": …, "step": "cycle", "tasks_per_second": …, "latency_ms": {…}, …}
#
#   scripts/bench-lib/pg-prototype/run.sh                       the proposed layout, every step
#   … --layout pk --fillfactor 70                               primary key only, room for HOT updates
#   … --no-analyze | --autovacuum aggressive | --batch 100 | --sync-standby | --seconds 20
#   … --steps cycle,put,put-maxsize,put-no-notify,worker,producer,expire
#
# Steps (each --seconds long, queue 'task' prefilled with --prefill tasks and ANALYZEd first):
#   cycle      put.sql + worker.sql + producer-results.sql in turn: a task's whole life (put,
#              take, complete, take result, ack result); tasks/s = cycles/s × batch
#   put        put.sql alone (with NOTIFY);  put-maxsize: put-maxsize.sql;  put-no-notify: without
#   worker     worker.sql alone (take + complete) on the backlog
#   producer   producer-results.sql alone (take results + ack) on a backlog of results
#   expire     expire.sql: its cost when nothing has expired (1 client), and the time to return
#              100000 expired leases
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../.."

layout=ready fillfactor=100 analyze=1 autovacuum=default batch=500 standby=0 seconds=10 clients=2
prefill=200000 steps="cycle,put,put-maxsize,put-no-notify,worker,producer,expire"
while [ $# -gt 0 ]; do
  case "$1" in
    --layout) layout="$2"; shift 2 ;;
    --fillfactor) fillfactor="$2"; shift 2 ;;
    --no-analyze) analyze=0; shift ;;
    --autovacuum) autovacuum="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --sync-standby) standby=1; shift ;;
    --seconds) seconds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --prefill) prefill="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
variant="layout=$layout fillfactor=$fillfactor analyze=$analyze autovacuum=$autovacuum batch=$batch sync_standby=$standby"

mkdir -p .build-bench
PG_LOG=.build-bench/pg-prototype.log
: >"$PG_LOG"
say() { echo "pg-prototype: $*" >&2; }
source scripts/bench-lib/pg-cluster.sh

settings=()
if [ "$autovacuum" = aggressive ]; then
  settings+=("autovacuum_naptime = 1s" "autovacuum_vacuum_cost_delay = 0")
fi
pg_cluster_start prototype "${settings[@]}"
if [ "$standby" = 1 ]; then pg_cluster_sync_standby prototype_standby; fi
sql() { pg_psql -d prototype -v ON_ERROR_STOP=1 -q -A -t "$@"; }

sql -v layout="$layout" -v fillfactor="$fillfactor" -f "$here/schema.sql" >>"$PG_LOG"
if [ "$autovacuum" = aggressive ]; then
  sql -c "ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 50000,
    autovacuum_analyze_scale_factor = 0.05)"
fi

# prefill N [QUEUE]: puts N tasks on QUEUE (task) and ANALYZEs, unless --no-analyze.
prefill() {
  sql -c "INSERT INTO tasks (queue, payload, reference) SELECT '${2:-task}', int8send(g), g FROM generate_series(1, $1) g"
  if [ "$analyze" = 1 ]; then sql -c "ANALYZE tasks"; fi
}
count() { sql -c "SELECT count(*) FROM tasks WHERE queue = '$1'"; }

# bench STEP COUNTER_QUEUE SIGN FILE...: runs pgbench on the concatenated FILEs and prints a JSON
# line; tasks/s comes from how much queue COUNTER_QUEUE grew (SIGN +) or shrank (SIGN -), or from
# the transactions (SIGN x: cycles × batch).
bench() {
  local step="$1" queue="$2" sign="$3" before after out script
  shift 3
  script=$(mktemp /tmp/pg-prototype-XXXXXX.sql)
  cat "$@" >"$script"
  before=$(count "$queue")
  say "$step: pgbench -M prepared -c $clients -T $seconds ($variant)"
  out=$("$PG_BIN/pgbench" -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -r -D batch="$batch" \
    -D maxsize=100000000 -f "$script" -h "$PG_HOST" -p "$PG_PORT" -U postgres prototype 2>&1) \
    || { echo "$out" >&2; exit 1; }
  after=$(count "$queue")
  rm -f "$script"
  echo "$out" >>"$PG_LOG"
  python3 - "$step" "$variant" "$sign" "$before" "$after" "$batch" "$seconds" "$clients" <<PY
import json, re, sys
step, variant, sign, before, after, batch, seconds, clients = sys.argv[1:]
out = """$out"""
tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
lat = {}
for line in out.split("statement latencies in milliseconds")[-1].splitlines()[1:]:
    m = re.match(r"\s+([\d.]+)\s+\S+\s+(.*)", line) or re.match(r"\s+([\d.]+)\s+(.*)", line)
    if m and not m.group(2).lstrip().startswith("\\\\"):
        lat[m.group(2).strip()[:40]] = float(m.group(1))
moved = int(after) - int(before)
rate = tps * int(batch) if sign == "x" else (moved if sign == "+" else -moved) / float(seconds)
print(json.dumps({"variant": variant, "step": step, "clients": int(clients), "batch": int(batch),
                  "seconds": float(seconds), "transactions": done, "tps": round(tps, 1),
                  "tasks_per_second": round(rate), "latency_ms": lat}), flush=True)
PY
}

prefill "$prefill"
for step in ${steps//,/ }; do
  case "$step" in
    cycle) bench cycle task x "$here/put.sql" "$here/worker.sql" "$here/producer-results.sql" ;;
    put) bench put task + "$here/put.sql" ;;
    put-maxsize) bench put-maxsize task + "$here/put-maxsize.sql" ;;
    put-no-notify)
      nonotify=$(mktemp /tmp/pg-prototype-XXXXXX.sql)
      sed 's/^SELECT pg_notify.*FROM put;/SELECT count(*) FROM put;/' "$here/put.sql" >"$nonotify"
      bench put-no-notify task + "$nonotify"
      rm -f "$nonotify"
      ;;
    worker)
      # Enough backlog for the whole run.
      [ "$(count task)" -ge 2000000 ] || prefill 2000000
      bench worker result + "$here/worker.sql"
      ;;
    producer)
      [ "$(count result)" -ge 1000000 ] || prefill 1000000 result
      bench producer result - "$here/producer-results.sql"
      ;;
    expire)
      noop=$("$PG_BIN/pgbench" -n -M prepared -c 1 -T 3 -f "$here/expire.sql" -h "$PG_HOST" -p "$PG_PORT" \
        -U postgres prototype 2>&1 | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
      sql -c "UPDATE tasks SET lease_owner = 'gone/1', lease_until = now() - interval '1 second', attempt = 1
              WHERE queue = 'task' AND id IN (SELECT id FROM tasks WHERE queue = 'task' ORDER BY id LIMIT 100000)" >/dev/null
      start=$(date +%s.%N) total=0
      while :; do
        n=$(sql -c "$(grep -v '^--' "$here/expire.sql")" | cut -d'|' -f1)
        total=$((total + n))
        [ "$n" -lt 10000 ] && break
      done
      end=$(date +%s.%N)
      python3 -c "import json,sys; print(json.dumps({'variant': sys.argv[1], 'step': 'expire', 'noop_ms': float(sys.argv[2]), 'returned': int(sys.argv[3]), 'seconds': round(float(sys.argv[5]) - float(sys.argv[4]), 3)}))" \
        "$variant" "$noop" "$total" "$start" "$end"
      ;;
    *) say "unknown step $step"; exit 2 ;;
  esac
done
sql -c "SELECT 'table: ' || pg_size_pretty(pg_table_size('tasks')) || ', indexes: ' || pg_size_pretty(pg_indexes_size('tasks'))
        || ', n_tup_upd ' || n_tup_upd || ', HOT ' || n_tup_hot_upd || ', autovacuums ' || autovacuum_count
        FROM pg_stat_user_tables WHERE relname = 'tasks'" >&2
