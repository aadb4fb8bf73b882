import Foundation
import GRDB
import MemoryBackend
import NIOCore
import QueueBackend
import Testing

@testable import SQLiteStore

/// Puts stored as chunk rows: what is read back after any mix of deletes and moves, across
/// reopening the store, is exactly the tasks not done, with their queues, attempts and errors.
@Suite struct ChunkStorageTests {
    private func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("taskmaster-chunks-\(UUID().uuidString)").path
    }

    private func task(_ id: TaskID, _ queue: String = "task") -> StoredTask {
        StoredTask(id: id, queue: queue, reference: id &* 3, attempt: 0, payload: ByteBuffer(string: "payload \(id)"))
    }

    private func rows(_ table: String, in store: SQLiteTaskStore) throws -> Int {
        try store.database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0 }
    }

    @Test func aPartlyDoneChunkWithAMovedTaskReadsBackAfterReopening() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        try store.write((1...6).map { .insert(task($0)) })
        try store.write([.delete(2), .delete(3), .move(5, queue: "task.dead", attempt: 4, error: "gave up")])
        #expect(try rows("chunks", in: store) == 1 && rows("tasks", in: store) == 1, "the moved task has a row")
        #expect(try store.count() == 4)

        let tasks = try SQLiteTaskStore(directory: directory, syncPolicy: .off).loadAll()
        #expect(tasks.map(\.id) == [1, 4, 5, 6])
        #expect(tasks.map(\.queue) == ["task", "task", "task.dead", "task"])
        #expect(tasks.map(\.attempt) == [0, 0, 4, 0] && tasks.map(\.error) == [nil, nil, "gave up", nil])
        #expect(tasks.map(\.reference) == [3, 12, 15, 18])
        #expect(tasks.map { String(buffer: $0.payload) } == ["payload 1", "payload 4", "payload 5", "payload 6"])
    }

    @Test func aDeadLetterKeepsOnlyItselfOnDiskAndCanBeRequeuedAndFinished() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        try store.write((1...100).map { .insert(task($0)) })
        try store.write([.move(40, queue: "task.dead", attempt: 3, error: "gave up")])
        try store.write((1...100).filter { $0 != 40 }.map { .delete($0) })
        #expect(try rows("chunks", in: store) == 0 && rows("chunk_done", in: store) == 0)
        #expect(try store.loadAll().map(\.queue) == ["task.dead"])
        try store.write([.move(40, queue: "task", attempt: 0, error: nil)])  // requeued
        let reopened = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        let requeued = try reopened.loadAll()
        #expect(requeued.map(\.id) == [40] && requeued.map(\.queue) == ["task"] && requeued.map(\.attempt) == [0])
        #expect(requeued.map { String(buffer: $0.payload) } == ["payload 40"] && requeued.map(\.reference) == [120])
        try reopened.write([.delete(40)])
        for table in ["chunks", "chunk_done", "tasks"] {
            #expect(try rows(table, in: reopened) == 0, "\(table) keeps rows of done tasks")
        }
    }

    /// The engine restarts after the largest id it restores: ids a partly done chunk covered
    /// are handed out again, and must not be taken for that chunk's.
    @Test func idsHandedOutAgainAfterReopeningAreNotTakenForAnOldChunks() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        try store.write((1...10).map { .insert(task($0)) })
        try store.write((2...10).map { .delete($0) })  // task 1 still leased
        store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        #expect(try store.loadAll().map(\.id) == [1])
        try store.write((2...11).map { .insert(task($0, "again")) })  // the engine's next id: 2
        #expect(try store.loadAll().map(\.id) == Array(1...11))
        try store.write([.delete(1)])
        try store.write((2...6).map { .delete($0) })
        store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        let tasks = try store.loadAll()
        #expect(tasks.map(\.id) == [7, 8, 9, 10, 11] && Set(tasks.map(\.queue)) == ["again"])
    }

    @Test func idsAboveInt64MaxAreOrderedAsUnsigned() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        let high = TaskID(Int64.max) + 10
        try store.write((1...4).map { .insert(task($0)) } + (high...(high + 3)).map { .insert(task($0)) })
        try store.write([.delete(2), .delete(high + 3)])
        #expect(try store.loadAll().map(\.id) == [1, 3, 4, high, high + 1, high + 2])
        let reopened = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        #expect(try reopened.loadAll().map(\.id) == [1, 3, 4, high, high + 1, high + 2])
        try reopened.write([.delete(1), .delete(high)])
        #expect(try reopened.loadAll().map(\.id) == [3, 4, high + 1, high + 2])
    }

    @Test func anIdStoredTwiceStopsTheWriterInsteadOfLosingATask() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        try store.write((1...4).map { .insert(task($0)) })
        #expect {
            try store.write((4...6).map { .insert(task($0)) })
        } throws: { error in
            (error as? StorageError)?.code == .cannotWrite && "\(error)".contains("already stored")
        }
        #expect(throws: StorageError.self) { try store.write([.insert(task(3))]) }
    }

    @Test func singleRowsOfAnOlderDataDirectoryAreReadAndDeletedBesideChunks() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        try store.database.write { db in  // as a master without chunks wrote them
            for id in [1, 2] as [Int64] {
                try db.execute(
                    sql:
                        "INSERT INTO tasks (id, queue, reference, attempt, payload, error) VALUES (?, 'task', 0, 0, ?, NULL)",
                    arguments: [id, Data([UInt8(id)])]
                )
            }
        }
        try store.write((3...5).map { .insert(task($0)) })
        try store.write([.delete(2), .delete(3)])
        #expect(try store.loadAll().map(\.id) == [1, 4, 5])
    }

    @Test func aStoreOfALaterFormatIsNotOpened() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        #expect(try store.database.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") } == 1)
        try store.database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA user_version = 7") }
        #expect {
            try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        } throws: { error in
            (error as? StorageError)?.code == .cannotOpen && "\(error)".contains("newer task-master (format 7")
        }
    }

    @Test func aDamagedChunkIsAClearReadError() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
        try store.write((1...3).map { .insert(task($0)) })
        try store.database.write { db in try db.execute(sql: "UPDATE chunks SET tasks = x'0102'") }
        #expect {
            try store.loadAll()
        } throws: { error in
            (error as? StorageError)?.code == .cannotRead && "\(error)".contains("damaged")
        }
    }

    /// Random batches of puts (some held back and inserted late, as deferred results are),
    /// deletes and moves, written and sometimes read back by a new store, against a dictionary.
    @Test func randomChangesReadBackAsADictionaryOfTheLiveTasks() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<8 {
            let directory = temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
            var model: [TaskID: StoredTask] = [:]
            var next: TaskID = 1
            var late: [StoredTask] = []
            for round in 0..<60 {
                var batch: [StoreMutation] = []
                for _ in 0..<Int.random(in: 0...3, using: &generator) {
                    let queue = Bool.random(using: &generator) ? "task" : "result"
                    let tasks = (0..<TaskID.random(in: 1...12, using: &generator)).map { task(next + $0, queue) }
                    next += TaskID(tasks.count)
                    if Int.random(in: 0..<4, using: &generator) == 0 {
                        late += tasks
                    } else {
                        batch += tasks.map { .insert($0) }
                        for task in tasks { model[task.id] = task }
                    }
                }
                if !late.isEmpty, Bool.random(using: &generator) {
                    batch += late.map { .insert($0) }
                    for task in late { model[task.id] = task }
                    late = []
                }
                let live = Array(model.keys)
                for id in live.shuffled(using: &generator).prefix(Int.random(in: 0...15, using: &generator)) {
                    if Int.random(in: 0..<5, using: &generator) == 0 {
                        let attempt = UInt32.random(in: 1...9, using: &generator)
                        batch.append(.move(id, queue: "task.dead", attempt: attempt, error: "failed \(id)"))
                        model[id]!.queue = "task.dead"
                        model[id]!.attempt = attempt
                        model[id]!.error = "failed \(id)"
                    } else {
                        batch.append(.delete(id))
                        model[id] = nil
                    }
                }
                try store.write(batch)
                if round % 10 == 9 {
                    // A restart: what was held back is gone with the process (it was never
                    // written), and the engine starts after the largest id it restores.
                    store = try SQLiteTaskStore(directory: directory, syncPolicy: .off)
                    late = []
                    next = (model.keys.max() ?? 0) + 1
                }
                let expected = model.values.sorted { $0.id < $1.id }
                let stored = try store.loadAll()
                try #require(stored == expected, "round \(round)")
                #expect(try store.count() == expected.count)
            }
            // Everything done: no row of any kind is left behind.
            try store.write(late.map { .insert($0) } + (model.keys.map { .delete($0) } + late.map { .delete($0.id) }))
            for table in ["chunks", "chunk_done", "tasks"] {
                #expect(try rows(table, in: store) == 0, "\(table) keeps rows of done tasks")
            }
        }
    }
}
