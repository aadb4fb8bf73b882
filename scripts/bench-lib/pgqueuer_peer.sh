#!/usr/bin/env bash
# The benchmark peer for TaskMaster's PostgreSQL backend: pgqueuer 1.6.0's own throughput
# benchmark (tools/benchmark.py from its source distribution, asyncpg driver), run against a
# PostgreSQL cluster with durable tables, fsync on and synchronous_commit on.
#
#   scripts/bench-lib/pgqueuer_peer.sh                    throwaway cluster, both settings, 20 s each
#   scripts/bench-lib/pgqueuer_peer.sh --sync-standby     … with a synchronous standby
#   scripts/bench-lib/pgqueuer_peer.sh --host 127.0.0.1 --port 5432 --db bench   an existing cluster
#                                                         (user postgres, trust or PGPASSWORD)
#   options: --seconds N (20), --repeats N (1), --settings default,fast (both),
#            --server-setting 'NAME = VALUE' (repeatable: postgresql.conf of the throwaway cluster)
#
# Settings: `default` is the benchmark's own (5 dequeuers × batch 10, 1 enqueuer × batch 10);
# `fast` is --dequeue 2 --dequeue-batch-size 500 --enqueue 1 --enqueue-batch-size 1000.
# Prints one JSON line per run on stdout, e.g.
#   {"peer": "pgqueuer", "version": "1.6.0", "settings": "fast", "jobs_per_second": 13210.5, ...}
# (jobs_per_second: jobs dequeued, run and completed per second, as the benchmark reports it;
# jobs: how many; queued_at_end: enqueued but not yet done). Progress and the benchmark's
# own output go to stderr and to .build-bench/pgqueuer-last.log.
#
# First run: makes a virtualenv in .build-bench/pgqueuer-venv with the pyenv python3 and
# installs pgqueuer[asyncpg]==1.6.0 and tqdm (its benchmark needs tqdm, undeclared), and
# fetches the sdist for tools/benchmark.py. The throwaway cluster uses Debian's postgresql
# server binaries (/usr/lib/postgresql/*/bin), run as the postgres OS user when we are root,
# in a temporary directory under /tmp, listening on 127.0.0.1 only; it is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

version=1.6.0
host="" port="" db="pgqueuer_bench" seconds=20 repeats=1 settings="default,fast" standby=0 server_settings=()
while [ $# -gt 0 ]; do
  case "$1" in
    --host) host="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --settings) settings="$2"; shift 2 ;;
    --sync-standby) standby=1; shift ;;
    --server-setting) server_settings+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "pgqueuer_peer: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$port" ] && [ "$standby" = 1 ]; then
  echo "pgqueuer_peer: --sync-standby is for the throwaway cluster, not with --port" >&2
  exit 2
fi

work="$repo/.build-bench"
venv="$work/pgqueuer-venv"
sdist="$work/pgqueuer-sdist/pgqueuer-$version"
log="$work/pgqueuer-last.log"
mkdir -p "$work"
: >"$log"
say() { echo "pgqueuer_peer: $*" >&2; echo "pgqueuer_peer: $*" >>"$log"; }

# --- pgqueuer, its benchmark's dependencies, and tools/benchmark.py ---------------------------
installed() {
  "$venv/bin/python" - "$version" >/dev/null 2>&1 <<'EOF'
import sys, importlib.metadata as m
import asyncpg, tqdm, pgqueuer  # noqa: F401
assert m.version("pgqueuer") == sys.argv[1]
EOF
}
if [ ! -x "$venv/bin/python" ] || ! installed; then
  python="${PYENV_ROOT:-$HOME/.pyenv}/shims/python3"
  [ -x "$python" ] || python=python3
  say "making $venv with $("$python" --version 2>&1) and installing pgqueuer[asyncpg]==$version tqdm"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q "pgqueuer[asyncpg]==$version" tqdm >>"$log" 2>&1
  installed || { say "pgqueuer $version did not install (see $log)"; exit 1; }
fi
if [ ! -f "$sdist/tools/benchmark.py" ]; then
  say "fetching the pgqueuer $version sdist for tools/benchmark.py"
  rm -rf "$work/pgqueuer-sdist" && mkdir -p "$work/pgqueuer-sdist"
  "$venv/bin/pip" download -q --no-deps --no-binary :all: -d "$work/pgqueuer-sdist" "pgqueuer==$version" >>"$log" 2>&1
  tar -xzf "$work/pgqueuer-sdist/pgqueuer-$version.tar.gz" -C "$work/pgqueuer-sdist"
fi

# --- a throwaway cluster, unless one was given ----------------------------------------------
PG_LOG="$log"
source scripts/bench-lib/pg-cluster.sh
if [ -z "$port" ]; then
  pg_cluster_start "$db" "${server_settings[@]}"
  host="$PG_HOST" port="$PG_PORT"
  if [ "$standby" = 1 ]; then pg_cluster_sync_standby bench_standby; fi
fi

export PGHOST="$host" PGPORT="$port" PGUSER="${PGUSER:-postgres}" PGDATABASE="$db"
if ! "$venv/bin/pgq" verify >>"$log" 2>&1; then
  say "pgq install on $host:$port/$db"
  "$venv/bin/pgq" install >>"$log" 2>&1 || { say "pgq install failed (see $log)"; exit 1; }
fi

# --- the runs ---------------------------------------------------------------------------------
result="$work/pgqueuer-result.json"
for round in $(seq "$repeats"); do
  for setting in ${settings//,/ }; do
    case "$setting" in
      default) args=() ;;
      fast) args=(--dequeue 2 --dequeue-batch-size 500 --enqueue 1 --enqueue-batch-size 1000) ;;
      *) say "unknown settings $setting (default, fast)"; exit 2 ;;
    esac
    say "run $round: $setting settings, $seconds s"
    rm -f "$result"
    (cd "$sdist" && PGQUEUER_TABLEFMT=plain "$venv/bin/python" tools/benchmark.py -d apg -s throughput \
      -t "$seconds" --output-json "$result" "${args[@]}") >>"$log" 2>&1 \
      || { say "the benchmark failed (see $log)"; exit 1; }
    "$venv/bin/python" - "$result" "$setting" "$version" "$standby" "${args[*]}" <<'EOF'
import json, re, sys
path, setting, version, standby, args = sys.argv[1:]
r = json.load(open(path))
h, m, sec = re.fullmatch(r"P(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", r["elapsed"]).groups()
elapsed = int(h or 0) * 3600 + int(m or 0) * 60 + float(sec or 0)
flags = dict(zip(args.split()[::2], args.split()[1::2]))
print(json.dumps({
    "peer": "pgqueuer", "version": version, "settings": setting,
    "dequeue": int(flags.get("--dequeue", 5)), "dequeue_batch_size": int(flags.get("--dequeue-batch-size", 10)),
    "enqueue": int(flags.get("--enqueue", 1)), "enqueue_batch_size": int(flags.get("--enqueue-batch-size", 10)),
    "sync_standby": standby == "1", "jobs": r["steps"], "queued_at_end": r["queued"],
    "seconds": round(elapsed, 2), "jobs_per_second": round(r["rate"], 1),
}), flush=True)
EOF
  done
done
