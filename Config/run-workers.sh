#!/usr/bin/env bash
# Runs N task-workers on this host against one master, without systemd.
#   Config/run-workers.sh N [task-worker options…]
#   TASK_AUTHKEY_FILE=/etc/taskmaster/authkey Config/run-workers.sh 4 --connect 10.0.0.5:5000
# Each worker's log lines are prefixed with its number. SIGTERM or Ctrl-C stops them all
# gracefully (each finishes and acknowledges what it holds); exits once they all have.
# TASK_WORKER (default: task-worker on PATH, else .build/release/task-worker) picks the binary.
set -euo pipefail

if [ $# -lt 1 ] || ! [[ "$1" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N [task-worker options…]" >&2
  exit 2
fi
count="$1"
shift

worker="${TASK_WORKER:-$(command -v task-worker || true)}"
if [ -z "$worker" ]; then
  worker="$(cd "$(dirname "$0")/.." && pwd)/.build/release/task-worker"
fi
if ! [ -x "$worker" ]; then
  echo "error: no task-worker binary: put it on PATH, set TASK_WORKER, or run swift build -c release" >&2
  exit 1
fi

pids=()
stop() {
  trap - TERM INT
  kill -TERM "${pids[@]}" 2>/dev/null || true
}
trap stop TERM INT

for i in $(seq 1 "$count"); do
  # Process substitution keeps $! the worker's pid, not the prefixing sed's.
  "$worker" "$@" > >(sed -u "s/^/[worker $i] /") 2> >(sed -u "s/^/[worker $i] /" >&2) &
  pids+=($!)
done
echo "started $count workers: ${pids[*]}" >&2

# `wait` returns early when a signal arrives; wait again for a worker still running.
status=0
for pid in "${pids[@]}"; do
  while true; do
    rc=0
    wait "$pid" || rc=$?
    if [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    [ "$rc" -eq 0 ] || [ "$rc" -eq 127 ] || status=$rc
    break
  done
done
exit "$status"
