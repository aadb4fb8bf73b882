import Foundation
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

extension AbuseTests {
    /// One Python client with the key puts big strings on `big`, each with a timeout, or drains
    /// the queue. Prints one JSON line: for `put COUNT SIZE TIMEOUT` the indices accepted, how
    /// many raised queue.Full and the shortest time one took to raise it; for `drain SIZE`
    /// the indices that came out and how many had the wrong length.
    static let bigStrings =
        PythonScripts.header + #"""
            QueueManager.register('get_big_queue')
            m = connect()
            q = m.get_big_queue()
            if sys.argv[2] == 'put':
                count, size, timeout = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
                accepted, waits = [], []
                for i in range(count):
                    value = '%08d' % i + 'x' * (size - 8)
                    start = time.monotonic()
                    try:
                        q.put(value, timeout=timeout)
                        accepted.append(i)
                    except queue.Full:
                        waits.append(time.monotonic() - start)
                print(json.dumps({'accepted': accepted, 'full': len(waits),
                                  'shortest_full_wait': min(waits, default=0)}), flush=True)
            else:
                size = int(sys.argv[3])
                got, bad = [], 0
                while True:
                    try:
                        value = q.get(timeout=1)
                    except queue.Empty:
                        break
                    bad += len(value) != size
                    got.append(int(value[:8]))
                print(json.dumps({'got': got, 'bad': bad}), flush=True)
            """#

    struct BigPuts: Decodable {
        var accepted: [Int]
        var full: Int
        var shortest_full_wait: Double
    }

    struct BigDrain: Decodable {
        var got: [Int]
        var bad: Int
    }

    /// What the master may hold beyond its memory limit: its own baseline (measured before
    /// the load) plus this much for the frames in flight (a 1 MiB put is read, decoded and
    /// copied a few times before it is stored) and the allocator's slack.
    static let memoryOverhead = 32 << 20

    /// Issue reproduction 1: memory had no bound. 100 puts of 1 MiB against a 32 MiB limit.
    @Test func putsPastTheMemoryLimitFailAfterTheirTimeoutAndNothingAcceptedIsLost() async throws {
        let python = try PythonInterpreter.require("3.13")
        let limit = 32 << 20
        let size = 1 << 20
        try await MasterProcess.with(arguments: ["--max-memory", "32MiB", "--log-format", "json"]) { master in
            let environment = master.clientEnvironment
            func run(_ arguments: [String]) async throws -> String {
                let run = try await python.run(
                    script: Self.bigStrings,
                    arguments: [master.address] + arguments,
                    environment: environment,
                    timeout: .seconds(120)
                )
                guard run.status == 0, let line = run.stdoutLines.last else {
                    throw TestFailure("python failed (\(run.status)):\n\(run.stdoutText)\n\(run.stderrText)")
                }
                return line
            }
            let baseline = try #require(master.gauge.residentBytes)
            let sampler = PeakMemorySampler(master.gauge)
            defer { sampler.stop() }

            let started = ContinuousClock.now
            let puts = try JSONDecoder().decode(
                BigPuts.self,
                from: Data(try await run(["put", "100", "\(size)", "0.1"]).utf8)
            )
            let putSeconds = (ContinuousClock.now - started).seconds
            // As many as fit (each costs its payload plus a little bookkeeping), the rest refused.
            #expect(puts.accepted == Array(0..<puts.accepted.count), "accepted \(puts.accepted)")
            #expect((limit / size - 2)...(limit / size) ~= puts.accepted.count)
            #expect(puts.full == 100 - puts.accepted.count)
            #expect(puts.shortest_full_wait >= 0.095, "a put raised queue.Full before its timeout")

            // A native put is refused too, saying which limit.
            try await TaskMasterConnection.withConnection(
                to: "127.0.0.1",
                port: master.port,
                authKey: Array(master.authKey.utf8)
            ) { client in
                do {
                    _ = try await client.put(
                        [NewItem(payload: [UInt8](repeating: 0x2A, count: size))],
                        into: "big",
                        wait: .milliseconds(200)
                    )
                    Issue.record("a native put past the memory limit was accepted")
                } catch let error as ClientError {
                    #expect(error.serverCode == .queueFull, "\(error)")
                    #expect(error.message.contains("memory limit"), "\(error)")
                    #expect(error.acceptedIDs.isEmpty)
                }
            }
            let document = try await master.statusDocument()
            #expect(document.int("memory_limit_bytes") == limit)
            #expect(try #require(document.int("memory_used_bytes")) <= limit)
            #expect(document.queues["big"]?.int("depth") == puts.accepted.count)
            let peakWhileFull = sampler.peakBytes
            let full = try #require(master.gauge.residentBytes)

            // Gets drain it: everything accepted comes out once, whole; then puts go in again.
            let drain = try JSONDecoder().decode(BigDrain.self, from: Data(try await run(["drain", "\(size)"]).utf8))
            #expect(drain.got == puts.accepted, "put \(puts.accepted), got \(drain.got)")
            #expect(drain.bad == 0)
            let again = try JSONDecoder().decode(
                BigPuts.self,
                from: Data(try await run(["put", "10", "\(size)", "0.1"]).utf8)
            )
            #expect(again.accepted.count == 10 && again.full == 0)
            let peak = sampler.stop()
            print(
                "memory limit: \(puts.accepted.count) of 100 × 1 MiB accepted under 32 MiB in \(String(format: "%.1f", putSeconds)) s;"
                    + " master RSS \(megabytes(baseline)) before, \(megabytes(full)) full,"
                    + " peak \(megabytes(peakWhileFull)) while full, \(megabytes(peak)) overall"
            )
            #expect(
                peak <= baseline + limit + Self.memoryOverhead,
                "RSS peaked at \(megabytes(peak)): over \(megabytes(baseline)) + the limit + \(megabytes(Self.memoryOverhead))"
            )

            // The log says so once for the episode, and once when it is over.
            let notice = await master.process.waitForLine(within: .seconds(5), stream: \.stderrLines) {
                $0.contains("memory back under the limit")
            }
            #expect(notice != nil)
            let reached = master.logMessages(level: "warning").filter { $0.contains("memory limit") }
            let over = master.logMessages(level: "notice").filter { $0.contains("memory back under the limit") }
            #expect(reached.count == 1, "\(reached)")
            #expect(over.count == 1, "\(over)")
        }
    }
}
