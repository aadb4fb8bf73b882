#!/usr/bin/env python3
"""The classic Python distributed-process pair, as a benchmark peer.

  python_manager_batch.py master --count N [--port P]   BaseManager serving task/result queues
                                                        (queue.Queue); starts, puts N numbers,
                                                        reads N results, checks them, prints
                                                        one JSON line, shuts down.
  python_manager_batch.py master --count N --connect HOST:PORT
                                                        the same, against a server that is
                                                        already running (e.g. task-master)
  python_manager_batch.py worker --port P [--host H]   the classic worker: get(timeout=1),
                                                        square, put '%d * %d = %d'; exits when
                                                        the task queue stays empty.
  python_manager_batch.py latency --count N [--connect HOST:PORT]
                                                        one task at a time: put n, wait for its
                                                        result, N times (after a warm-up); the
                                                        workers are started by the driver after
                                                        READY; prints p50/p99 of the round trip
  python_manager_batch.py calls --count N [--connect HOST:PORT | --floor HOST:PORT]
                                                        one client alone: N puts then N gets on
                                                        the task queue, one call at a time, on
                                                        Python's own server, a running one, or
                                                        floor_server (which does no work);
                                                        prints the mean round trip per call

Loopback only. Authkey from TASK_AUTHKEY.
"""
import argparse
import json
import os
import queue
import sys
import time
from multiprocessing.connection import Client
from multiprocessing.managers import BaseManager

task_queue = queue.Queue()
result_queue = queue.Queue()


class QueueManager(BaseManager):
    pass


class FloorQueue:
    """The calls of a queue proxy, to floor_server: a server that does no work.

    Sends exactly what an AutoProxy sends (`_callmethod`: `(ident, method, args, kwds)` on its
    own connection, then reads the reply). floor_server answers None to everything, so `get`
    returns a made-up item, as the real queue would hold one."""

    def __init__(self, address):
        host, port = address.rsplit(':', 1)
        self.conn = Client((host, int(port)))
        self.ident = '7f0000000010'

    def _call(self, method, args, kwds):
        self.conn.send((self.ident, method, args, kwds))
        kind, _ = self.conn.recv()
        assert kind == '#RETURN', kind

    def put(self, *args, **kwds):
        self._call('put', args, kwds)

    def get(self, *args, **kwds):
        self._call('get', args, kwds)
        return 1


def manager(args):
    """The classic master's BaseManager: its own server, started here, or a running one."""
    if args.connect:
        host, port = args.connect.rsplit(':', 1)
        QueueManager.register('get_task_queue')
        QueueManager.register('get_result_queue')
        m = QueueManager(address=(host, int(port)), authkey=os.environ['TASK_AUTHKEY'].encode())
        m.connect()
    else:
        QueueManager.register('get_task_queue', callable=lambda: task_queue)
        QueueManager.register('get_result_queue', callable=lambda: result_queue)
        m = QueueManager(address=('127.0.0.1', args.port), authkey=os.environ['TASK_AUTHKEY'].encode())
        m.start()
    return m


def master(args):
    m = manager(args)
    task, result = m.get_task_queue(), m.get_result_queue()
    print('READY', m.address[1], flush=True)
    sys.stdin.readline()                      # the driver starts the workers, then says go
    start = time.perf_counter()
    for n in range(1, args.count + 1):
        task.put(n)
    puts_done = time.perf_counter()
    wrong = 0
    got = 0
    try:
        for _ in range(args.count):
            r = result.get(timeout=30)
            a, _, b, _, c = r.split(' ')
            if int(a) * int(b) != int(c):
                wrong += 1
            got += 1
    except queue.Empty:
        pass
    end = time.perf_counter()
    seconds = end - start
    print(json.dumps({'submitted': args.count, 'completed': got - wrong, 'wrong': wrong,
                      'missing': args.count - got, 'seconds': seconds, 'result_get_seconds': end - puts_done,
                      'tasks_per_second': got / seconds}), flush=True)
    if not args.connect:
        m.shutdown()


def worker(args):
    QueueManager.register('get_task_queue')
    QueueManager.register('get_result_queue')
    m = QueueManager(address=(args.host, args.port), authkey=os.environ['TASK_AUTHKEY'].encode())
    m.connect()
    task, result = m.get_task_queue(), m.get_result_queue()
    idle = 0
    while idle < args.idle:
        try:
            n = task.get(timeout=1)
        except queue.Empty:
            idle += 1
            continue
        idle = 0
        result.put('%d * %d = %d' % (n, n, n * n))


def check(n, r):
    """True when `r` is n's square: the classic worker's 'n * n = sq' string, or a number."""
    if isinstance(r, str):
        a, _, b, _, c = r.split(' ')
        return int(a) == n and int(a) * int(b) == int(c)
    return r == n * n


def latency(args):
    """One task at a time, as a user typing at a prompt would send them: put a number, wait for
    its result, and only then put the next. Reports the round trip's percentiles."""
    m = manager(args)
    task, result = m.get_task_queue(), m.get_result_queue()
    print('READY', m.address[1], flush=True)
    sys.stdin.readline()                      # the driver starts the worker, then says go
    warmup = min(200, args.count)
    rounds = []
    wrong = 0
    for n in range(1, warmup + args.count + 1):
        start = time.perf_counter_ns()
        task.put(n)
        r = result.get(timeout=10)
        elapsed = time.perf_counter_ns() - start
        if not check(n, r):
            wrong += 1
        if n > warmup:
            rounds.append(elapsed / 1000)
    rounds.sort()
    pick = lambda q: rounds[min(len(rounds) - 1, int(q * len(rounds)))]
    print(json.dumps({'count': len(rounds), 'wrong': wrong, 'p50_us': pick(0.50), 'p99_us': pick(0.99),
                      'mean_us': sum(rounds) / len(rounds)}), flush=True)
    if not args.connect:
        m.shutdown()


def calls(args):
    m = None
    if args.floor:
        task = FloorQueue(args.floor)
    else:
        m = manager(args)
        task = m.get_task_queue()
    start = time.perf_counter()
    for n in range(1, args.count + 1):
        task.put(n)
    for _ in range(args.count):
        task.get(timeout=1)
    seconds = time.perf_counter() - start
    print(json.dumps({'calls': 2 * args.count, 'us_per_call': seconds / (2 * args.count) * 1e6}), flush=True)
    if m is not None and not args.connect:
        m.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('role', choices=['master', 'worker', 'latency', 'calls'])
    ap.add_argument('--count', type=int, default=10000)
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--connect', help='master, calls: use this running server instead of starting one')
    ap.add_argument('--floor', help='calls: make them to floor_server at HOST:PORT')
    ap.add_argument('--idle', type=int, default=3, help='worker: exit after this many empty 1 s gets')
    args = ap.parse_args()
    {'master': master, 'worker': worker, 'latency': latency, 'calls': calls}[args.role](args)


if __name__ == '__main__':
    main()
