import Foundation
import MemoryBackend
import NIOCore
import QueueBackend
import SQLiteStore
import TaskMasterClient
import TaskMasterConfiguration
import TaskWire
import TestSupport
import Testing

/// The shutdown order written on `TaskMaster`, checked in-process: waits end, leases go back,
/// the store gets everything (held-back completions included), and the group ends cleanly.
@Suite struct ShutdownOrderTests {
    @Test func shutdownEndsWaitsReturnsLeasesFlushesTheStoreAndEndsCleanly() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shutdown-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        // The manual clock never moves: a completion held back stays held until the writer
        // flushes at shutdown.
        let clock = ManualClock()
        let master = try await InProcessMaster.start(clock: clock) { configuration in
            configuration.dataDirectory = directory.path
            configuration.syncPolicy = .batch
            configuration.syncDelay = .zero
        }
        let port = master.port
        let key = master.key
        let (waitEnded, ended) = AsyncStream<String>.makeStream()
        // A consumer waits for a queue that stays empty.
        let waiter = Task {
            do {
                try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: port, authKey: key) { client in
                    _ = try await client.get(from: "empty", maxItems: 1, wait: .forever)
                }
                ended.yield("answered")
            } catch {
                ended.yield("ended: \(error)")
            }
        }
        // A worker holds two tasks and has completed one of them.
        let (ids, resultIDs) = try await TaskMasterConnection.withConnection(
            to: "127.0.0.1",
            port: port,
            authKey: key
        ) { worker in
            let ids = try await worker.put((1...3).map { NewItem(payload: [UInt8($0)]) }, into: "task")
            let leased = try await worker.get(from: "task", maxItems: 2)
            let outcome = try await worker.complete(
                [leased[0].id],
                in: "task",
                results: [NewItem(payload: [9], reference: leased[0].id)],
                into: "result"
            )
            #expect(outcome.resultIDs.count == 1)
            // Still connected, holding the second task, as the master stops.
            try await master.stop()
            return (ids, outcome.resultIDs)
        }
        var iterator = waitEnded.makeAsyncIterator()
        let outcome = await iterator.next()
        #expect(outcome?.hasPrefix("ended") == true, "the waiting get must end with the master: \(outcome ?? "-")")
        _ = await waiter.value
        // No one is let in any more.
        await #expect(throws: ClientError.self) {
            try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: port, authKey: key) { _ in }
        }
        // On disk: the leased task and the one never delivered, queued; the held-back result.
        let stored = try SQLiteTaskStore(directory: directory.path, syncPolicy: .batch).loadAll()
        #expect(stored.filter { $0.queue == "task" }.map(\.id) == Array(ids[1...]))
        #expect(stored.filter { $0.queue == "result" }.map(\.id) == resultIDs)
    }
}
