import Foundation
import GRDB
import MemoryBackend
import NIOCore
import QueueBackend
import TaskMasterConfiguration

/// The durable copy of the queues: every queued and leased task in one SQLite table, in WAL
/// mode, kept in step with the engine through its ``Journal``.
///
/// Leases are not stored: after a restart every task that was leased is queued again, which is
/// what at-least-once delivery needs. Ids keep growing across restarts.
public final class SQLiteTaskStore: Sendable {
    /// The database file.
    public let path: String
    public let syncPolicy: SyncPolicy
    let database: DatabaseQueue

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
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS tasks (
                            id INTEGER PRIMARY KEY,
                            queue TEXT NOT NULL,
                            reference INTEGER NOT NULL,
                            attempt INTEGER NOT NULL,
                            payload BLOB NOT NULL,
                            error TEXT
                        )
                        """
                )
            }
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
                return tasks
            }
        } catch {
            throw StorageError(.cannotRead, path: path, "can't read the stored tasks: \(error)")
        }
    }

    /// Writes one batch of journal mutations in one transaction (one commit, one fsync under
    /// `always` and `batch`). A task put and finished within the batch never touches the disk.
    func write(_ mutations: [StoreMutation]) throws {
        let batch = CoalescedBatch(mutations)
        guard !batch.isEmpty else { return }
        try database.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                try BatchStatements(db).run(batch)
                return .commit
            }
        }
    }

    /// How many tasks are stored (for tests and logs).
    public func count() throws -> Int {
        try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks") ?? 0 }
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
