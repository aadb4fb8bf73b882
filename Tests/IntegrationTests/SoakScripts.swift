/// The Python programs of the soak (`AbuseTests.soak`). Each takes the master's address as
/// argv[1] and stops by itself at the soak's end (argv[2], seconds since the epoch), so that a
/// copy restarted after a kill ends with the others.
enum SoakScripts {
    /// The classic master's half, as a client: puts blocks of numbers from argv[3] on `task`
    /// (printing `PUT first end` once a block is in) and takes results off `result` (printing
    /// `R <result>` for each), keeping about two blocks in flight; after the end it takes
    /// results until none came for 3 s, and prints DONE.
    static let producer =
        PythonScripts.header + #"""
            end, n, block = float(sys.argv[2]), int(sys.argv[3]), 200
            m = connect()
            task, result = m.get_task_queue(), m.get_result_queue()
            outstanding = 0
            while time.time() < end:
                if outstanding < 2 * block:
                    for x in range(n, n + block):
                        task.put(x)
                    print('PUT', n, n + block, flush=True)
                    n += block
                    outstanding += block
                try:
                    print('R', result.get(timeout=0.5), flush=True)
                    outstanding -= 1
                except queue.Empty:
                    pass
            empty = 0
            while empty < 6:
                try:
                    print('R', result.get(timeout=0.5), flush=True)
                    empty = 0
                except queue.Empty:
                    empty += 1
            print('DONE', flush=True)
            """#

    /// argv[3] threads, each with a connection of its own and a queue of its own
    /// (`c<argv[4]>x<thread>`): put a number, get it back, check it is the same, pause
    /// 0.2–1.5 s; until the end. Prints DONE with the counts as JSON.
    static let crowd =
        PythonScripts.header + #"""
            import random
            end, threads, tag = float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
            for t in range(threads):
                QueueManager.register('get_c%sx%d_queue' % (tag, t))
            m = connect()
            lock = threading.Lock()
            counts = {'ok': 0, 'wrong': 0, 'errors': 0}
            errors = []

            def run(t):
                try:
                    q = getattr(m, 'get_c%sx%d_queue' % (tag, t))()
                    k = 0
                    while time.time() < end:
                        q.put(k)
                        got = q.get(timeout=20)
                        with lock:
                            counts['ok' if got == k else 'wrong'] += 1
                        k += 1
                        time.sleep(random.uniform(0.2, 1.5))
                except Exception as e:
                    with lock:
                        counts['errors'] += 1
                        errors.append(repr(e)[:200])

            pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            print('DONE', json.dumps(dict(counts, first_errors=errors[:3])), flush=True)
            """#

    /// Puts 256 KiB strings on `bulk` while it holds fewer than argv[3] (argv[4] == 'put'), or
    /// takes them off at about 25 a second (argv[4] == 'get'); until the end.
    static let bulk =
        PythonScripts.header + #"""
            QueueManager.register('get_bulk_queue')
            end, most, role = float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
            m = connect()
            q = m.get_bulk_queue()
            value = 'b' * (256 * 1024)
            moved = 0
            while time.time() < end:
                if role == 'put':
                    if q.qsize() < most:
                        q.put(value, timeout=5)
                        moved += 1
                    else:
                        time.sleep(0.02)
                else:
                    try:
                        q.get(timeout=0.5)
                        moved += 1
                    except queue.Empty:
                        pass
                    time.sleep(0.04)
            print('DONE', moved, flush=True)
            """#

    /// Hostile connections until the end: six silent ones (opened again 0.5 s after the
    /// master closes one), garbage instead of a handshake answer every 0.5 s, a truncated
    /// frame every second, a 1 byte/s client, and a wrong key every 2 s from 127.0.3.1.
    static let hostile = #"""
        import socket, struct, sys, threading, time
        host, port = sys.argv[1].rsplit(':', 1)
        port, end = int(port), float(sys.argv[2])

        def connect(source=None):
            s = socket.socket()
            if source:
                s.bind((source, 0))
            s.settimeout(10)
            s.connect(('127.0.0.1', port))
            return s

        def read_some(s):
            try:
                return s.recv(4096)
            except OSError:
                return b''

        def every(interval, body):
            def loop():
                n = 0
                while time.time() < end:
                    try:
                        body(n)
                    except OSError:
                        pass
                    n += 1
                    time.sleep(interval)
            t = threading.Thread(target=loop)
            t.start()
            return t

        def silent(n):
            with connect() as s:
                while read_some(s) and time.time() < end:
                    pass

        def garbage(n):
            with connect() as s:
                read_some(s)
                s.sendall(bytes((i * 37 + n) & 0xFF for i in range(64)))
                read_some(s)

        def truncated(n):
            with connect() as s:
                read_some(s)
                s.sendall(struct.pack('!i', 100) + b'\x07' * 40)

        def slow(n):
            with connect() as s:
                read_some(s)
                for _ in range(30):
                    if time.time() >= end:
                        break
                    s.send(b'\x00')
                    time.sleep(1)

        def wrong_key(n):
            with connect('127.0.3.1') as s:
                read_some(s)
                s.sendall(struct.pack('!i', 40) + b'{sha256}' + b'\x01' * 32)
                read_some(s)

        threads = [every(0.5, silent) for _ in range(6)]
        threads += [every(0.5, garbage), every(1, truncated), every(0.1, slow), every(2, wrong_key)]
        for t in threads:
            t.join()
        print('DONE', flush=True)
        """#
}
