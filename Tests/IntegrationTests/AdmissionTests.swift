import Foundation
import TestSupport
import Testing

extension AbuseTests {
    /// Holds argv[2] silent connections to 127.0.0.1:argv[1] (never a byte sent), from the
    /// loopback addresses listed in argv[3] in turn, and opens a new one whenever the master
    /// closes one, for argv[4] seconds. Prints READY once all are open (or tried), then a
    /// line every second, then DONE with the totals as JSON.
    static let silentAttacker = #"""
        import errno, json, selectors, socket, sys, time
        port, count, sources, seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(','), float(sys.argv[4])
        sel = selectors.DefaultSelector()
        stats = {'opened': 0, 'closed_by_master': 0, 'connect_errors': 0}

        def open_one(slot):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((sources[slot % len(sources)], 0))
            s.setblocking(False)
            err = s.connect_ex(('127.0.0.1', port))
            if err not in (0, errno.EINPROGRESS):
                stats['connect_errors'] += 1
                s.close()
                return False
            sel.register(s, selectors.EVENT_READ, slot)
            stats['opened'] += 1
            return True

        pending = []
        for slot in range(count):
            if not open_one(slot):
                pending.append(slot)
        print('READY', stats['opened'], flush=True)
        end = time.time() + seconds
        last = time.time()
        while time.time() < end:
            for key, _ in sel.select(timeout=0.05):
                s, slot = key.fileobj, key.data
                try:
                    data = s.recv(4096)        # the challenge: read, never answered
                except OSError:
                    data = b''
                if not data:
                    sel.unregister(s)
                    s.close()
                    stats['closed_by_master'] += 1
                    if not open_one(slot):
                        pending.append(slot)
            retry, pending = pending, []
            for slot in retry:
                if not open_one(slot):
                    pending.append(slot)
            if time.time() - last >= 1:
                last = time.time()
                print('STATS', json.dumps(stats), flush=True)
        print('DONE', json.dumps(stats), flush=True)
        """#

    /// Issue reproduction 3: a lock-out before authentication. 2,000 silent connections from
    /// 64 loopback addresses, each opened again as soon as the master closes it, while 40
    /// `task-ctl ping`s (from 127.0.0.1, four at a time) connect and ping.
    @Test func silentConnectionsReopenedAtOnceDoNotLockOutClientsWithTheKey() async throws {
        let python = try PythonInterpreter.require("3.13")
        try await MasterProcess.with(arguments: ["--log-format", "json"]) { master in
            let sources = (1...64).map { "127.0.1.\($0)" }.joined(separator: ",")
            let attacker = try python.start(
                script: Self.silentAttacker,
                arguments: ["\(master.port)", "2000", sources, "60"],
                name: "attacker"
            )
            defer { attacker.kill9() }
            #expect(await attacker.waitForLine(within: .seconds(30)) { $0.hasPrefix("READY") } != nil)
            try await Task.sleep(for: .seconds(1))

            let started = ContinuousClock.now
            var outcomes: [(round: Int, status: Int32, seconds: Double, stderr: [String])] = []
            for round in 0..<10 {
                let pings = try (0..<4).map { _ in
                    (
                        try ManagedProcess(Binaries.ctl, ["ping"], environment: master.clientEnvironment, name: "ping"),
                        ContinuousClock.now
                    )
                }
                for (ping, start) in pings {
                    defer { ping.kill9() }
                    let status = await ping.waitForExit(within: .seconds(20)) ?? -1
                    outcomes.append((round, status, (ContinuousClock.now - start).seconds, ping.stderrLines))
                }
            }
            let attackSeconds = (ContinuousClock.now - started).seconds
            let attackerStats = attacker.stdoutLines.last { $0.hasPrefix("STATS") } ?? "none"
            attacker.kill9()
            let failed = outcomes.filter { $0.status != 0 }
            let times = outcomes.map(\.seconds).sorted()
            print(
                "lock-out: \(outcomes.count - failed.count) of \(outcomes.count) pings succeeded in \(String(format: "%.1f", attackSeconds)) s;"
                    + " slowest \(String(format: "%.2f", times.last ?? 0)) s, median \(String(format: "%.2f", times[times.count / 2])) s;"
                    + " failed in rounds \(failed.map(\.round)); attacker \(attackerStats)"
            )
            // Each ping waits its turn in the accept queue behind the storm (about a second),
            // then has its handshake. The storm turns the table of handshakes over every 90 to
            // 150 ms (256 slots at 1,700 to 3,000 connections a second), and on this 2-core
            // machine, shared with the attacker, a first client from an address does not always
            // finish its two round trips in that time: of the first round, 0 to 3 of 4 have
            // been closed to make room (the client sees a reset). Once a client from 127.0.0.1
            // has passed its handshake the address is trusted: its handshakes make room last
            // and keep their full timeout, and every later ping gets in (one run in about
            // fifteen lost three pings of one round to a stall of the machine before trusted
            // handshakes kept their full timeout; at most one such loss is let pass).
            let late = failed.filter { $0.round > 0 }
            #expect(late.count <= 1, "pings failed after the first round: \(late.map { ($0.round, $0.stderr) })")
            #expect(failed.count - late.count < 4, "\(failed.count) pings failed: \(failed.prefix(3).map(\.stderr))")
            #expect((times.last ?? 0) < 5, "slowest ping \(times.last ?? 0) s")
            #expect(attackerStats.contains("closed_by_master"), "the attack did not run: \(attacker.transcript)")

            // Refusals are logged a few times per interval, with counts, and connections that
            // never passed their handshake are not logged one by one.
            let lines = master.process.stderrLines.count
            print("lock-out: the master wrote \(lines) log lines")
            #expect(lines < 40 * 3 + 100, "\(lines) log lines for \(attackerStats)")
            let warnings = master.logMessages(level: "warning")
            print("lock-out: \(warnings.count) warnings: \(Set(warnings))")
            #expect(warnings.count <= 2 * Int(attackSeconds / 10 + 2), "\(warnings.count) warnings")
            #expect(master.process.isRunning)
        }
    }
}
