import Foundation
import Logging
import MemoryBackend
import NIOCore
import QueueBackend
import SQLiteStore
import ServiceLifecycle
import TaskMasterConfiguration
import Testing

/// The memory backend journaled to SQLite through the store writer, as a running service.
struct JournaledBackend {
    let backend: MemoryBackend
    let store: SQLiteTaskStore
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    init(
        directory: String,
        policy: SyncPolicy,
        defersCompletions: Bool = false,
        limits: QueueLimits = QueueLimits(),
        startWriter: Bool = true,
        restores: Bool = false
    ) throws {
        store = try SQLiteTaskStore(directory: directory, syncPolicy: policy)
        let journal = Journal(defersCompletions: defersCompletions)
        backend = try MemoryBackend(
            limits: limits,
            journal: journal,
            waitsForDurability: policy != .off,
            restoring: restores ? try store.loadAll() : []
        )
        let writer = StoreWriter(store: store, journal: journal, logger: Logger(label: "test"))
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: writer)], logger: Logger(label: "test"))
        )
        self.group = group
        running = Task { try await group.run() }
    }

    /// Stops the writer: what is pending, held-back completions included, is written first.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}

@Suite struct SQLiteTaskStoreTests {
    private func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("taskmaster-store-\(UUID().uuidString)").path
    }

    /// Completes `tasks` (leased to consumer 1) with results ten times their payload.
    private func completeWithTenfoldResults(_ tasks: [QueuedTask], on backend: MemoryBackend) async throws {
        _ = try await backend.complete(
            tasks.map(\.id),
            in: "task",
            results: tasks.map { NewTask(payload: [first($0.payload) * 10], reference: $0.id) },
            into: "result",
            consumer: 1
        )
    }

    private func first(_ payload: ByteBuffer) -> UInt8 { payload.getInteger(at: payload.readerIndex) ?? 0 }

    @Test(arguments: SyncPolicy.allCases)
    func whatTheBackendDidIsWhatASecondStoreReadsBack(policy: SyncPolicy) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journaled = try JournaledBackend(directory: directory, policy: policy)
        let backend = journaled.backend
        let ids = try await backend.put((1...5).map { NewTask(payload: [UInt8($0)]) }, into: "task")
        let got = try await backend.get(from: "task", maxItems: 2, consumer: 1)
        try await completeWithTenfoldResults(got, on: backend)
        _ = try await backend.get(from: "task", maxItems: 1, consumer: 2)  // leased, not acked
        try await journaled.stop()

        let reopened = try SQLiteTaskStore(directory: directory, syncPolicy: policy)
        let tasks = try reopened.loadAll()
        // Three tasks left (one of them leased: stored all the same), two results.
        #expect(tasks.filter { $0.queue == "task" }.map(\.id) == Array(ids[2...]))
        #expect(tasks.filter { $0.queue == "result" }.map { first($0.payload) } == [10, 20])
        #expect(tasks.filter { $0.queue == "result" }.map(\.reference) == Array(ids[0..<2]))
        let restored = try MemoryBackend(restoring: tasks)
        #expect(try await restored.get(from: "task", maxItems: 10, consumer: 1).count == 3)
    }

    @Test func aTaskPutAndFinishedWithinOneCommitNeverReachesTheDisk() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        let journal = Journal()
        // Nothing waits for the disk: the put, get and ack all land in the journal before the
        // writer takes its first batch.
        let backend = try MemoryBackend(journal: journal, waitsForDurability: false)
        _ = try await backend.put([NewTask(payload: [1])], into: "q")
        let got = try await backend.get(from: "q", maxItems: 1, consumer: 1)
        try await backend.ack(got.map(\.id), in: "q", consumer: 1)
        #expect(journal.takePending().mutations.count == 2)  // the insert and its delete
        let writer = StoreWriter(store: store, journal: journal, logger: Logger(label: "test"))
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: writer)], logger: Logger(label: "test"))
        )
        let running = Task { try await group.run() }
        _ = try await backend.put([NewTask(payload: [2])], into: "q")
        let second = try await backend.get(from: "q", maxItems: 1, consumer: 1)
        try await backend.ack(second.map(\.id), in: "q", consumer: 1)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try store.count() == 0)
    }

    @Test func completionsHeldBackAreOnDiskOnceTheWriterStops() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journaled = try JournaledBackend(directory: directory, policy: .batch, defersCompletions: true)
        let backend = journaled.backend
        let ids = try await backend.put((1...4).map { NewTask(payload: [UInt8($0)]) }, into: "task")
        let got = try await backend.get(from: "task", maxItems: 4, consumer: 1)
        try await completeWithTenfoldResults(got, on: backend)
        // The first two results are taken and acknowledged at once; the others stay queued.
        let results = try await backend.get(from: "result", maxItems: 2, consumer: 2)
        try await backend.ack(results.map(\.id), in: "result", consumer: 2)
        try await journaled.stop()

        let tasks = try SQLiteTaskStore(directory: directory, syncPolicy: .batch).loadAll()
        #expect(tasks.filter { $0.queue == "task" }.isEmpty)
        #expect(tasks.filter { $0.queue == "result" }.map { first($0.payload) } == [30, 40])
        #expect(tasks.filter { $0.queue == "result" }.map(\.reference) == Array(ids[2...]))
    }

    @Test func deadLettersKeepTheirQueueAttemptsAndError() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journaled = try JournaledBackend(
            directory: directory,
            policy: .always,
            limits: QueueLimits(maxDeliveries: 1)
        )
        let backend = journaled.backend
        _ = try await backend.put([NewTask(payload: [7])], into: "task")
        _ = try await backend.get(from: "task", maxItems: 1, consumer: 1)
        _ = try await backend.release(1)
        _ = try await backend.put([NewTask(payload: [8])], into: "task")  // waits for the move too
        try await journaled.stop()
        let tasks = try journaled.store.loadAll()
        let dead = try #require(tasks.first { $0.queue == "task.dead" })
        #expect(dead.attempt == 1 && first(dead.payload) == 7)
        #expect(dead.error?.contains("disconnected") == true)
    }

    /// A put's tasks are one chunk row; after a restart the engine hands out again the ids of
    /// its done tasks, which must not be taken for the old chunk's.
    @Test func tasksPutAfterARestartOverIdsOfAPartlyDoneChunkAreKept() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = try JournaledBackend(directory: directory, policy: .batch)
        let ids = try await before.backend.put((1...10).map { NewTask(payload: [UInt8($0)]) }, into: "task")
        let got = try await before.backend.get(from: "task", maxItems: 10, consumer: 1)
        // All but the first done; the first stays leased.
        try await before.backend.ack(Array(got.map(\.id).dropFirst()), in: "task", consumer: 1)
        try await before.stop()

        let second = try JournaledBackend(directory: directory, policy: .batch, restores: true)
        let again = try await second.backend.put((1...10).map { NewTask(payload: [UInt8(100 + $0)]) }, into: "task")
        #expect(Set(again).intersection(ids).isEmpty == false, "the test needs ids handed out again")
        try await second.stop()

        let tasks = try SQLiteTaskStore(directory: directory, syncPolicy: .batch).loadAll()
        #expect(tasks.map(\.id) == [ids[0]] + again)
        #expect(tasks.map { first($0.payload) } == [1] + (101...110).map { UInt8($0) })
    }

    @Test func anUnwritableDirectoryIsAClearError() {
        #expect(throws: StorageError.self) {
            try SQLiteTaskStore(directory: "/proc/nonexistent/taskmaster", syncPolicy: .batch)
        }
    }
}
