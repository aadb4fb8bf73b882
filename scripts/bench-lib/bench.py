#!/usr/bin/env python3
"""Driver of scripts/bench: runs each measurement with real processes on loopback, every wait
bounded, and prints a table. Ratios compare peers measured in the same run."""
import argparse
import json
import os
import subprocess
import shutil
import sys
import tempfile
import time

import pg_bench

HERE = os.path.dirname(os.path.abspath(__file__))
PY_BATCH = os.path.join(HERE, 'python_manager_batch.py')


class Master:
    """A task-master on 127.0.0.1 and a free port."""

    def __init__(self, bin_dir, key, extra=()):
        self.bin = bin_dir
        self.env = dict(os.environ, TASK_AUTHKEY=key)
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, 'task-master'), '--host', '127.0.0.1', '--port', '0', *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env, text=True)
        line = self.proc.stdout.readline()
        if 'listening on' not in line:
            raise SystemExit('task-master did not start: %r' % line)
        self.address = line.strip().rsplit(' ', 1)[1]
        self.env['TASK_MASTER_ADDRESS'] = self.address
        self.workers = []

    def start_workers(self, n, extra=()):
        for _ in range(n):
            self.workers.append(subprocess.Popen(
                [os.path.join(self.bin, 'task-worker'), *extra], env=self.env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def ctl(self, *args, timeout=600, allow_incomplete=False):
        out = subprocess.run([os.path.join(self.bin, 'task-ctl'), *args], env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        # A batch that ends with tasks missing exits 1 but still prints its summary.
        if out.returncode != 0 and not (allow_incomplete and out.returncode == 1):
            raise SystemExit('task-ctl %s failed: %s' % (' '.join(args), out.stderr[-2000:]))
        return json.loads(out.stdout.strip().splitlines()[-1])

    def rss_mb(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            fields = dict(line.split(':', 1) for line in f)
        return int(fields['VmRSS'].split()[0]) / 1024, int(fields['VmHWM'].split()[0]) / 1024

    def stop(self):
        for w in self.workers:
            w.terminate()
        for w in self.workers:
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def python_manager_batch(python, count, workers, key, server=None):
    """The classic Python master with `workers` classic Python workers; returns its JSON summary.

    With `server` ("host:port") every Python process talks to that running server (task-master);
    without, the master starts Python's own BaseManager server, as the classic script does."""
    env = dict(os.environ, TASK_AUTHKEY=key)
    extra = ['--connect', server] if server else []
    master = subprocess.Popen([python, PY_BATCH, 'master', '--count', str(count), *extra], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    port = master.stdout.readline().split()[1]
    host = server.rsplit(':', 1)[0] if server else '127.0.0.1'
    procs = [subprocess.Popen([python, PY_BATCH, 'worker', '--host', host, '--port', port, '--idle', '2'], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    time.sleep(1.0)                       # let the workers connect, as the classic setup has them waiting
    master.stdin.write('go\n')
    master.stdin.flush()
    summary = json.loads(master.stdout.readline())
    master.wait(timeout=60)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    return summary


def python_latency(python, count, key, server=None, swift_worker=None):
    """One task at a time through the classic pair: a Python client puts a number and waits for
    its result, a worker squares it. On Python's own server (started by the client) with the
    classic Python worker; or on `server` (task-master) with the Python worker, or with
    `swift_worker` (the task-worker binary). Returns the client's JSON: p50_us, p99_us."""
    env = dict(os.environ, TASK_AUTHKEY=key)
    extra = ['--connect', server] if server else []
    client = subprocess.Popen([python, PY_BATCH, 'latency', '--count', str(count), *extra], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        port = client.stdout.readline().split()[1]
        host = server.rsplit(':', 1)[0] if server else '127.0.0.1'
        if swift_worker:
            worker = subprocess.Popen([swift_worker], env=dict(env, TASK_MASTER_ADDRESS='%s:%s' % (host, port)),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            worker = subprocess.Popen([python, PY_BATCH, 'worker', '--host', host, '--port', port, '--idle', '2'],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            client.stdin.write('go\n')
            client.stdin.flush()
            summary = json.loads(client.stdout.readline())
            client.wait(timeout=60)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    finally:
        if client.poll() is None:
            client.kill()
    if summary['wrong']:
        raise SystemExit('python latency client got %d wrong results' % summary['wrong'])
    return summary


def compile_c(directory, name):
    """Compiles scripts/bench-lib/NAME.c with the toolchain's clang (or cc) into `directory`;
    returns the binary's path, or None when there is no C compiler or it fails."""
    binary = os.path.join(directory, name)
    compiler = shutil.which('clang') or shutil.which('cc')
    if compiler is None or subprocess.run(
            [compiler, '-O2', '-pthread', '-o', binary, os.path.join(HERE, name + '.c')]).returncode != 0:
        return None
    return binary


class FloorServer:
    """floor_server.c: answers every call at once, doing no work. Its `proc` is None when there
    is no C compiler."""

    def __init__(self, directory):
        binary = compile_c(directory, 'floor_server')
        self.proc = None
        if binary is None:
            return
        self.proc = subprocess.Popen([binary], stdout=subprocess.PIPE, text=True)
        self.address = '127.0.0.1:' + self.proc.stdout.readline().split()[1]

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait(timeout=20)


def floor_chain(binary, count):
    """floor_chain.c: one task at a time through three C processes doing no work (the floor of
    the four hops); returns its JSON: p50_us, p99_us."""
    out = subprocess.run([binary, str(count)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise SystemExit('floor_chain failed: %s' % out.stderr[-2000:])
    return json.loads(out.stdout)


def python_calls(python, count, key, server=None, floor=None):
    """One Python client alone, one call at a time: `count` puts then `count` gets, on Python's
    own server (started for it), on `server`, or on `floor`; returns the mean round trip (µs)."""
    extra = ['--connect', server] if server else ['--floor', floor] if floor else []
    out = subprocess.run([python, PY_BATCH, 'calls', '--count', str(count), *extra], capture_output=True, text=True,
                         env=dict(os.environ, TASK_AUTHKEY=key), timeout=300)
    if out.returncode != 0:
        raise SystemExit('python calls failed: %s' % out.stderr[-2000:])
    return json.loads(out.stdout.splitlines()[-1])['us_per_call']


def median_of(runs, field):
    return sorted(r[field] for r in runs)[len(runs) // 2]


def median_run(runs, field):
    """The run whose `field` is the median (the upper one of an even number)."""
    return sorted(runs, key=lambda r: r[field])[len(runs) // 2]


def spread(runs, field):
    return '%.0f–%.0f' % (min(r[field] for r in runs), max(r[field] for r in runs))


def row(name, value, note=''):
    print('| %-58s | %22s | %s' % (name, value, note))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', required=True)
    ap.add_argument('--count', type=int, default=1_000_000, help='numbers in the TaskMaster batch')
    ap.add_argument('--python-count', type=int, default=20_000, help='numbers in the Python manager batch')
    ap.add_argument('--latency-count', type=int, default=2000)
    ap.add_argument('--calls-count', type=int, default=5000, help='puts (and as many gets) of the one-client round trip')
    ap.add_argument('--python', default='python3')
    ap.add_argument('--repeats', type=int, default=3, help='runs of each comparison (median reported)')
    ap.add_argument('--baseline-bin', help='release binaries of the old build, for the throughput ratio')
    ap.add_argument('--baseline-name', default='c28024f')
    ap.add_argument('--postgres-count', type=int, default=200_000, help='numbers in the PostgreSQL-backed batch')
    ap.add_argument('--peer-seconds', type=int, default=20, help='seconds per pgqueuer run (0: no peer)')
    ap.add_argument('--postgres-only', action='store_true', help='only the PostgreSQL backend and its peer')
    ap.add_argument('--no-postgres', action='store_true', help='skip the PostgreSQL backend and its peer')
    args = ap.parse_args()
    key = 'bench-%d' % os.getpid()
    if args.postgres_only:
        results = {}
        print('| %-58s | %22s | %s' % ('measurement', 'result', 'notes'))
        print('|' + '-' * 60 + '|' + '-' * 24 + '|' + '-' * 30)
        pg_bench.run(args.bin, args.postgres_count, args.repeats, args.peer_seconds, row, results, key=key)
        print()
        print('json: ' + json.dumps(results, sort_keys=True))
        return
    python_version = subprocess.run([args.python, '-c', 'import sys; print(sys.version.split()[0])'],
                                    capture_output=True, text=True).stdout.strip()
    results = {}
    targets = []

    def target(name, ratio, limit, at_least=False):
        """A target of issue 12, as a ratio to its peer in this run."""
        met = ratio >= limit if at_least else ratio <= limit
        targets.append((name, ratio, ('≥ %.1f×' if at_least else '≤ %.1f×') % limit, met))

    print('| %-58s | %22s | %s' % ('measurement', 'result', 'notes'))
    print('|' + '-' * 60 + '|' + '-' * 24 + '|' + '-' * 30)

    # (a) TaskMaster: a squaring batch with 2 workers, end to end (target 2): in memory, the
    # same batch on the old build (`--baseline-bin`, commit c28024f) for the ratio, and
    # durable with each sync policy (every queued and leased task kept in SQLite). Alternated
    # `--repeats` times, medians reported: on a shared machine single runs vary by a third.
    def squaring_batch(bin_dir, extra=()):
        data = tempfile.mkdtemp(prefix='taskmaster-bench-')
        m = Master(bin_dir, key, [a.replace('{data}', data) for a in extra])
        try:
            m.start_workers(2)
            time.sleep(0.5)
            s = m.ctl('batch', '--count', str(args.count), '--json', '--quiet')
            s['ok'] = s['completed'] == args.count and s['wrong'] == 0 and s['missing'] == 0
            return s
        finally:
            m.stop()
            shutil.rmtree(data, ignore_errors=True)

    modes = [('memory', args.bin, ()), ('batch', args.bin, ('--data-dir', '{data}', '--sync', 'batch')),
             ('always', args.bin, ('--data-dir', '{data}', '--sync', 'always'))]
    if args.baseline_bin:
        modes.insert(1, ('baseline', args.baseline_bin, ()))
    runs = {name: [] for name, _, _ in modes}
    for _ in range(args.repeats):
        for name, bin_dir, extra in modes:
            runs[name].append(squaring_batch(bin_dir, extra))
    check = lambda r: 'all squares right' if r['ok'] else 'WRONG: %s' % r
    s = median_run(runs['memory'], 'tasks_per_second')
    results['taskmaster_tasks_per_second'] = s['tasks_per_second']
    row('TaskMaster batch of %d, 2 workers' % args.count, '%.0f tasks/s' % s['tasks_per_second'],
        'median of %d, spread %s; %s' % (args.repeats, spread(runs['memory'], 'tasks_per_second'), check(s)))
    if args.baseline_bin:
        b = median_run(runs['baseline'], 'tasks_per_second')
        results['baseline_tasks_per_second'] = b['tasks_per_second']
        results['throughput_vs_baseline'] = s['tasks_per_second'] / b['tasks_per_second']
        row('… the same batch, old build (%s)' % args.baseline_name, '%.0f tasks/s' % b['tasks_per_second'],
            'median of %d, spread %s; %s' % (args.repeats, spread(runs['baseline'], 'tasks_per_second'), check(b)))
        target('2. batch of %d / old build %s' % (args.count, args.baseline_name),
               results['throughput_vs_baseline'], 1.8, at_least=True)
    for policy in ('batch', 'always'):
        d = median_run(runs[policy], 'tasks_per_second')
        ratio = d['tasks_per_second'] / s['tasks_per_second']
        results['durable_%s_tasks_per_second' % policy] = d['tasks_per_second']
        results['durable_%s_vs_memory' % policy] = ratio
        row('… durable, --sync %s (SQLite WAL)' % policy, '%.0f tasks/s' % d['tasks_per_second'],
            '%.0f%% of memory mode; median of %d; %s' % (ratio * 100, args.repeats, check(d)))
    target('2. durable --sync batch / memory mode', results['durable_batch_vs_memory'], 0.5, at_least=True)

    # (h) The same batch with its queues in PostgreSQL (fsync and synchronous_commit on, the
    # database on this machine), and the pgqueuer peer: scripts/bench-lib/pg_bench.py.
    if not args.no_postgres:
        pg_bench.run(args.bin, args.postgres_count, args.repeats, args.peer_seconds, row, results, key=key)

    # (b) One task at a time (target 1): put a number, wait for its square, then the next.
    # TaskMaster's `task-ctl latency` with one `task-worker`, against Python's own manager
    # with its classic worker and a Python client doing the same; then the same Python client
    # on task-master, with the Python worker and with task-worker. Alternated, medians.
    # The floor: the same four hops between three C processes that do no work (floor_chain.c).
    lat = {'ours': [], 'python': [], 'py_on_ours': [], 'py_swift_worker': [], 'floor': []}
    chain_dir = tempfile.mkdtemp(prefix='taskmaster-bench-chain-')
    try:
        chain = compile_c(chain_dir, 'floor_chain')
        for _ in range(args.repeats):
            if chain:
                lat['floor'].append(floor_chain(chain, args.latency_count))
            m = Master(args.bin, key)
            try:
                m.start_workers(1)
                time.sleep(0.5)
                lat['ours'].append(m.ctl('latency', '--count', str(args.latency_count), '--json'))
            finally:
                m.stop()
            lat['python'].append(python_latency(args.python, args.latency_count, key))
            m = Master(args.bin, key)
            try:
                lat['py_on_ours'].append(python_latency(args.python, args.latency_count, key, server=m.address))
                lat['py_swift_worker'].append(python_latency(args.python, args.latency_count, key, server=m.address,
                                                             swift_worker=os.path.join(args.bin, 'task-worker')))
            finally:
                m.stop()
    finally:
        shutil.rmtree(chain_dir, ignore_errors=True)
    for name, runs_ in lat.items():
        if not runs_:
            continue
        for field in ('p50_us', 'p99_us'):
            results['latency_%s_%s' % (name, field)] = median_of(runs_, field)
    row('One task at a time: task-ctl latency, 1 task-worker',
        'p50 %.0f µs, p99 %.0f µs' % (results['latency_ours_p50_us'], results['latency_ours_p99_us']),
        'p50 %s, p99 %s µs; %d runs of %d' % (spread(lat['ours'], 'p50_us'), spread(lat['ours'], 'p99_us'),
                                               args.repeats, args.latency_count))
    row('… Python %s manager, classic worker and client' % python_version,
        'p50 %.0f µs, p99 %.0f µs' % (results['latency_python_p50_us'], results['latency_python_p99_us']),
        'p50 %s, p99 %s µs' % (spread(lat['python'], 'p50_us'), spread(lat['python'], 'p99_us')))
    row('… the same Python client and worker, on task-master',
        'p50 %.0f µs, p99 %.0f µs' % (results['latency_py_on_ours_p50_us'], results['latency_py_on_ours_p99_us']),
        'p50 %s µs' % spread(lat['py_on_ours'], 'p50_us'))
    row('… the same Python client with task-worker, on task-master',
        'p50 %.0f µs, p99 %.0f µs' % (results['latency_py_swift_worker_p50_us'],
                                      results['latency_py_swift_worker_p99_us']),
        'p50 %s µs' % spread(lat['py_swift_worker'], 'p50_us'))
    if lat['floor']:
        row('… the floor: three C processes relaying the same four hops',
            'p50 %.0f µs, p99 %.0f µs' % (results['latency_floor_p50_us'], results['latency_floor_p99_us']),
            'p50 %s µs; no work per message: the rest is each system\'s own' % spread(lat['floor'], 'p50_us'))
        results['latency_p50_vs_floor'] = results['latency_ours_p50_us'] / results['latency_floor_p50_us']
        results['latency_python_p50_vs_floor'] = results['latency_python_p50_us'] / results['latency_floor_p50_us']
    results['latency_p50_ratio'] = results['latency_ours_p50_us'] / results['latency_python_p50_us']
    results['latency_p99_ratio'] = results['latency_ours_p99_us'] / results['latency_python_p99_us']
    target('1. one at a time, p50 / Python manager p50', results['latency_p50_ratio'], 0.6)
    target('1. one at a time, p99 / Python manager p99', results['latency_p99_ratio'], 1.0)

    # (c) Python's own manager: the classic master/worker pair, same job; and (e) the same
    # Python programs served by task-master. Alternated three times, medians reported: on a
    # shared machine single runs of these vary by a third.
    ours, theirs = [], []
    for _ in range(args.repeats):
        theirs.append(python_manager_batch(args.python, args.python_count, 2, key))
        m = Master(args.bin, key)
        try:
            ours.append(python_manager_batch(args.python, args.python_count, 2, key, server=m.address))
        finally:
            m.stop()
    p = median_run(theirs, 'tasks_per_second')
    q = median_run(ours, 'tasks_per_second')
    results['python_manager_tasks_per_second'] = p['tasks_per_second']
    row('Python %s BaseManager batch of %d, 2 workers' % (python_version, args.python_count),
        '%.0f tasks/s' % p['tasks_per_second'],
        'median of %d; %s' % (args.repeats, 'all squares right' if p['wrong'] == 0 and p['missing'] == 0 else 'WRONG'))
    ratio = results['taskmaster_tasks_per_second'] / p['tasks_per_second']
    results['ratio_vs_python_manager'] = ratio
    row('TaskMaster / Python manager throughput', '%.0f×' % ratio, 'same machine, same run')

    results['python_clients_on_taskmaster_tasks_per_second'] = q['tasks_per_second']
    row('Same Python programs, served by task-master', '%.0f tasks/s' % q['tasks_per_second'],
        'median of %d; %s' % (args.repeats, 'all squares right' if q['wrong'] == 0 and q['missing'] == 0 else 'WRONG'))
    ratio = q['tasks_per_second'] / p['tasks_per_second']
    results['python_clients_ratio'] = ratio
    row('task-master / Python manager server, Python clients', '%.2f×' % ratio, 'same clients, same run')
    row('… of which the master\'s %d result gets, one at a time' % args.python_count,
        '%.1f s · %.1f s' % (p['result_get_seconds'], q['result_get_seconds']),
        'Python\'s server · task-master; of %.1f s · %.1f s' % (p['seconds'], q['seconds']))

    # (g) One Python client alone, one call at a time: the same round trip on Python's server,
    # on task-master, and on floor_server.c, which does no work at all (the least any server
    # can cost a Python client per call on this machine). Alternated, medians.
    calls = {'python': [], 'ours': [], 'floor': []}
    floor_dir = tempfile.mkdtemp(prefix='taskmaster-bench-floor-')
    floor = FloorServer(floor_dir)
    try:
        for _ in range(args.repeats):
            calls['python'].append(python_calls(args.python, args.calls_count, key))
            m = Master(args.bin, key)
            try:
                calls['ours'].append(python_calls(args.python, args.calls_count, key, server=m.address))
            finally:
                m.stop()
            if floor.proc:
                calls['floor'].append(python_calls(args.python, args.calls_count, key, floor=floor.address))
    finally:
        floor.stop()
        shutil.rmtree(floor_dir, ignore_errors=True)
    for name, runs_us in calls.items():
        if runs_us:
            results['python_call_us_%s' % name] = sorted(runs_us)[len(runs_us) // 2]
    row('One Python client\'s call, round trip', ' · '.join(
        '%.0f µs' % results['python_call_us_%s' % name] for name in ('python', 'ours', 'floor')
        if 'python_call_us_%s' % name in results),
        'Python\'s server · task-master · a server doing no work; %d calls, median of %d'
        % (2 * args.calls_count, args.repeats))
    if calls['floor']:
        results['python_call_vs_floor'] = results['python_call_us_ours'] / results['python_call_us_floor']
        target('3. a Python client\'s call / the do-nothing server', results['python_call_vs_floor'], 1.3)

    # (d) Memory: master resident set with 1,000,000 small tasks queued (no workers).
    m = Master(args.bin, key)
    try:
        before, _ = m.rss_mb()
        s = m.ctl('batch', '--count', '1000000', '--timeout', '1', '--json', '--quiet', allow_incomplete=True)
        queued = s['submitted']
        rss, peak = m.rss_mb()
        results['master_rss_mb_1m_queued'] = rss
        row('task-master RSS with %d tasks queued' % queued, '%.0f MB' % rss,
            'peak %.0f MB, idle %.0f MB' % (peak, before))
        targets.append(('2. RSS with %d tasks queued' % queued, rss, '≤ 200 MB', rss <= 200))
    finally:
        m.stop()

    # The targets of issue 12, each against its peer in this run.
    print()
    print('| %-58s | %10s | %-9s | %s' % ('target', 'this run', 'target', 'met'))
    print('|' + '-' * 60 + '|' + '-' * 12 + '|' + '-' * 11 + '|' + '-' * 5)
    for name, value, goal, met in targets:
        shown = '%.0f MB' % value if goal.endswith('MB') else '%.2f×' % value
        print('| %-58s | %10s | %-9s | %s' % (name, shown, goal, 'yes' if met else 'NO'))
    results['targets_met'] = sum(1 for t in targets if t[3])
    results['targets'] = len(targets)
    print()
    print('json: ' + json.dumps(results, sort_keys=True))


if __name__ == '__main__':
    main()
