import Foundation
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

/// Faults a queue must survive: a killed master, hung workers, poison tasks.
@Suite(.serialized) struct ReliabilityTests {
    private func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("taskmaster-it-\(UUID().uuidString)").path
    }

    @Test(arguments: ["batch", "always", "off"])
    func acknowledgedPutsSurviveKill9OfTheMaster(sync: String) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = try freeLoopbackPort()
        let key = "durable-\(sync)"
        let arguments = ["--port", "\(port)", "--data-dir", directory, "--sync", sync]
        let first = try await MasterProcess.start(authKey: key, arguments: arguments)
        let put = try await first.ctl(["put", "task"] + (1...300).map(String.init))
        #expect(put.status == 0)
        // A leased task counts too: it must come back queued.
        try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: port, authKey: Array(key.utf8)) { client in
            let leased = try await client.get(from: "task", maxItems: 10)
            #expect(leased.count == 10)
            first.process.kill9()
            _ = await first.process.waitForExit(within: .seconds(10))
        }
        let second = try await MasterProcess.start(authKey: key, arguments: arguments)
        let stats = try await second.stats()
        #expect(stats.queue("task")?.depth == 300, "sync \(sync)")
        let got = try await second.ctl(["get", "task", "--count", "300"])
        #expect(got.stdout == (1...300).map(String.init))
        await second.stop()
    }

    @Test func aDurableBatchStaysWithinASmallRequestLimit() async throws {
        // On a durable master results often come back before their put is answered (here
        // surely: commits are 100 ms apart); the batch holds them and acknowledges them later,
        // on top of newer ones. Every request must still fit the master's limit, or the master
        // closes the connection.
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let master = try await MasterProcess.start(
            arguments: ["--data-dir", directory],
            environment: ["TASK_MASTER_MAX_ITEMS_PER_REQUEST": "100", "TASK_MASTER_SYNC_DELAY": "100"]
        )
        let workers = try (1...2).map { try master.startWorker(["--prefetch", "100"], name: "worker \($0)") }
        let (status, stdout, stderr) = try await master.ctl(["batch", "--count", "5000", "--chunk", "100", "--json"])
        #expect(status == 0, "\(stderr)")
        let summary = try BatchSummary(stdout: stdout)
        #expect(summary.completed == 5000)
        #expect(summary.duplicates == 0 && summary.missing == 0, "a reconnect means a request was refused")
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { _ = await worker.waitForExit(within: .seconds(20)) }
        await master.stop()
        #expect(!master.process.stderrLines.joined().contains("max_items_per_request"))
    }

    @Test func aBatchCompletesExactlyOnceAcrossAMasterKilledMidBatch() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = try freeLoopbackPort()
        let key = "restart-key"
        let arguments = ["--port", "\(port)", "--data-dir", directory]
        // Paced so that a slow poll (each spawns task-ctl) can't let the batch end before the
        // kill: one task per request, one request at a time (unpaced, 30,000 tasks once ended
        // within a poll on a loaded CI machine). Here ~1,300 tasks a second in a debug build.
        let first = try await MasterProcess.start(authKey: key, arguments: arguments)
        let workers = try (1...2).map {
            try first.startWorker(
                ["--max-backoff", "0.5", "--prefetch", "1", "--concurrency", "1"],
                name: "worker \($0)"
            )
        }
        let count = 12000
        let batch = try ManagedProcess(
            Binaries.ctl,
            ["batch", "--count", "\(count)", "--json", "--timeout", "240"],
            environment: first.clientEnvironment,
            name: "batch"
        )
        var acked = 0
        let deadline = ContinuousClock.now.advanced(by: .seconds(120))
        while acked < count / 10, ContinuousClock.now < deadline {
            acked = (try? await first.stats().queue("task")?.total_acked) ?? 0
            try await Task.sleep(for: .milliseconds(50))
        }
        first.process.kill9()
        _ = await first.process.waitForExit(within: .seconds(10))
        #expect(acked < count, "the batch ended before the master could be killed")
        try await Task.sleep(for: .milliseconds(500))
        let second = try await MasterProcess.start(authKey: key, arguments: arguments)

        guard let status = await batch.waitForExit(within: .seconds(240)) else {
            batch.kill9()
            Issue.record("the batch did not finish:\n\(batch.transcript)")
            return
        }
        #expect(status == 0, "\(batch.transcript)")
        let summary = try BatchSummary(stdout: batch.stdoutLines)
        #expect(summary.completed == count, "\(batch.transcript)")
        #expect(summary.wrong == 0 && summary.missing == 0)
        // One line when the master was lost and one when it was back, not one per attempt.
        let lost = batch.stderrLines.filter { $0.hasPrefix("task-ctl: lost the master") }
        let back = batch.stderrLines.filter { $0.hasPrefix("task-ctl: reconnected to 127.0.0.1:\(port)") }
        #expect(lost.count == 1 && back.count == 1, "\(batch.transcript)")
        #expect(batch.stderrLines.count == 2, "\(batch.transcript)")
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(await worker.waitForExit(within: .seconds(30)) == 0) }
        await second.stop()
    }

    @Test func aHungWorkersTasksComeBackWhenItsLeaseExpires() async throws {
        let master = try await MasterProcess.start(arguments: ["--lease-timeout", "2"])
        let hung = try master.startWorker(["--prefetch", "200", "--heartbeat-interval", "0.5"], name: "hung")
        let count = 3000
        let batch = try ManagedProcess(
            Binaries.ctl,
            ["batch", "--count", "\(count)", "--json", "--timeout", "120"],
            environment: master.clientEnvironment,
            name: "batch"
        )
        // Freeze the worker while it holds tasks: its connection stays open, nothing comes back.
        let name = "task-worker \(hung.processIdentifier)@"
        var held = 0
        for _ in 0..<400 where held == 0 {
            hung.signal(SIGSTOP)
            held = (try? await master.stats().clients.first { $0.name.hasPrefix(name) }?.leased) ?? 0
            if held == 0 {
                hung.signal(SIGCONT)
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(held > 0)
        let rescuer = try master.startWorker(name: "rescuer")
        #expect(await batch.waitForExit(within: .seconds(120)) == 0, "\(batch.transcript)")
        let summary = try BatchSummary(stdout: batch.stdoutLines)
        #expect(summary.completed == count && summary.missing == 0 && summary.wrong == 0)
        let stats = try await master.stats()
        #expect((stats.queue("task")?.total_redelivered ?? 0) >= held)
        #expect(stats.queue("result")?.total_put == count)  // the hung worker's late results were dropped
        hung.kill9()
        rescuer.signal(SIGTERM)
        #expect(await rescuer.waitForExit(within: .seconds(20)) == 0)
        await master.stop()
    }

    @Test func aPoisonTaskEndsUpInTheDeadLetterQueueAndCanBeRequeued() async throws {
        let master = try await MasterProcess.start(arguments: ["--max-deliveries", "2"])
        let key = Array(master.authKey.utf8)
        _ = try await master.ctl(["put", "task", "666"])
        // Two consumers take it and vanish without acknowledging.
        for _ in 0..<2 {
            try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: master.port, authKey: key) { client in
                let taken = try await client.get(from: "task", maxItems: 1, wait: .milliseconds(5000))
                #expect(taken.count == 1)
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let list = try await master.ctl(["dead", "list", "task"])
        #expect(list.status == 0)
        #expect(list.stdout.contains { $0.contains("666") && $0.contains("attempts 2") }, "\(list.stdout)")
        let stats = try await master.stats()
        #expect(stats.queue("task")?.depth == 0)
        #expect(stats.queue("task.dead")?.depth == 1)
        let requeue = try await master.ctl(["dead", "requeue", "task"])
        #expect(requeue.stdout.first?.hasPrefix("moved 1") == true)
        let got = try await master.ctl(["get", "task", "--timeout", "5"])
        #expect(got.stdout == ["666"])
        _ = try await master.ctl(["put", "task.dead", "1", "2"])
        let purge = try await master.ctl(["dead", "purge", "task"])
        #expect(purge.stdout.first?.hasPrefix("deleted 2") == true)
        await master.stop()
    }
}
