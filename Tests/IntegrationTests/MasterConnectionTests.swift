import Foundation
import TestSupport
import Testing

/// How task-ctl and task-worker meet a master that is not there, one that comes later, and
/// several masters: what they say (one line each) and how long they take.
@Suite(.serialized) struct MasterConnectionTests {
    /// Runs task-ctl with `arguments` and `environment` (nothing else of the master's),
    /// bounded; returns its status, output and how long it took.
    private func ctl(
        _ arguments: [String],
        environment: [String: String] = ["TASK_AUTHKEY": "k"],
        within limit: Duration = .seconds(30)
    ) async throws -> (status: Int32, stdout: [String], stderr: [String], took: Duration) {
        let start = ContinuousClock.now
        let process = try ManagedProcess(
            Binaries.ctl,
            arguments,
            environment: environment,
            unset: ["TASK_MASTER_ADDRESS", "TASK_CTL_WAIT_FOR_MASTER"],
            name: "task-ctl"
        )
        guard let status = await process.waitForExit(within: limit) else {
            process.kill9()
            throw TestFailure("task-ctl \(arguments.joined(separator: " ")) did not end within \(limit)")
        }
        return (status, process.stdoutLines, process.stderrLines, ContinuousClock.now - start)
    }

    /// Like ``ctl(_:environment:within:)``, again once if it took longer than `limit`: a run
    /// that started while the machine was busy launching the other tests' processes may be
    /// slow; a task-ctl that retries is slow both times.
    private func ctlQuickly(
        _ arguments: [String],
        environment: [String: String] = ["TASK_AUTHKEY": "k"],
        limit: Duration
    ) async throws -> (status: Int32, stdout: [String], stderr: [String], took: Duration) {
        let first = try await ctl(arguments, environment: environment)
        guard first.took >= limit else { return first }
        return try await ctl(arguments, environment: environment)
    }

    /// No NIO type names or other dumps in what a person reads.
    private func isPlainLine(_ line: String) -> Bool {
        ["NIO", "IOError", "SingleConnectionFailure", "errno", "Error(", "ClientError", "\\n"].allSatisfy {
            !line.contains($0)
        }
    }

    @Test func withNoMasterEveryCommandEndsAtOnceWithOneLine() async throws {
        let refusing = try RefusingLoopbackPort()  // nothing listens there, nor can meanwhile
        defer { refusing.release() }
        let address = "127.0.0.1:\(refusing.port)"
        let commands: [[String]] = [
            ["batch", "--count", "1"], ["put", "task", "1"], ["get", "result"], ["stats"], ["watch", "--count", "1"],
            ["drain", "task"], ["dead", "list", "task"], ["ping"], ["latency", "--count", "1"],
        ]
        // Each takes some 40 ms on an idle machine; the bounds leave room for a machine busy
        // starting every other suite's processes. Before, a batch retried until its --timeout.
        var took: [Duration] = []
        for command in commands {
            for arguments in [["--connect", address] + command, command + ["--connect", address]] {
                let run = try await ctlQuickly(arguments, limit: .seconds(10))
                took.append(run.took)
                let shown = "task-ctl \(arguments.joined(separator: " ")): \(run.stderr)"
                #expect(run.status == 2, "\(shown)")
                #expect(run.took < .seconds(10), "\(shown) took \(run.took)")
                #expect(run.stderr.count == 1, "\(shown)")
                #expect(
                    run.stderr.first?.hasPrefix("task-ctl: can't connect to \(address): connection refused") == true,
                    "\(shown)"
                )
                #expect(run.stderr.allSatisfy(isPlainLine), "\(shown)")
                #expect(run.stdout.isEmpty, "\(shown)")
            }
        }
        let median = took.sorted()[took.count / 2]
        #expect(median < .seconds(2), "half of the commands took \(median) or longer: \(took)")
        // Several addresses: each named with its reason, still one line.
        let otherPort = try RefusingLoopbackPort()
        defer { otherPort.release() }
        let other = otherPort.port
        let both = try await ctl(["ping", "--connect", "\(address),127.0.0.1:\(other)"])
        #expect(both.status == 2 && both.stderr.count == 1, "\(both.stderr)")
        #expect(
            both.stderr.first?.hasPrefix(
                "task-ctl: can't connect to \(address) (connection refused) or 127.0.0.1:\(other) (connection refused)"
            ) == true,
            "\(both.stderr)"
        )
    }

    @Test func waitForMasterWaitsAsLongAsItSaysAndNoLonger() async throws {
        let refusing = try RefusingLoopbackPort()
        defer { refusing.release() }
        let port = refusing.port
        let key = "wait-key-\(UInt64.random(in: 0...UInt64.max))"
        // Nobody comes: it gives up after about the time given, in one line saying so.
        let alone = try await ctlQuickly(
            ["--connect", "127.0.0.1:\(port)", "--wait-for-master", "1s", "stats"],
            limit: .seconds(6)
        )
        #expect(alone.status == 2, "\(alone.stderr)")
        #expect(alone.took >= .milliseconds(900) && alone.took < .seconds(6), "took \(alone.took)")
        #expect(alone.stderr.count == 2, "\(alone.stderr)")  // waiting …, then giving up
        #expect(alone.stderr.first?.contains("waiting up to 1s") == true, "\(alone.stderr)")
        #expect(alone.stderr.last?.contains("connection refused (waited 1s)") == true, "\(alone.stderr)")

        // A master that starts later is waited for, through the environment variable too.
        let ping = try ManagedProcess(
            Binaries.ctl,
            ["ping", "--connect", "127.0.0.1:\(port)"],
            environment: ["TASK_AUTHKEY": key, "TASK_CTL_WAIT_FOR_MASTER": "30s"],
            unset: ["TASK_MASTER_ADDRESS"],
            name: "task-ctl ping"
        )
        defer { ping.kill9() }
        let waiting = await ping.waitForLine(within: .seconds(10), stream: \.stderrLines) {
            $0.contains("waiting up to 30s")
        }
        #expect(waiting != nil, "\(ping.transcript)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(ping.isRunning, "\(ping.transcript)")
        refusing.release()
        let master = try await MasterProcess.start(authKey: key, arguments: ["--port", "\(port)"])
        #expect(await ping.waitForExit(within: .seconds(20)) == 0, "\(ping.transcript)")
        #expect(ping.stdoutLines.first?.hasPrefix("pong from task-master at 127.0.0.1:\(port)") == true)
        #expect(ping.stderrLines.count == 1, "\(ping.transcript)")  // only the waiting line
        await master.stop()
    }

    @Test func aWrongKeyOrAWrongAddressIsOneLineThatSaysWhatToDo() async throws {
        let master = try await MasterProcess.start()
        let wrongKey = try await ctl(["--connect", master.address, "stats"], environment: ["TASK_AUTHKEY": "wrong"])
        #expect(wrongKey.status == 2 && wrongKey.stderr.count == 1, "\(wrongKey.stderr)")
        #expect(wrongKey.stderr.first?.contains("authentication failed") == true, "\(wrongKey.stderr)")
        #expect(wrongKey.stderr.first?.contains("TASK_AUTHKEY or --authkey-file") == true, "\(wrongKey.stderr)")
        let badAddress = try await ctl(["stats", "--connect", "\(master.address),"])
        #expect(badAddress.status == 2 && badAddress.stderr.count == 1, "\(badAddress.stderr)")
        #expect(badAddress.stderr.first?.contains("an empty master address (from flag --connect)") == true)
        let usage = try await ctl(["batch"])
        #expect(
            usage.status != 0
                && usage.stderr == [
                    "task-ctl: missing expected argument '--count <count>'; see 'task-ctl batch --help'"
                ],
            "\(usage.stderr)"
        )
        await master.stop()
    }

    @Test func aWorkerGivenTwoMastersWorksForTheSecondOnceTheFirstStops() async throws {
        let key = "two-masters-\(UInt64.random(in: 0...UInt64.max))"
        let first = try await MasterProcess.start(authKey: key)
        let second = try await MasterProcess.start(authKey: key)
        let worker = try ManagedProcess(
            Binaries.worker,
            ["--connect", "\(first.address),\(second.address)", "--max-backoff", "0.5"],
            environment: ["TASK_AUTHKEY": key],
            unset: ["TASK_MASTER_ADDRESS"],
            name: "worker"
        )
        defer { worker.kill9() }
        // It works for the first that answers: the first.
        let onFirst = try await first.ctl(["batch", "--count", "500", "--json", "--timeout", "60"])
        #expect(onFirst.status == 0, "\(onFirst.stderr)\n\(worker.transcript)")
        #expect(
            try await first.stats().clients.contains { $0.name.hasPrefix("task-worker \(worker.processIdentifier)@") }
        )
        #expect(try await !second.stats().clients.contains { $0.name.hasPrefix("task-worker") })

        #expect(await first.stop() == 0)
        let moved = await worker.waitForLine(within: .seconds(20), stream: \.stderrLines) {
            $0.contains("reconnected to the master \(second.address)")
        }
        #expect(moved != nil, "\(worker.transcript)")
        let onSecond = try await second.ctl(["batch", "--count", "500", "--json", "--timeout", "60"])
        #expect(onSecond.status == 0, "\(onSecond.stderr)\n\(worker.transcript)")
        #expect(try BatchSummary(stdout: onSecond.stdout).completed == 500)
        // It said what happened in single lines, naming what failed.
        let lines = worker.stderrLines
        #expect(lines.contains { $0.contains("lost the master") }, "\(lines)")
        #expect(lines.allSatisfy(isPlainLine), "\(lines)")

        // task-ctl given both, the first gone, uses the second.
        let ping = try await ctl(
            ["ping", "--connect", "\(first.address),\(second.address)"],
            environment: ["TASK_AUTHKEY": key]
        )
        #expect(ping.status == 0 && ping.stdout.first?.contains("at \(second.address)") == true, "\(ping)")
        let batch = try await ctl(
            ["--connect", "\(first.address),\(second.address)", "batch", "--count", "300", "--json"],
            environment: ["TASK_AUTHKEY": key]
        )
        #expect(batch.status == 0 && batch.stderr.isEmpty, "\(batch.stderr)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(20)) == 0)
        await second.stop()
    }
}
