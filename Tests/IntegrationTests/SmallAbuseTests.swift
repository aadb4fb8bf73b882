import Foundation
import TestSupport
import Testing

extension AbuseTests {
    /// A Python client that calls the server function `create` for argv[2] new typeids
    /// (`get_obj<i>_queue`), on four threads, one connection each as Python does, keeping
    /// every object; then reads `debug_info` and `number_of_objects`, `decref`s every object
    /// it got, and creates one more. It reads the master's resident memory (pid argv[3]) when
    /// the first create is refused and at the end. One JSON line.
    ///
    /// Its connections are Python's own (`Connection`, `answer_challenge`, `deliver_challenge`,
    /// as `Client` makes them) with Nagle's algorithm off: with it on, each call on a fresh
    /// connection waits some 40 ms for a delayed acknowledgement (against Python's own
    /// manager server too), and 100,000 calls would take over an hour.
    static let objectCreator =
        PythonScripts.header + #"""
            import socket
            from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
            from multiprocessing.managers import RemoteError, dispatch
            host, port = sys.argv[1].rsplit(':', 1)
            address = (host, int(port))
            count, master = int(sys.argv[2]), sys.argv[3]

            def rss():
                with open('/proc/%s/status' % master) as f:
                    return next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmRSS:'))

            def call(name, *args):
                s = socket.create_connection(address)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn = Connection(s.detach())
                try:
                    answer_challenge(conn, KEY)
                    deliver_challenge(conn, KEY)
                    return dispatch(conn, None, name, args)
                finally:
                    conn.close()

            lock = threading.Lock()
            idents, other = [], []
            state = {'refused': 0, 'rss_at_limit': 0}

            def create(first):
                for i in range(first, count, 4):
                    try:
                        ident, exposed = call('create', 'get_obj%d_queue' % i)
                        with lock:
                            idents.append(ident)
                    except RemoteError as e:
                        with lock:
                            if 'too many Python objects' in str(e):
                                state['refused'] += 1
                                if not state['rss_at_limit']:
                                    state['rss_at_limit'] = rss()
                            else:
                                other.append(str(e)[-200:])

            start = time.monotonic()
            threads = [threading.Thread(target=create, args=(t,)) for t in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.monotonic() - start
            rss_at_end = rss()
            info = call('debug_info')
            objects = call('number_of_objects')
            for ident in idents:
                call('decref', ident)
            after = call('number_of_objects')
            again, _ = call('create', 'get_after_queue')
            print(json.dumps({'created': len(idents), 'refused': state['refused'], 'other': other[:3],
                              'seconds': seconds, 'debug_info_bytes': len(info), 'objects': objects,
                              'objects_after_decref': after, 'created_after': bool(again),
                              'rss_at_limit': state['rss_at_limit'], 'rss_at_end': rss_at_end}), flush=True)
            """#

    struct ObjectCreation: Decodable {
        var created: Int
        var refused: Int
        var other: [String]
        var seconds: Double
        var debug_info_bytes: Int
        var objects: Int
        var objects_after_decref: Int
        var created_after: Bool
        var rss_at_limit: Int
        var rss_at_end: Int
    }

    /// Creates for new typeids, far past the object limit (`max_queues`, here 2,000), one
    /// connection each: the object table stops at the limit (refusals say so), memory stops
    /// growing with it, `debug_info` stays bounded, refusals are logged a few times, not once
    /// each, and `decref` frees the table. TASK_TEST_PYTHON_CREATES sets how many (default
    /// 16,000, some 25 s: the issue's 100,000 take six times as long).
    @Test func pythonCreatesForNewTypeidsStopAtTheObjectLimitAndDecrefFreesThem() async throws {
        let python = try PythonInterpreter.require("3.13")
        let count = Int(ProcessInfo.processInfo.environment["TASK_TEST_PYTHON_CREATES"] ?? "") ?? 16_000
        let limit = 2_000
        try await MasterProcess.with(
            arguments: ["--log-format", "json"],
            environment: ["TASK_MASTER_MAX_QUEUES": "\(limit)"]
        ) { master in
            let baseline = try #require(master.gauge.residentBytes)
            let run = try await python.run(
                script: Self.objectCreator,
                arguments: [master.address, "\(count)", "\(master.process.processIdentifier)"],
                environment: master.clientEnvironment,
                timeout: .seconds(300)
            )
            guard run.status == 0, let line = run.stdoutLines.last else {
                throw TestFailure("python failed (\(run.status)):\n\(run.stdoutText)\n\(run.stderrText)")
            }
            let outcome = try JSONDecoder().decode(ObjectCreation.self, from: Data(line.utf8))
            print(
                "python objects: \(outcome.created) created, \(outcome.refused) refused of \(count)"
                    + " in \(String(format: "%.1f", outcome.seconds)) s (\(Int(Double(count) / outcome.seconds))/s);"
                    + " RSS \(megabytes(baseline)) before, \(megabytes(outcome.rss_at_limit)) at the limit,"
                    + " \(megabytes(outcome.rss_at_end)) at the end; debug_info \(outcome.debug_info_bytes) bytes"
            )
            #expect(outcome.created == limit && outcome.refused == count - limit, "\(outcome.other)")
            #expect(outcome.objects == limit)
            #expect(outcome.debug_info_bytes < limit * 100)
            #expect(outcome.objects_after_decref == 0 && outcome.created_after)
            // Past the limit a create costs nothing that stays.
            #expect(
                outcome.rss_at_end <= outcome.rss_at_limit + 8_000_000,
                "RSS grew from \(megabytes(outcome.rss_at_limit)) to \(megabytes(outcome.rss_at_end)) past the limit"
            )
            let refusals = master.logEvents.filter { ($0["message"] as? String)?.contains("Python create") == true }
            #expect(refusals.count <= 10, "\(refusals.count) log lines about refused creates")
        }
    }

    /// 200 connections at once from 127.0.2.1, each answering its challenge with a wrong key
    /// and opening again, for argv[2] seconds. Counts the challenges answered (keys guessed),
    /// per second. One JSON line at the end.
    static let keyGuesser = #"""
        import json, socket, struct, sys, threading, time
        port, seconds, parallel = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
        start = time.time()
        lock = threading.Lock()
        guesses = []          # seconds since start of each guess

        def read_frame(s):
            head = b''
            while len(head) < 4:
                chunk = s.recv(4 - len(head))
                if not chunk:
                    return None
                head += chunk
            n = struct.unpack('!i', head)[0]
            body = b''
            while len(body) < n:
                chunk = s.recv(n - len(body))
                if not chunk:
                    return None
                body += chunk
            return body

        def attack():
            while time.time() - start < seconds:
                try:
                    s = socket.socket()
                    s.bind(('127.0.2.1', 0))
                    s.settimeout(10)
                    s.connect(('127.0.0.1', port))
                    challenge = read_frame(s)
                    if challenge and challenge.startswith(b'#CHALLENGE#'):
                        s.sendall(struct.pack('!i', 40) + b'{sha256}' + b'\0' * 32)
                        with lock:
                            guesses.append(time.time() - start)
                        read_frame(s)
                    s.close()
                except OSError:
                    time.sleep(0.01)

        threads = [threading.Thread(target=attack, daemon=True) for _ in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 15)
        print(json.dumps({'guesses': sorted(guesses)}), flush=True)
        """#

    /// Failed handshakes slow their address down, and only theirs: 200 parallel wrong-key
    /// connections from one address guess a few keys at first, then about one per penalty
    /// (3 s at most), while clients with the key from another address connect at full speed.
    @Test func wrongKeysFromOneAddressAreSlowedDownAndOtherAddressesAreNot() async throws {
        let python = try PythonInterpreter.require("3.13")
        try await MasterProcess.with(arguments: ["--log-format", "json"]) { master in
            let seconds = 15.0
            let guesser = try python.start(
                script: Self.keyGuesser,
                arguments: ["\(master.port)", "\(seconds)", "200"],
                name: "guesser"
            )
            defer { guesser.kill9() }
            try await Task.sleep(for: .seconds(2))
            var pings: [Double] = []
            while pings.count < 20 {
                let start = ContinuousClock.now
                let ping = try await master.ctl(["ping"], within: .seconds(20))
                #expect(ping.status == 0, "\(ping.stderr)")
                pings.append((ContinuousClock.now - start).seconds)
                try await Task.sleep(for: .milliseconds(200))
            }
            guard let line = await guesser.waitForLine(within: .seconds(seconds + 30), where: { $0.hasPrefix("{") })
            else { throw TestFailure("the guesser did not finish:\n\(guesser.transcript)") }
            let guesses = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [Double]]
            )["guesses"]!
            let late = guesses.filter { $0 >= 5 }
            print(
                "key guessing: \(guesses.count) guesses by 200 parallel connections in \(Int(seconds)) s,"
                    + " \(late.count) after the first 5 s (at \(late.prefix(10).map { String(format: "%.1f", $0) }));"
                    + " pings from another address: slowest \(String(format: "%.2f", pings.max()!)) s"
            )
            // The first failures are free, each later one costs its address the penalty,
            // doubling up to 3 s: past the first 5 s at most one guess per 3 s.
            #expect(guesses.count <= 32 + 10 + Int(seconds / 3), "\(guesses.count) guesses")
            #expect(late.count <= Int((seconds - 5) / 3) + 1, "\(late.count) guesses after 5 s: \(late.prefix(10))")
            #expect(pings.max()! < 2, "a client with the key from another address waited \(pings.max()!) s")
            let warnings = master.logMessages(level: "warning").filter { $0.contains("authentication failed") }
            #expect(warnings.count <= Int(seconds / 10) + 2, "\(warnings.count) warnings")
        }
    }

    /// Opens argv[2] connections to the admin port argv[1]: half send nothing, half ask for
    /// /api/stats once and keep the connection. Then fetches the status page and /api/stats
    /// as a new client, timing them; then waits argv[3] seconds and counts how many of the
    /// held connections the endpoint closed. One JSON line.
    static let idleAdminClients = #"""
        import json, socket, sys, time, urllib.request
        port, count, wait = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
        held = []
        for i in range(count):
            s = socket.create_connection(('127.0.0.1', port), timeout=10)
            if i % 2:
                s.sendall(b'GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n')
                s.recv(65536)
            held.append(s)
        time.sleep(0.2)
        times = []
        for path in ['/', '/api/stats', '/metrics']:
            start = time.time()
            with urllib.request.urlopen('http://127.0.0.1:%d%s' % (port, path), timeout=10) as r:
                ok = r.status == 200 and len(r.read()) > 0
            times.append({'path': path, 'ok': ok, 'seconds': time.time() - start})
        time.sleep(wait)
        closed = 0
        for s in held:
            s.settimeout(0.5)
            try:
                closed += s.recv(65536) == b''
            except socket.timeout:
                pass
            except OSError:
                closed += 1
        print(json.dumps({'fetches': times, 'closed': closed}), flush=True)
        """#

    /// 70 idle admin connections (the endpoint serves 64 at once) don't keep a new client
    /// out: the status page, /api/stats and /metrics answer at once; the idle ones are closed
    /// after 5 s.
    @Test func idleAdminConnectionsDoNotKeepTheStatusPageOut() async throws {
        let python = try PythonInterpreter.require("3.13")
        try await MasterProcess.with(arguments: ["--admin-port", "0"]) { master in
            let admin = try await master.adminPort()
            let run = try await python.run(
                script: Self.idleAdminClients,
                arguments: ["\(admin)", "70", "6"],
                timeout: .seconds(60)
            )
            guard run.status == 0, let line = run.stdoutLines.last else {
                throw TestFailure("python failed (\(run.status)):\n\(run.stdoutText)\n\(run.stderrText)")
            }
            struct Outcome: Decodable {
                struct Fetch: Decodable {
                    var path: String
                    var ok: Bool
                    var seconds: Double
                }
                var fetches: [Fetch]
                var closed: Int
            }
            let outcome = try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
            print(
                "admin: with 70 idle connections \(outcome.fetches.map { "\($0.path) \(String(format: "%.0f", $0.seconds * 1000)) ms" });"
                    + " \(outcome.closed) of 70 closed 6 s later"
            )
            for fetch in outcome.fetches {
                #expect(fetch.ok && fetch.seconds < 1, "\(fetch)")
            }
            #expect(outcome.closed == 70)
        }
    }
}
