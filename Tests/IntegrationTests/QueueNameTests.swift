import Foundation
import SquaringJobs
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

extension AbuseTests {
    /// Reads that name queues that do not exist: 10,000 gets that don't wait (pipelined) and
    /// 2,000 that wait 1 ms, each on a new name. Returns how many queues the master has after.
    static func readNewNames(_ master: MasterProcess, prefix: String) async throws -> Int {
        let flood = try await RequestFlood(port: master.port, key: master.authKey)
        let outcome = await flood.run(count: 10_000, limit: .seconds(60)) { id in
            .get(queue: "\(prefix)-\(id)", maxItems: 1, wait: .none)
        }
        #expect(outcome.answers == ["deliveries": 10_000], "\(outcome)")
        try await TaskMasterConnection.withConnection(
            to: "127.0.0.1",
            port: master.port,
            authKey: Array(master.authKey.utf8)
        ) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<50 {
                    group.addTask {
                        for n in stride(from: lane, to: 2_000, by: 50) {
                            let got = try await client.get(from: "\(prefix)-waited-\(n)", wait: .milliseconds(1))
                            #expect(got.isEmpty)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        return try await master.statusDocument().queues.count
    }

    /// A batch of 2,000 squares through one worker, and a poison task (nacked twice, with
    /// `--max-deliveries 2`) that must reach `poison.dead`. Returns the dead letters' count.
    static func batchAndPoison(_ master: MasterProcess) async throws -> Int {
        let worker = try master.startWorker(["--exit-when-idle", "1"], name: "worker")
        defer { worker.kill9() }
        let batch = try await master.ctl(["batch", "--count", "2000", "--json", "--quiet"])
        #expect(batch.status == 0, "\(batch.stderr)")
        let summary = try BatchSummary(stdout: batch.stdout)
        #expect(summary.completed == 2000 && summary.missing == 0 && summary.duplicates == 0)
        #expect(await worker.waitForExit(within: .seconds(30)) == 0)

        try await TaskMasterConnection.withConnection(
            to: "127.0.0.1",
            port: master.port,
            authKey: Array(master.authKey.utf8)
        ) { client in
            _ = try await client.put([NewItem(payload: Square.task(666))], into: "poison", wait: .none)
            for _ in 0..<2 {
                let got = try await client.get(from: "poison", wait: .milliseconds(5000))
                #expect(got.count == 1)
                _ = try await client.nack(got.map(\.id), in: "poison")
            }
        }
        return try await master.statusDocument().queues["poison.dead"]?.int("depth") ?? 0
    }

    /// Issue reproduction 4: queue names ran out for good. Gets on 12,000 new names (the
    /// default `max_queues` is 10,000) leave no queue behind; a batch and a poison task go on
    /// as before; with a data directory, again after a restart.
    @Test(arguments: [false, true])
    func readsOnNewNamesLeaveRoomForQueuesThatHoldTasks(durable: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "abuse-names-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["--max-deliveries", "2"] + (durable ? ["--data-dir", directory.path] : [])
        let key = "names-\(UInt64.random(in: 0...UInt64.max))"
        let first = try await MasterProcess.start(authKey: key, arguments: arguments)
        do {
            let queues = try await Self.readNewNames(first, prefix: "nobody")
            #expect(queues == 0, "\(queues) queues after reads only")
            #expect(try await Self.batchAndPoison(first) == 1)
            let after = try await first.statusDocument().queues.keys.sorted()
            #expect(after == ["poison", "poison.dead", "result", "task"], "\(after)")
        } catch {
            await first.stop()
            throw error
        }
        #expect(await first.stop() == 0)
        guard durable else { return }

        let second = try await MasterProcess.start(authKey: key, arguments: arguments)
        do {
            #expect(try await second.statusDocument().queues["poison.dead"]?.int("depth") == 1)
            let queues = try await Self.readNewNames(second, prefix: "again")
            #expect(queues == 1, "\(queues) queues after reads only (poison.dead was restored)")
            #expect(try await Self.batchAndPoison(second) == 2)
        } catch {
            await second.stop()
            throw error
        }
        #expect(await second.stop() == 0)
    }
}
