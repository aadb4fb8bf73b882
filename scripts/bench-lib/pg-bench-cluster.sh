#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for pg_bench.py (fsync and synchronous_commit on, like the
# tests', and the autovacuum docs/POSTGRES.md recommends: naptime 1 s, no cost delay): prints "PORT <n> PID <postmaster pid>" once it accepts connections, and stops it
# when its standard input closes.
#   scripts/bench-lib/pg-bench-cluster.sh DB [SETTING...]
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .build-bench
PG_LOG=.build-bench/pg-bench.log
: >"$PG_LOG"
say() { echo "pg-bench-cluster: $*" >&2; }
source scripts/bench-lib/pg-cluster.sh
pg_cluster_start "$@" "autovacuum_naptime = 1s" "autovacuum_vacuum_cost_delay = 0"
echo "PORT $PG_PORT PID $(head -1 "${pg_datas[0]}/postmaster.pid")"
cat >/dev/null  # until the caller closes our stdin
