#!/usr/bin/env python3
"""The PostgreSQL part of scripts/bench: a squaring batch through a task-master whose queues are
in PostgreSQL (`--backend`), on a throwaway cluster on this machine (fsync on,
synchronous_commit on), with the CPU each side used; one task at a time through it
(`task-ctl latency`, one worker); the same design's SQL alone, with no server (pgbench running
pg-prototype/run.sh's statements: the yardstick issue 11 sets its 40,000 tasks/s against); and
the pgqueuer peer (pgqueuer_peer.sh) in its default and fast settings, in the same run.

Run by bench.py (`scripts/bench --postgres-only` runs only this part), or alone:
    python3 scripts/bench-lib/pg_bench.py --bin .build/release [--count 200000] [--repeats 3]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, 'pg-bench-cluster.sh')
PEER = os.path.join(HERE, 'pgqueuer_peer.sh')
PROTOTYPE = os.path.join(HERE, 'pg-prototype', 'run.sh')
# Issue 11 asks for 40,000 tasks/s on a machine where plain SQL taking and finishing tasks in
# batches of 500 (the `worker` step) reached 71,000-89,000: at the low end, 0.56x of it.
# Machines of this kind differ by 1.5-5x, so the target is checked as that same-run ratio.
PLAIN_SQL_TARGET = 40_000 / 71_000
TICKS = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pids):
    """User + system CPU seconds of the given processes (those still there)."""
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICKS


def children_of(parent):
    pids = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/stat' % name) as f:
                    if int(f.read().rsplit(')', 1)[1].split()[1]) == parent:
                        pids.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return pids


class Cluster:
    def __init__(self, db='tasks'):
        self.proc = subprocess.Popen([CLUSTER, db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        fields = self.proc.stdout.readline().split()
        if len(fields) < 4:
            raise SystemExit('pg_bench: the PostgreSQL cluster did not start (see .build-bench/pg-bench.log)')
        self.port, self.postmaster = int(fields[1]), int(fields[3])
        self.db = db

    def url(self, schema):
        return 'postgres://postgres@127.0.0.1:%d/%s?schema=%s' % (self.port, self.db, schema)

    def server_pids(self):
        return [self.postmaster] + children_of(self.postmaster)

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def start(bin_dir, key, url, workers=2):
    """A master on `url` with `workers` workers, once it listens: (env for clients, master, workers)."""
    env = dict(os.environ, TASK_AUTHKEY=key)
    master = subprocess.Popen([os.path.join(bin_dir, 'task-master'), '--host', '127.0.0.1', '--port', '0',
                               '--backend', url], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = master.stdout.readline()
    if 'listening on' not in line:
        master.kill()
        raise SystemExit('pg_bench: task-master did not start: %r' % line)
    env['TASK_MASTER_ADDRESS'] = line.strip().rsplit(' ', 1)[1]
    started = [subprocess.Popen([os.path.join(bin_dir, 'task-worker')], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        time.sleep(1.0)
        return env, master, started
    except BaseException:
        stop(master, started)
        raise


def stop(master, workers):
    for w in workers:
        w.terminate()
    for w in workers:
        try:
            w.wait(timeout=20)
        except subprocess.TimeoutExpired:
            w.kill()
    master.terminate()
    try:
        master.wait(timeout=30)
    except subprocess.TimeoutExpired:
        master.kill()


def run_batch(bin_dir, key, cluster, schema, count):
    """One batch of `count` numbers through a master on the cluster with 2 workers; its summary
    with the master's and the database's CPU seconds over the batch."""
    env, master, workers = start(bin_dir, key, cluster.url(schema))
    try:
        server = cluster.server_pids()
        before = (cpu_seconds([master.pid]), cpu_seconds(server), cpu_seconds([w.pid for w in workers]), time.time())
        out = subprocess.run([os.path.join(bin_dir, 'task-ctl'), 'batch', '--count', str(count), '--json', '--quiet',
                              '--timeout', '600'], env=env, capture_output=True, text=True, timeout=700)
        server = cluster.server_pids()
        after = (cpu_seconds([master.pid]), cpu_seconds(server), cpu_seconds([w.pid for w in workers]), time.time())
        if out.returncode != 0:
            raise SystemExit('pg_bench: the batch failed: %s' % out.stderr[-2000:])
        s = json.loads(out.stdout.strip().splitlines()[-1])
        wall = after[3] - before[3]
        s['ok'] = s['completed'] == count and s['wrong'] == 0 and s['missing'] == 0 and s['duplicates'] == 0
        s['master_cpu'] = (after[0] - before[0]) / wall
        s['database_cpu'] = (after[1] - before[1]) / wall
        s['workers_cpu'] = (after[2] - before[2]) / wall
        return s
    finally:
        stop(master, workers)


def run_latency(bin_dir, key, cluster, schema, count):
    """`task-ctl latency` (one task at a time: put, wait for its square) through a master on the
    cluster with one worker: its p50/p90/p99 summary."""
    env, master, workers = start(bin_dir, key, cluster.url(schema), workers=1)
    try:
        out = subprocess.run([os.path.join(bin_dir, 'task-ctl'), 'latency', '--count', str(count), '--warmup', '20',
                              '--json'], env=env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise SystemExit('pg_bench: task-ctl latency failed: %s' % out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        stop(master, workers)


def plain_sql(seconds):
    """The design's SQL alone, no server (pg-prototype/run.sh, its own throwaway cluster, 2
    pgbench clients, batches of 500): {step: tasks/s} for `worker` (take and finish) and
    `cycle` (a task's whole life: put, take, finish, take the result, ack it)."""
    out = subprocess.run([PROTOTYPE, '--steps', 'worker,cycle', '--seconds', str(seconds)], capture_output=True,
                         text=True, timeout=600)
    if out.returncode != 0:
        print('pg_bench: pg-prototype/run.sh failed: %s' % out.stderr[-1500:], file=sys.stderr)
        return {}
    return {r['step']: r['tasks_per_second'] for r in map(json.loads, out.stdout.splitlines()) if 'step' in r}


def peer(seconds):
    """pgqueuer's benchmark, default and fast settings: {settings: jobs/s}."""
    # The same server settings as the cluster of our batch (pg-bench-cluster.sh).
    out = subprocess.run([PEER, '--settings', 'default,fast', '--seconds', str(seconds),
                          '--server-setting', 'autovacuum_naptime = 1s',
                          '--server-setting', 'autovacuum_vacuum_cost_delay = 0'], capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        print('pg_bench: pgqueuer_peer.sh failed: %s' % out.stderr[-1500:], file=sys.stderr)
        return {}
    rates = {}
    for line in out.stdout.splitlines():
        if line.startswith('{'):
            r = json.loads(line)
            rates[r['settings']] = r['jobs_per_second']
    return rates


def run(bin_dir, count, repeats, peer_seconds, row, results, key='pg-bench'):
    """Measures and prints table rows through `row(name, value, note)`; fills `results`."""
    cluster = Cluster()
    runs, plain = [], []
    try:
        # Each batch is followed by the plain SQL yardstick: the VM's speed drifts over minutes.
        for i in range(repeats):
            runs.append(run_batch(bin_dir, key, cluster, 'run%d' % i, count))
            plain.append(plain_sql(8))
        latency = run_latency(bin_dir, key, cluster, 'latency', 300)
    finally:
        cluster.stop()
    runs.sort(key=lambda r: r['tasks_per_second'])
    s = runs[len(runs) // 2]
    results['postgres_tasks_per_second'] = s['tasks_per_second']
    results['postgres_runs'] = [round(r['tasks_per_second']) for r in runs]
    results['postgres_master_cpu'] = s['master_cpu']
    results['postgres_database_cpu'] = s['database_cpu']
    results['postgres_workers_cpu'] = s['workers_cpu']
    row('TaskMaster batch of %d, 2 workers, queues in PostgreSQL' % count, '%.0f tasks/s' % s['tasks_per_second'],
        'median of %d (%s); %s' % (repeats, ', '.join(str(r) for r in results['postgres_runs']),
                                  'all squares right' if all(r['ok'] for r in runs) else 'WRONG: %s' % s))
    row('… CPU while it runs: master · database · workers',
        '%.0f%% · %.0f%% · %.0f%%' % (s['master_cpu'] * 100, s['database_cpu'] * 100, s['workers_cpu'] * 100),
        'of one core; 2 cores in all, fsync and synchronous_commit on')
    results['postgres_latency_p50_us'] = latency['p50_us']
    results['postgres_latency_p99_us'] = latency['p99_us']
    row('PostgreSQL, one at a time: task-ctl latency, 1 worker',
        'p50 %.0f µs · p99 %.0f µs' % (latency['p50_us'], latency['p99_us']),
        '%d round trips; each a put and a completion committed (fsync)' % latency['count'])
    plain = [p for p in plain if 'worker' in p and 'cycle' in p]
    if plain:
        for step in ('worker', 'cycle'):
            rates = sorted(p[step] for p in plain)
            results['plain_sql_%s_tasks_per_second' % step] = rates[len(rates) // 2]
        row('… the same SQL alone, no server: take and finish · whole life',
            '%.0f · %.0f tasks/s' % (results['plain_sql_worker_tasks_per_second'],
                                     results['plain_sql_cycle_tasks_per_second']),
            'pgbench, 2 clients, batches of 500, after each batch; median of %d' % len(plain))
        ratio = s['tasks_per_second'] / results['plain_sql_worker_tasks_per_second']
        results['postgres_vs_plain_sql_worker'] = ratio
        results['postgres_vs_plain_sql_cycle'] = s['tasks_per_second'] / results['plain_sql_cycle_tasks_per_second']
        row('TaskMaster on PostgreSQL / that take and finish', '%.2f×' % ratio,
            'issue 11: 40,000 where it did 71,000-89,000, ≥ %.2f×: %s' % (
                PLAIN_SQL_TARGET, 'met' if ratio >= PLAIN_SQL_TARGET else 'NOT met'))
        row('TaskMaster on PostgreSQL / that whole life', '%.2f×' % results['postgres_vs_plain_sql_cycle'],
            'the server adds its protocol, leases and hand-offs to the same statements')
    if peer_seconds <= 0:
        return
    rates = peer(peer_seconds)
    for name in ('default', 'fast'):
        if name in rates:
            results['pgqueuer_%s_jobs_per_second' % name] = rates[name]
    if rates:
        best = max(rates.values())
        row('pgqueuer 1.6.0 peer: default · fast settings',
            ' · '.join('%.0f jobs/s' % rates[n] for n in ('default', 'fast') if n in rates),
            '%d s each, its own benchmark, same machine, run and server settings' % peer_seconds)
        results['postgres_vs_pgqueuer_fast'] = s['tasks_per_second'] / best
        ratio = s['tasks_per_second'] / best
        row('TaskMaster on PostgreSQL / pgqueuer (faster settings)', '%.2f×' % ratio,
            'same run; issue 11: ≥ 3×: %s' % ('met' if ratio >= 3 else 'NOT met'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', required=True)
    ap.add_argument('--count', type=int, default=200_000)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--peer-seconds', type=int, default=20, help='0 skips the pgqueuer peer')
    args = ap.parse_args()
    results = {}

    def row(name, value, note=''):
        print('| %-58s | %22s | %s' % (name, value, note), flush=True)

    run(args.bin, args.count, args.repeats, args.peer_seconds, row, results)
    print('json: ' + json.dumps(results, sort_keys=True))


if __name__ == '__main__':
    main()
