/// Python programs the interop tests run, unmodified multiprocessing.managers clients and servers.
enum PythonScripts {
    /// Common header: a BaseManager subclass with the classic typeids, the key from TASK_AUTHKEY,
    /// and the address from argv[1] ("host:port").
    static let header = #"""
        import json, os, queue, sys, threading, time
        import multiprocessing
        from multiprocessing.managers import BaseManager

        class QueueManager(BaseManager):
            pass

        QueueManager.register('get_task_queue')
        QueueManager.register('get_result_queue')
        KEY = os.environ['TASK_AUTHKEY'].encode()

        def connect(address=None, key=KEY):
            host, port = (address or sys.argv[1]).rsplit(':', 1)
            m = QueueManager(address=(host, int(port)), authkey=key)
            m.connect()
            return m

        """#

    /// The classic worker: get(timeout=1) in a loop, square, put '%d * %d = %d', catch
    /// queue.Empty; stops after argv[2] empty gets in a row. Prints DONE <count>.
    static let classicWorker =
        header + #"""
            m = connect()
            task = m.get_task_queue()
            result = m.get_result_queue()
            empty = done = 0
            while empty < int(sys.argv[2]):
                try:
                    n = task.get(timeout=1)
                except queue.Empty:
                    empty += 1
                    continue
                empty = 0
                result.put('%d * %d = %d' % (n, n, n * n))
                done += 1
            print('DONE', done, flush=True)
            """#

    /// A producer: puts the numbers in argv[2] (JSON), then get(timeout=10) as many results.
    static let producer =
        header + #"""
            m = connect()
            task = m.get_task_queue()
            result = m.get_result_queue()
            numbers = json.loads(sys.argv[2])
            for n in numbers:
                task.put(n)
            results = [result.get(timeout=10) for _ in numbers]
            print('RESULTS', json.dumps(results), flush=True)
            """#

    /// The classic task master: Python's own BaseManager server with two queue.Queue, puts
    /// tasks, waits for the results, prints them, shuts down.
    static let classicMaster = #"""
        import json, os, queue, sys
        from multiprocessing.managers import BaseManager

        task_queue = queue.Queue()
        result_queue = queue.Queue()

        class QueueManager(BaseManager):
            pass

        QueueManager.register('get_task_queue', callable=lambda: task_queue)
        QueueManager.register('get_result_queue', callable=lambda: result_queue)
        m = QueueManager(address=('127.0.0.1', 0), authkey=os.environ['TASK_AUTHKEY'].encode())
        m.start()
        task = m.get_task_queue()
        result = m.get_result_queue()
        tasks = [7, 300, 2**70, -12] + list(range(20)) + ['not a number']
        for n in tasks:
            task.put(n)
        print('READY', m.address[1], flush=True)
        got = [result.get(timeout=60) for _ in tasks]
        print('RESULTS', json.dumps(got), flush=True)
        m.shutdown()
        """#

    /// A client with the wrong key: prints AUTH <error> when Python raises AuthenticationError.
    static let wrongKey =
        header + #"""
            try:
                connect(key=b'definitely-not-the-key')
                print('CONNECTED', flush=True)
            except multiprocessing.AuthenticationError as e:
                print('AUTH', e, flush=True)
            """#

    /// Queue semantics seen from Python: blocking get on another thread, Full, sizes,
    /// task_done/join, unknown typeids, refused shutdown. Prints one line per check.
    static let semantics =
        header + #"""
            from multiprocessing.managers import RemoteError, dispatch
            from multiprocessing.connection import Client

            QueueManager.register('get_small_queue')
            QueueManager.register('get_nonsense')
            m = connect()
            small = m.get_small_queue()

            # A get(timeout=10) on a second thread is woken by a put from this one.
            got = {}
            def getter():
                mm = connect()
                start = time.time()
                got['value'] = mm.get_small_queue().get(timeout=10)
                got['seconds'] = time.time() - start
            t = threading.Thread(target=getter)
            t.start()
            time.sleep(0.5)
            small.put('hello')
            t.join(15)
            print('BLOCKING_GET', got.get('value'), round(got.get('seconds', 99), 1), flush=True)

            # maxsize 2 (the master runs with --default-maxsize 2)
            small.put_nowait(1)
            small.put_nowait(2)
            print('SIZES', small.qsize(), small.empty(), small.full(), flush=True)
            try:
                small.put_nowait(3)
                print('FULL none', flush=True)
            except queue.Full:
                print('FULL raised', flush=True)
            try:
                small.put(3, timeout=0.2)
                print('FULL_TIMEOUT none', flush=True)
            except queue.Full:
                print('FULL_TIMEOUT raised', flush=True)
            print('GET_NOWAIT', small.get_nowait(), small.get_nowait(), flush=True)
            try:
                small.get_nowait()
            except queue.Empty:
                print('EMPTY raised', flush=True)
            try:
                small.get(timeout=-1)
            except ValueError as e:
                print('NEGATIVE', e, flush=True)

            # task_done / join: 3 puts above and 3 gets; mark them done.
            for _ in range(3):
                small.task_done()
            small.join()
            print('JOINED', flush=True)
            try:
                small.task_done()
            except ValueError as e:
                print('TASK_DONE', e, flush=True)

            # An unknown typeid fails as it would against Python's own server.
            try:
                m.get_nonsense()
                print('NONSENSE created', flush=True)
            except RemoteError as e:
                print('NONSENSE', 'KeyError' in str(e), flush=True)

            # A remote shutdown is refused unless the operator enabled it.
            host, port = sys.argv[1].rsplit(':', 1)
            conn = Client((host, int(port)), authkey=KEY)
            try:
                dispatch(conn, None, 'shutdown')
                print('SHUTDOWN accepted', flush=True)
            except RemoteError as e:
                print('SHUTDOWN refused', 'allow-remote-shutdown' in str(e), flush=True)
            """#

    /// Puts (argv[2] == "put") or gets and checks (argv[2] == "get") values of many kinds,
    /// user objects included, on the `task` queue: a value put by one Python client must come
    /// out unchanged for another.
    static let objects =
        header + #"""
            import collections, datetime, decimal, fractions

            class Point:
                def __init__(self, x, y):
                    self.x, self.y = x, y
                def __eq__(self, other):
                    return type(other) is Point and (self.x, self.y) == (other.x, other.y)

            def values():
                shared = [1, 2]
                return [Point(1, [2, 3]), {'a': {1, 2}, 'b': (shared, shared)}, 2**200, -0.0, 'ünïcødé', b'\x00\xff',
                        datetime.datetime(2026, 11, 29, 4, 5, 6), decimal.Decimal('3.14'), fractions.Fraction(1, 3),
                        collections.OrderedDict(z=1, a=2), None]

            m = connect()
            task = m.get_task_queue()
            if sys.argv[2] == 'put':
                for v in values():
                    task.put(v)
                print('PUT', len(values()), flush=True)
            else:
                ok = 0
                for expected in values():
                    got = task.get(timeout=10)
                    same = got == expected or (isinstance(got, float) and str(got) == str(expected))
                    if isinstance(got, dict) and 'b' in got:
                        same = same and got['b'][0] is got['b'][1]      # shared references stay shared
                    ok += bool(same)
                    if not same:
                        print('DIFFERS', repr(expected), repr(got), flush=True)
                print('SAME', ok, len(values()), flush=True)
            """#

    /// Blocks in get(timeout=30) until it is killed.
    static let blockedGetter =
        header + #"""
            m = connect()
            task = m.get_task_queue()
            print('WAITING', flush=True)
            print('GOT', task.get(timeout=30), flush=True)
            """#
}
