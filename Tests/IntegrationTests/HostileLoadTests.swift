import Foundation
import TaskWire
import TestSupport
import Testing

/// Abuse from every side while a batch runs: it must still come out right, at no less than half
/// its unloaded speed. One of the serialized ``AbuseTests``: it compares two throughputs, and
/// among the parallel tests its unloaded batch (under a second) was once timed in a quiet
/// moment at five times the figure of the loaded one, timed in a busy one.
///
/// The attacker is a child process (plain Python sockets), so its thousand connections are
/// not file descriptors of the test process: Foundation's `Process.run()` reads the test
/// process's `/proc/self/fd` for every process the other tests launch, and crashed reading a
/// listing that long.
extension AbuseTests {
    /// Holds `idle` silent connections, and every 10-20 ms sends garbage instead of a
    /// handshake answer, a truncated frame, an announced 2 GiB frame; one slow client sends a
    /// byte a second. Prints READY once the idle connections are open; runs until killed, at
    /// most 300 s.
    static let hostileAttacker = #"""
        import socket, sys, threading, time
        port, idle = int(sys.argv[1]), int(sys.argv[2])
        stop = threading.Event()

        def connect():
            s = socket.create_connection(('127.0.0.1', port), timeout=2)
            return s

        held = [connect() for _ in range(idle)]
        print('READY', len(held), flush=True)

        def every(interval, body):
            def loop():
                n = 0
                while not stop.is_set():
                    try:
                        body(n)
                    except OSError:
                        pass
                    n += 1
                    time.sleep(interval)
            threading.Thread(target=loop, daemon=True).start()

        def read_challenge(s):
            try:
                s.recv(4096)
            except OSError:
                pass

        def garbage(n):
            with connect() as s:
                read_challenge(s)
                s.sendall(bytes((i * 31 + n) & 0xFF for i in range(64)))

        def truncated(n):
            with connect() as s:
                read_challenge(s)
                s.sendall(bytes([0, 0, 0, 100]) + bytes([7]) * 50)

        def huge(n):
            with connect() as s:
                read_challenge(s)
                s.sendall(bytes([0x7F, 0xFF, 0xFF, 0xFF]))

        slow = connect()
        every(0.01, garbage)
        every(0.01, truncated)
        every(0.02, huge)
        every(1.0, lambda n: slow.send(b'\x00'))
        deadline = time.time() + 300
        while not stop.is_set() and time.time() < deadline:
            time.sleep(0.1)
        print('DONE', flush=True)
        """#

    @Test func aBatchRunsRightAndAtLeastHalfAsFastUnderAbuse() async throws {
        let master = try await MasterProcess.start(arguments: [
            "--handshake-timeout", "60", "--max-connections", "2000", "--max-frame-bytes", "65536",
        ])
        let workers = try (1...2).map { try master.startWorker([], name: "worker \($0)") }
        let count = 20000
        // Warm up, then the unloaded figure.
        _ = try await master.ctl(["batch", "--count", "2000", "--json"])
        let quiet = try await master.ctl(["batch", "--count", "\(count)", "--json", "--quiet"])
        let unloaded = try BatchSummary(stdout: quiet.stdout)
        #expect(unloaded.completed == count)

        let python = try PythonInterpreter.require("3.13")
        let attack = try python.start(
            script: Self.hostileAttacker,
            arguments: ["\(master.port)", "1000"],
            name: "attacker"
        )
        defer { attack.kill9() }
        #expect(
            await attack.waitForLine(within: .seconds(60)) { $0.hasPrefix("READY 1000") } != nil,
            "\(attack.transcript)"
        )
        try await Task.sleep(for: .milliseconds(500))

        let loaded = try await master.ctl(["batch", "--count", "\(count)", "--json", "--quiet"])
        #expect(attack.isRunning, "the attack stopped early:\n\(attack.transcript)")
        attack.kill9()
        #expect(loaded.status == 0, "\(loaded.stderr)")
        let summary = try BatchSummary(stdout: loaded.stdout)
        print(
            "hostile load: \(Int(summary.tasks_per_second)) tasks/s under abuse, \(Int(unloaded.tasks_per_second)) unloaded"
        )
        #expect(summary.completed == count && summary.wrong == 0 && summary.missing == 0 && summary.duplicates == 0)
        #expect(
            summary.tasks_per_second >= unloaded.tasks_per_second / 2,
            "under abuse \(summary.tasks_per_second) tasks/s, unloaded \(unloaded.tasks_per_second)"
        )
        #expect(master.process.isRunning)
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { await worker.waitForExit(within: .seconds(20)) }
        await master.stop()
    }
}
