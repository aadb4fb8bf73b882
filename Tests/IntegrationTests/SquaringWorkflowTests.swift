import BigInt
import Foundation
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

/// The real task-master, task-worker and task-ctl binaries, over loopback.
@Suite(.serialized) struct SquaringWorkflowTests {
    @Test func aTenThousandNumberBatchComesBackWithEverySquareRight() async throws {
        let master = try await MasterProcess.start()
        let workers = try (1...2).map { try master.startWorker([], name: "worker \($0)") }
        let (status, stdout, stderr) = try await master.ctl(["batch", "--count", "10000", "--json"])
        #expect(status == 0, "\(stderr)")
        let summary = try BatchSummary(stdout: stdout)
        #expect(summary.submitted == 10000)
        #expect(summary.completed == 10000)
        #expect(summary.wrong == 0 && summary.missing == 0 && summary.duplicates == 0)
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(await worker.waitForExit(within: .seconds(20)) == 0) }
        #expect(await master.stop() == 0)
    }

    @Test func aWorkerKilledMidBatchLosesNothingAndDuplicatesNothing() async throws {
        let master = try await MasterProcess.start()
        let count = 40000
        // Large prefetch: the victim surely holds leased tasks when it dies. It is frozen while
        // idle, its blocking get waiting at the master, before the batch starts: the master
        // serves that get while it is frozen, and it holds tasks it can never finish. (Should
        // the get run out first, the queue fills while it is frozen, and it holds tasks nearly
        // all the time once thawed: the next freezes catch it.)
        let victim = try master.startWorker(["--prefetch", "1000"], name: "victim")
        let victimName = "task-worker \(victim.processIdentifier)@"
        var connected = false
        for _ in 0..<100 where !connected {
            connected = try await master.stats().clients.contains { $0.name.hasPrefix(victimName) }
            if !connected { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(connected)
        try await victim.freeze()
        let batch = try ManagedProcess(
            Binaries.ctl,
            ["batch", "--count", "\(count)", "--json"],
            environment: master.clientEnvironment,
            name: "task-ctl"
        )
        let held = try await victim.freezeHoldingTasks {
            try await master.stats().clients.first { $0.name.hasPrefix(victimName) }?.leased ?? 0
        }
        let clients = try await master.stats().clients.map { "\($0.name): \($0.leased)" }
        #expect(held > 0, "the victim never held a task; clients: \(clients)\n\(victim.transcript)")
        let survivor = try master.startWorker(["--prefetch", "1000"], name: "survivor")
        // The survivor works on meanwhile; kill -9 the victim well into the batch.
        var acked = 0
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while acked < count / 8, ContinuousClock.now < deadline {
            acked = try await master.stats().queue("task")?.total_acked ?? 0
            try await Task.sleep(for: .milliseconds(50))
        }
        kill(victim.processIdentifier, SIGKILL)  // frozen, so surely alive: no isRunning check
        #expect(await victim.waitForExit(within: .seconds(10)) != nil)
        #expect(acked < count, "the batch finished before the worker could be killed")

        guard let status = await batch.waitForExit(within: .seconds(180)) else {
            batch.kill9()
            Issue.record("the batch did not finish:\n\(batch.transcript)")
            return
        }
        #expect(status == 0, "\(batch.transcript)")
        let summary = try BatchSummary(stdout: batch.stdoutLines)
        #expect(summary.completed == count)
        #expect(summary.wrong == 0 && summary.missing == 0 && summary.duplicates == 0)
        // Exactly once at the master too: one result per task, and the victim's tasks redelivered.
        let stats = try await master.stats()
        #expect(stats.queue("result")?.total_put == count)
        #expect((stats.queue("task")?.total_redelivered ?? 0) > 0)
        #expect(stats.queue("task")?.depth == 0 && stats.queue("task")?.in_flight == 0)
        survivor.signal(SIGTERM)
        #expect(await survivor.waitForExit(within: .seconds(20)) == 0)
        await master.stop()
    }

    @Test func aWrongAuthkeyIsRejectedWhileABatchRunsUnharmed() async throws {
        let master = try await MasterProcess.start()
        let worker = try master.startWorker()
        let batch = try ManagedProcess(
            Binaries.ctl,
            ["batch", "--count", "20000", "--json"],
            environment: master.clientEnvironment,
            name: "batch"
        )
        // An intruder with the wrong key: task-ctl and a worker.
        var wrongEnvironment = master.clientEnvironment
        wrongEnvironment["TASK_AUTHKEY"] = "not-the-key"
        let intruder = try ManagedProcess(Binaries.ctl, ["stats"], environment: wrongEnvironment, name: "intruder")
        #expect(await intruder.waitForExit(within: .seconds(20)) == 2)
        #expect(
            intruder.stderrLines.joined().contains("authentication failed: the authkey does not match the master's")
        )
        let badWorker = try ManagedProcess(Binaries.worker, [], environment: wrongEnvironment, name: "bad worker")
        #expect(await badWorker.waitForExit(within: .seconds(20)) == 1)
        #expect(badWorker.stderrLines.joined().contains("authentication failed"))

        #expect(await batch.waitForExit(within: .seconds(180)) == 0, "\(batch.transcript)")
        let summary = try BatchSummary(stdout: batch.stdoutLines)
        #expect(summary.completed == 20000 && summary.wrong == 0 && summary.missing == 0)
        // The master logged the failures, without the key.
        #expect(master.process.stderrLines.contains { $0.contains("authentication failed") })
        #expect(!master.process.stderrLines.joined().contains(master.authKey))
        worker.signal(SIGTERM)
        await worker.waitForExit()
        await master.stop()
    }

    @Test func workersSquareHugeNumbersExactlyAndSurviveTasksThatAreNotNumbers() async throws {
        let master = try await MasterProcess.start()
        let worker = try master.startWorker()
        let big = "340282366920938463463374607431768211457"  // 2**128 + 1
        let put = try await master.ctl(["put", "task", "--", big, "-5", "not-a-number", "2.5"])
        #expect(put.status == 0, "\(put.stderr)")
        let got = try await master.ctl(["get", "result", "--count", "4", "--timeout", "10"])
        #expect(got.status == 0, "\(got.stderr)")
        var results = got.stdout
        if results.count < 4 {
            let more = try await master.ctl(["get", "result", "--count", "4", "--timeout", "10"])
            results += more.stdout
        }
        let n = try #require(BigInt(big))
        #expect(results.contains("\(big) * \(big) = \(n * n)"), "\(results)")
        #expect(results.contains("-5 * -5 = 25"))
        #expect(results.contains { $0.hasPrefix("error:") && $0.contains("str") })
        #expect(results.contains { $0.hasPrefix("error:") && $0.contains("float") })
        // Still working afterwards.
        let batch = try await master.ctl(["batch", "--count", "100", "--json"])
        #expect(batch.status == 0)
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(20)) == 0)
        await master.stop()
    }

    @Test func aWorkerExitsOnceIdleAndAfterSIGTERMWithWhatItHeldAcknowledged() async throws {
        let master = try await MasterProcess.start()
        let idle = try master.startWorker(["--exit-when-idle", "1"], name: "idle worker")
        let start = ContinuousClock.now
        #expect(await idle.waitForExit(within: .seconds(20)) == 0)
        #expect(ContinuousClock.now - start >= .milliseconds(900))

        let busy = try master.startWorker(name: "busy worker")
        let batch = try ManagedProcess(
            Binaries.ctl,
            ["batch", "--count", "20000", "--json", "--timeout", "120"],
            environment: master.clientEnvironment,
            name: "batch"
        )
        try await Task.sleep(for: .milliseconds(500))
        busy.signal(SIGTERM)
        #expect(await busy.waitForExit(within: .seconds(20)) == 0)
        #expect(busy.stderrLines.contains { $0.contains("task-worker stopped") })
        // Nothing it held is lost: another worker finishes the batch.
        let finisher = try master.startWorker(name: "finisher")
        #expect(await batch.waitForExit(within: .seconds(180)) == 0, "\(batch.transcript)")
        let summary = try BatchSummary(stdout: batch.stdoutLines)
        #expect(summary.completed == 20000 && summary.missing == 0 && summary.duplicates == 0)
        finisher.signal(SIGTERM)
        await finisher.waitForExit()
        await master.stop()
    }

    @Test func aWorkerRetriesUntilTheMasterIsThereAndSaysSo() async throws {
        let refusing = try RefusingLoopbackPort()
        defer { refusing.release() }
        let port = refusing.port
        let key = "retry-key"
        let worker = try ManagedProcess(
            Binaries.worker,
            ["--connect", "127.0.0.1:\(port)", "--max-backoff", "0.5"],
            environment: ["TASK_AUTHKEY": key],
            name: "early worker"
        )
        let complaint = await worker.waitForLine(within: .seconds(20), stream: \.stderrLines) {
            $0.contains("master unreachable")
        }
        #expect(complaint != nil, "\(worker.transcript)")
        // What failed, where, in words: no error types.
        #expect(
            complaint?.contains(
                "master unreachable: can't connect to 127.0.0.1:\(port): connection refused; retrying in"
            )
                == true,
            "\(worker.transcript)"
        )
        refusing.release()
        let master = try await MasterProcess.start(authKey: key, arguments: ["--port", "\(port)"])
        let batch = try await master.ctl(["batch", "--count", "500", "--json"], within: .seconds(60))
        #expect(batch.status == 0, "\(batch.stderr)")
        #expect(worker.stderrLines.contains { $0.contains("reconnected") || $0.contains("connected to the master") })
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(20)) == 0)
        await master.stop()
    }

    @Test func theMasterStopsCleanlyOnSIGTERMWithClientsConnected() async throws {
        let master = try await MasterProcess.start()
        let worker = try master.startWorker()
        _ = try await master.ctl(["put", "task", "1", "2", "3"])
        try await Task.sleep(for: .milliseconds(300))
        #expect(await master.stop() == 0)
        #expect(master.process.stderrLines.contains { $0.contains("task-master stopped") })
        // The worker notices and keeps retrying until told to stop.
        let retrying = await worker.waitForLine(within: .seconds(20), stream: \.stderrLines) {
            $0.contains("master unreachable")
        }
        #expect(retrying != nil)
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(20)) == 0)
    }

    @Test func aMasterWithoutAnAuthkeyRefusesToStartAndSaysHow() async throws {
        let master = try ManagedProcess(
            Binaries.master,
            ["--host", "127.0.0.1", "--port", "0"],
            unset: ["TASK_AUTHKEY", "TASK_AUTHKEY_FILE"],
            name: "keyless"
        )
        #expect(await master.waitForExit(within: .seconds(20)) == 2)
        #expect(master.stderrLines.joined().contains("TASK_AUTHKEY"))
    }
}
