import Foundation
import TaskQueue
import TaskStorage
import Testing

@Suite struct SQLiteTaskStoreTests {
    private func temporaryDirectory() -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("taskmaster-store-\(UUID().uuidString)")
        return url.path
    }

    /// Completes `tasks` (leased to consumer 1) with results ten times their payload.
    private func completeWithTenfoldResults(_ tasks: [QueuedTask], on engine: QueueEngine) async throws {
        _ = try await engine.complete(
            tasks.map(\.id),
            in: "task",
            consumer: 1,
            results: tasks.map { NewTask(payload: [$0.payload[0] * 10], reference: $0.id) },
            into: "result"
        )
    }

    @Test(arguments: SyncPolicy.allCases)
    func whatTheEngineDidIsWhatASecondStoreReadsBack(policy: SyncPolicy) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: policy)
        let journal = Journal()
        let writer = StoreWriter(store: store, journal: journal) { failure in Issue.record("\(failure)") }
        writer.start()
        let engine = try QueueEngine(journal: journal, waitsForDurability: policy != .off)
        let ids = try await engine.put((1...5).map { NewTask(payload: [UInt8($0)]) }, into: "task")
        let got = try await engine.get(from: "task", maxItems: 2, consumer: 1)
        try await completeWithTenfoldResults(got, on: engine)
        _ = try await engine.get(from: "task", maxItems: 1, consumer: 2)  // leased, not acked
        writer.stop()

        let reopened = try SQLiteTaskStore(directory: directory, syncPolicy: policy)
        let tasks = try reopened.loadAll()
        // Three tasks left (one of them leased: stored all the same), two results.
        #expect(tasks.filter { $0.queue == "task" }.map(\.id) == Array(ids[2...]))
        #expect(tasks.filter { $0.queue == "result" }.map(\.payload) == [[10], [20]])
        #expect(tasks.filter { $0.queue == "result" }.map(\.reference) == Array(ids[0..<2]))
        let restored = try QueueEngine(restoring: tasks)
        #expect(try await restored.get(from: "task", maxItems: 10, consumer: 1).count == 3)
    }

    @Test func aTaskPutAndFinishedWithinOneCommitNeverReachesTheDisk() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .batch)
        let journal = Journal()
        let engine = try QueueEngine(journal: journal)
        // No writer running yet: the whole life of the task sits in one journal batch.
        let put = Task { try await engine.put([NewTask(payload: [1])], into: "q") }
        try await Task.sleep(for: .milliseconds(20))
        let writer = StoreWriter(store: store, journal: journal) { failure in Issue.record("\(failure)") }
        writer.start()
        _ = try await put.value
        let got = try await engine.get(from: "q", maxItems: 1, consumer: 1)
        await engine.ack(got.map(\.id), in: "q", consumer: 1)
        writer.stop()
        #expect(try store.count() == 0)
    }

    @Test func completionsHeldBackAreOnDiskOnceTheWriterStops() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .batch)
        let journal = Journal(defersCompletions: true)
        let writer = StoreWriter(store: store, journal: journal) { failure in Issue.record("\(failure)") }
        writer.start()
        let engine = try QueueEngine(journal: journal)
        let ids = try await engine.put((1...4).map { NewTask(payload: [UInt8($0)]) }, into: "task")
        let got = try await engine.get(from: "task", maxItems: 4, consumer: 1)
        try await completeWithTenfoldResults(got, on: engine)
        // The first two results are taken and acknowledged at once; the others stay queued.
        let results = try await engine.get(from: "result", maxItems: 2, consumer: 2)
        await engine.ack(results.map(\.id), in: "result", consumer: 2)
        writer.stop()

        let tasks = try SQLiteTaskStore(directory: directory, syncPolicy: .batch).loadAll()
        #expect(tasks.filter { $0.queue == "task" }.isEmpty)
        #expect(tasks.filter { $0.queue == "result" }.map(\.payload) == [[30], [40]])
        #expect(tasks.filter { $0.queue == "result" }.map(\.reference) == Array(ids[2...]))
    }

    @Test func deadLettersKeepTheirQueueAttemptsAndError() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .always)
        let journal = Journal()
        let writer = StoreWriter(store: store, journal: journal) { failure in Issue.record("\(failure)") }
        writer.start()
        let engine = try QueueEngine(limits: QueueLimits(maxDeliveries: 1), journal: journal)
        _ = try await engine.put([NewTask(payload: [7])], into: "task")
        _ = try await engine.get(from: "task", maxItems: 1, consumer: 1)
        engine.release(consumer: 1)
        _ = try await engine.put([NewTask(payload: [8])], into: "task")  // waits for the move too
        writer.stop()
        let tasks = try store.loadAll()
        let dead = try #require(tasks.first { $0.queue == "task.dead" })
        #expect(dead.attempt == 1 && dead.payload == [7])
        #expect(dead.error?.contains("disconnected") == true)
    }

    @Test func anUnwritableDirectoryIsAClearError() {
        #expect(throws: StorageError.self) {
            try SQLiteTaskStore(directory: "/proc/nonexistent/taskmaster", syncPolicy: .batch)
        }
    }
}
