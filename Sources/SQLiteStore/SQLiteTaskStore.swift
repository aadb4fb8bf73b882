import Foundation
import GRDB
import MemoryBackend
import NIOCore
import QueueBackend
import Synchronization
import TaskMasterConfiguration

/// The durable copy of the queues: every queued and leased task in SQLite, in WAL mode, kept in
/// step with the engine through its ``Journal``.
///
/// A put's tasks are one row of `chunks` (see ``BatchStatements``), other tasks a row of
/// `tasks` each. Leases are not stored: after a restart every task that was leased is queued
/// again, which is what at-least-once delivery needs. Ids keep growing across restarts.
public final class SQLiteTaskStore: Sendable {
    /// The database file.
    public let path: String
    public let syncPolicy: SyncPolicy
    let database: DatabaseQueue
    /// The layout of the tables, kept in SQLite's `user_version`: 0 (never set), `tasks` only;
    /// 1, with chunks. A store of a later format is not opened: its tasks could be misread.
    static let formatVersion = 1
    /// Where the chunk rows' tasks are; changed only by ``write(_:)`` (the writer's thread).
    private let chunks: Mutex<ChunkIndex>

    /// Opens (creating if needed) `<directory>/taskmaster.sqlite`.
    public init(directory: String, syncPolicy: SyncPolicy) throws(StorageError) {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("taskmaster.sqlite").path
        self.path = path
        self.syncPolicy = syncPolicy
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.label = "taskmaster"
            let synchronous = syncPolicy == .off ? "OFF" : "FULL"
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            }
            database = try DatabaseQueue(path: path, configuration: configuration)
            try database.write { db in
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                guard version <= Self.formatVersion else {
                    throw StorageError(
                        .cannotOpen,
                        path: path,
                        "the data directory was written by a newer task-master (format \(version); this one reads up to \(Self.formatVersion)): run that version or a later one"
                    )
                }
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS tasks (
                            id INTEGER PRIMARY KEY,
                            queue TEXT NOT NULL,
                            reference INTEGER NOT NULL,
                            attempt INTEGER NOT NULL,
                            payload BLOB NOT NULL,
                            error TEXT
                        );
                        CREATE TABLE IF NOT EXISTS chunks (
                            first_id INTEGER PRIMARY KEY,
                            count INTEGER NOT NULL,
                            queue TEXT NOT NULL,
                            tasks BLOB NOT NULL
                        );
                        CREATE TABLE IF NOT EXISTS chunk_done (
                            first_id INTEGER PRIMARY KEY,
                            last_id INTEGER NOT NULL
                        )
                        """
                )
                try db.execute(sql: "PRAGMA user_version = \(Self.formatVersion)")
                try Self.rewritePartlyDoneChunks(db, path: path)
            }
            chunks = Mutex(try database.read(Self.readChunkIndex))
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(
                .cannotOpen,
                path: path,
                "can't open the data directory's database: \(error) (check --data-dir exists and is writable)"
            )
        }
    }

    /// Every stored task, in id order.
    public func loadAll() throws(StorageError) -> [StoredTask] {
        do {
            return try database.read { db in
                var tasks: [StoredTask] = []
                let rows = try Row.fetchCursor(
                    db,
                    sql: "SELECT id, queue, reference, attempt, payload, error FROM tasks ORDER BY id"
                )
                while let row = try rows.next() {
                    let id: Int64 = row[0]
                    let reference: Int64 = row[2]
                    let attempt: Int64 = row[3]
                    let payload: Data = row[4]
                    tasks.append(
                        StoredTask(
                            id: TaskID(bitPattern: id),
                            queue: row[1],
                            reference: TaskID(bitPattern: reference),
                            attempt: UInt32(clamping: attempt),
                            payload: ByteBuffer(bytes: payload),
                            error: row[5]
                        )
                    )
                }
                try tasks.append(contentsOf: chunkTasks(db))
                tasks.sort { $0.id < $1.id }
                return tasks
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.cannotRead, path: path, "can't read the stored tasks: \(error)")
        }
    }

    /// The tasks of the chunk rows not done.
    private func chunkTasks(_ db: Database) throws -> [StoredTask] {
        let done = try Self.doneRanges(db)
        var tasks: [StoredTask] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT first_id, count, queue, tasks FROM chunks")
        while let row = try rows.next() {
            let (queue, records) = try Self.decodeChunk(row, path: path)
            for record in records where !done.containsInSorted(record.id) {
                tasks.append(
                    StoredTask(
                        id: record.id,
                        queue: queue,
                        reference: record.reference,
                        attempt: 0,
                        payload: record.payload
                    )
                )
            }
        }
        return tasks
    }

    /// A chunk row (`first_id, count, queue, tasks`) decoded: its queue and its tasks.
    static func decodeChunk(
        _ row: Row,
        path: String
    ) throws -> (queue: String, records: [ChunkRecords.Record]) {
        let first = TaskID(bitPattern: row[0] as Int64)
        let count: Int = row[1]
        let queue: String = row[2]
        let blob: Data = row[3]
        guard count > 0, let records = ChunkRecords.decode(ByteBuffer(bytes: blob), firstID: first, count: count)
        else {
            throw StorageError(
                .cannotRead,
                path: path,
                "the chunk of tasks from id \(first) is damaged; restore the data directory from a backup"
            )
        }
        return (queue, records)
    }

    /// The done ranges of chunks, in (unsigned) id order.
    private static func doneRanges(_ db: Database) throws -> [ClosedRange<TaskID>] {
        try Row.fetchAll(db, sql: "SELECT first_id, last_id FROM chunk_done").compactMap { row in
            let first = TaskID(bitPattern: row[0] as Int64)
            let last = TaskID(bitPattern: row[1] as Int64)
            return first <= last ? first...last : nil
        }.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// Opening: the tasks of chunks that are partly done become rows of their own, and those
    /// chunks go. Then every id stored is a live task's, and the engine, which starts after
    /// the largest id it restores, never hands out an id a chunk still covers.
    private static func rewritePartlyDoneChunks(_ db: Database, path: String) throws {
        let done = try doneRanges(db)
        guard !done.isEmpty else { return }
        let partlyDone = try Int64.fetchAll(
            db,
            sql: """
                SELECT first_id FROM chunks c WHERE EXISTS (
                    SELECT 1 FROM chunk_done d WHERE d.first_id BETWEEN c.first_id AND c.first_id + (c.count - 1)
                )
                """
        )
        let insert = try db.makeStatement(
            sql:
                "INSERT OR REPLACE INTO tasks (id, queue, reference, attempt, payload, error) VALUES (?, ?, ?, 0, ?, NULL)"
        )
        for first in partlyDone {  // one chunk in memory at a time
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT first_id, count, queue, tasks FROM chunks WHERE first_id = ?",
                    arguments: [first]
                )
            else { continue }
            let (queue, records) = try decodeChunk(row, path: path)
            for record in records where !done.containsInSorted(record.id) {
                try insert.execute(arguments: [
                    Int64(bitPattern: record.id), queue, Int64(bitPattern: record.reference),
                    Data(record.payload.readableBytesView),
                ])
            }
            try db.execute(sql: "DELETE FROM chunks WHERE first_id = ?", arguments: [first])
        }
        try db.execute(sql: "DELETE FROM chunk_done")
    }

    /// The chunk rows (after ``rewritePartlyDoneChunks(_:path:)``: none of their tasks done).
    private static func readChunkIndex(_ db: Database) throws -> ChunkIndex {
        var index = ChunkIndex()
        let rows = try Row.fetchAll(db, sql: "SELECT first_id, count FROM chunks").map { row in
            (first: TaskID(bitPattern: row[0] as Int64), count: row[1] as Int64)
        }
        for row in rows.sorted(by: { $0.first < $1.first }) where row.count > 0 {
            index.add(row.first...(row.first &+ TaskID(row.count - 1)))
        }
        return index
    }

    /// Writes one batch of journal mutations in one transaction (one commit, one fsync under
    /// `always` and `batch`). A task put and finished within the batch never touches the disk.
    ///
    /// After a failed write the store is not used again (the writer stops): its chunk index
    /// may then be ahead of the database.
    func write(_ mutations: [StoreMutation]) throws {
        let batch = CoalescedBatch(mutations)
        guard !batch.isEmpty else { return }
        try chunks.withLock { chunks in
            try database.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    try BatchStatements(db, path: path).run(batch, chunks: &chunks)
                    return .commit
                }
            }
        }
    }

    /// How many tasks are stored (for tests and logs).
    public func count() throws -> Int {
        try database.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT (SELECT COUNT(*) FROM tasks)
                        + (SELECT COALESCE(SUM(count), 0) FROM chunks)
                        - (SELECT COALESCE(SUM(last_id - first_id + 1), 0) FROM chunk_done)
                    """
            ) ?? 0
        }
    }
}

/// A journal batch reduced to what the database must do.
///
/// Inserts arrive with increasing ids (the engine hands ids out in journal order), so a
/// delete finds the insert it cancels by binary search; a batch out of that order falls back
/// to a dictionary.
struct CoalescedBatch {
    struct Move {
        var queue: String
        var attempt: UInt32
        var error: String?
    }

    private(set) var inserts: [StoredTask] = []
    private(set) var deletes: [TaskID] = []
    private(set) var moves: [(TaskID, Move)] = []

    init(_ mutations: [StoreMutation]) {
        var pendingInserts: [StoredTask?] = []
        var insertIDs: [TaskID] = []
        var unordered: [TaskID: Int]?  // only if ids ever arrive out of order
        var moveIndex: [TaskID: Move] = [:]
        var moveOrder: [TaskID] = []

        func insertIndex(of id: TaskID) -> Int? {
            if let unordered { return unordered[id] }
            return insertIDs.indexInSorted(of: id)
        }

        for mutation in mutations {
            switch mutation {
            case .insert(let task):
                if unordered == nil, let last = insertIDs.last, task.id <= last {
                    unordered = Dictionary(insertIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { $1 })
                }
                unordered?[task.id] = pendingInserts.count
                insertIDs.append(task.id)
                pendingInserts.append(task)
            case .delete(let id):
                if let index = insertIndex(of: id), pendingInserts[index] != nil {
                    pendingInserts[index] = nil  // put and finished within the batch
                } else {
                    deletes.append(id)
                    if !moveIndex.isEmpty { moveIndex[id] = nil }
                }
            case .move(let id, let queue, let attempt, let error):
                if let index = insertIndex(of: id), var task = pendingInserts[index] {
                    task.queue = queue
                    task.attempt = attempt
                    task.error = error
                    pendingInserts[index] = task
                } else {
                    if moveIndex[id] == nil { moveOrder.append(id) }
                    moveIndex[id] = Move(queue: queue, attempt: attempt, error: error)
                }
            }
        }
        inserts = pendingInserts.compactMap { $0 }
        moves = moveOrder.compactMap { id in moveIndex[id].map { (id, $0) } }
    }

    var isEmpty: Bool { inserts.isEmpty && deletes.isEmpty && moves.isEmpty }
}
