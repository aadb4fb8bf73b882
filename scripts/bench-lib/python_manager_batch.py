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

Loopback only. Authkey from TASK_AUTHKEY.
"""
import argparse
import json
import os
import queue
import sys
import time
from multiprocessing.managers import BaseManager

task_queue = queue.Queue()
result_queue = queue.Queue()


class QueueManager(BaseManager):
    pass


def master(args):
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
    task, result = m.get_task_queue(), m.get_result_queue()
    print('READY', m.address[1], flush=True)
    sys.stdin.readline()                      # the driver starts the workers, then says go
    start = time.perf_counter()
    for n in range(1, args.count + 1):
        task.put(n)
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
    seconds = time.perf_counter() - start
    print(json.dumps({'submitted': args.count, 'completed': got - wrong, 'wrong': wrong,
                      'missing': args.count - got, 'seconds': seconds,
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('role', choices=['master', 'worker'])
    ap.add_argument('--count', type=int, default=10000)
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--connect', help='master: use this running server instead of starting one')
    ap.add_argument('--idle', type=int, default=3, help='worker: exit after this many empty 1 s gets')
    args = ap.parse_args()
    master(args) if args.role == 'master' else worker(args)


if __name__ == '__main__':
    main()
