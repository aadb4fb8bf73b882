import Foundation
import GRDB
import GRDBSQLite
import MemoryBackend
import NIOCore
import QueueBackend

/// Writes one coalesced batch with SQLite's C API: the store writer's hot path.
///
/// GRDB's `execute(arguments:)` boxes every value as a `DatabaseValue` in an array; at a
/// few hundred thousand rows a second that boxing, not SQLite, was most of the writer
/// thread's time. Here values are bound in place, and deletes of consecutive ids (a worker's
/// batch of results, a producer's batch of tasks) become one range delete.
///
/// A put's tasks (consecutive ids, one queue) go into one chunk row (``ChunkRecords``), not a
/// row each: a row's insert was most of what SQLite did per task. Deletes of a chunk's tasks
/// are recorded as done ranges (`chunk_done`) until all of them are done and the row goes; a
/// chunk's task that moves to another queue (dead-lettered, requeued) leaves it for a row of
/// its own, so that a task that waits long (a dead letter) keeps only itself on disk.
struct BatchStatements {
    private let db: Database
    private let path: String

    init(_ db: Database, path: String) {
        self.db = db
        self.path = path
    }

    func run(_ batch: CoalescedBatch, chunks: inout ChunkIndex) throws {
        if !batch.inserts.isEmpty { try insert(batch.inserts, chunks: &chunks) }
        if !batch.deletes.isEmpty { try delete(batch.deletes, chunks: &chunks) }
        if !batch.moves.isEmpty { try move(batch.moves, chunks: &chunks) }
    }

    /// Runs of a put's tasks as chunk rows, the rest a row each.
    private func insert(_ inserts: [StoredTask], chunks: inout ChunkIndex) throws {
        let runs = ChunkRecords.runs(of: inserts)
        // Ids are never handed out twice (the store's ids all live, see SQLiteTaskStore.init):
        // a clash would be a bug that loses tasks, so it stops the writer instead.
        for run in runs {
            let ids = inserts[run.lowerBound].id...inserts[run.upperBound - 1].id
            if chunks.overlaps(ids) {
                throw StorageError(.cannotWrite, path: path, "task ids \(ids) are already stored in a chunk")
            }
        }
        try insertRows(runs.lazy.filter { $0.count == 1 }.map { inserts[$0.lowerBound] })
        guard runs.contains(where: { $0.count > 1 }) else { return }
        try withStatement("INSERT INTO chunks (first_id, count, queue, tasks) VALUES (?, ?, ?, ?)") { statement in
            var bytes: [UInt8] = []
            for run in runs where run.count > 1 {
                let first = inserts[run.lowerBound]
                ChunkRecords.encode(inserts[run], into: &bytes)
                sqlite3_bind_int64(statement, 1, Int64(bitPattern: first.id))
                sqlite3_bind_int64(statement, 2, Int64(run.count))
                bindText(statement, 3, first.queue)
                bytes.withUnsafeBytes {
                    _ = sqlite3_bind_blob(statement, 4, $0.baseAddress, Int32($0.count), transient)
                }
                try step(statement)
                chunks.add(first.id...(first.id + TaskID(run.count - 1)))
            }
        }
    }

    /// Tasks as rows of their own.
    private func insertRows(_ tasks: some Sequence<StoredTask>) throws {
        var tasks = tasks.makeIterator()
        guard var task = tasks.next() else { return }
        try withStatement(
            "INSERT OR REPLACE INTO tasks (id, queue, reference, attempt, payload, error) VALUES (?, ?, ?, ?, ?, ?)"
        ) { statement in
            while true {
                sqlite3_bind_int64(statement, 1, Int64(bitPattern: task.id))
                bindText(statement, 2, task.queue)
                sqlite3_bind_int64(statement, 3, Int64(bitPattern: task.reference))
                sqlite3_bind_int64(statement, 4, Int64(task.attempt))
                bindBlob(statement, 5, task.payload)
                bindOptionalText(statement, 6, task.error)
                try step(statement)
                guard let next = tasks.next() else { return }
                task = next
            }
        }
    }

    /// Range deletes of single rows, then of the same ranges in chunks.
    private func delete(_ deletes: [TaskID], chunks: inout ChunkIndex) throws {
        let runs = Self.runs(of: deletes)
        try withStatement("DELETE FROM tasks WHERE id BETWEEN ? AND ?") { statement in
            for run in runs { try step(statement, run) }
        }
        try markDone(runs, chunks: &chunks)
    }

    /// Records `runs` done in the chunks holding them: new done ranges, and the rows (with
    /// their done ranges) whose tasks are all done go.
    private func markDone(_ runs: [ClosedRange<TaskID>], chunks: inout ChunkIndex) throws {
        var done: [ChunkIndex.Done] = []
        for run in runs { done += chunks.markDone(run) }
        guard !done.isEmpty else { return }
        if done.contains(where: { !$0.emptied }) {
            try withStatement("INSERT INTO chunk_done (first_id, last_id) VALUES (?, ?)") { statement in
                for change in done where !change.emptied {
                    for piece in change.pieces { try step(statement, piece) }
                }
            }
        }
        guard done.contains(where: \.emptied) else { return }
        try withStatement("DELETE FROM chunks WHERE first_id = ?") { statement in
            for change in done where change.emptied {
                sqlite3_bind_int64(statement, 1, Int64(bitPattern: change.chunk.lowerBound))
                try step(statement)
            }
        }
        try withStatement("DELETE FROM chunk_done WHERE first_id BETWEEN ? AND ?") { statement in
            for change in done where change.emptied { try step(statement, change.chunk) }
        }
    }

    /// A single row changes its queue; a chunk's task moves out of the chunk into a row of its
    /// own (read from the chunk's blob, once per chunk), and is done in the chunk.
    private func move(_ moves: [(TaskID, CoalescedBatch.Move)], chunks: inout ChunkIndex) throws {
        var fromChunks: [TaskID: [(TaskID, CoalescedBatch.Move)]] = [:]  // by the chunk's first id
        try withStatement("UPDATE tasks SET queue = ?, attempt = ?, error = ? WHERE id = ?") { statement in
            for (id, change) in moves {
                if let chunk = chunks.chunk(holding: id) {
                    fromChunks[chunk, default: []].append((id, change))
                    continue
                }
                bindText(statement, 1, change.queue)
                sqlite3_bind_int64(statement, 2, Int64(change.attempt))
                bindOptionalText(statement, 3, change.error)
                sqlite3_bind_int64(statement, 4, Int64(bitPattern: id))
                try step(statement)
            }
        }
        guard !fromChunks.isEmpty else { return }
        var moved: [StoredTask] = []
        for (first, changes) in fromChunks {
            let records = try chunkRecords(first: first)
            for (id, change) in changes {
                let record = records[Int(id - first)]
                moved.append(
                    StoredTask(
                        id: id,
                        queue: change.queue,
                        reference: record.reference,
                        attempt: change.attempt,
                        payload: record.payload,
                        error: change.error
                    )
                )
            }
        }
        try insertRows(moved)
        try markDone(Self.runs(of: moved.map(\.id)), chunks: &chunks)
    }

    /// The records of the chunk row starting at `first`.
    private func chunkRecords(first: TaskID) throws -> [ChunkRecords.Record] {
        let row = try Row.fetchOne(
            db,
            sql: "SELECT first_id, count, queue, tasks FROM chunks WHERE first_id = ?",
            arguments: [Int64(bitPattern: first)]
        )
        guard let row else {
            throw StorageError(.cannotWrite, path: path, "the chunk of tasks from id \(first) is missing")
        }
        return try SQLiteTaskStore.decodeChunk(row, path: path).records
    }

    /// `ids` as runs of consecutive ids: `[7, 3, 4, 5, 9]` → `3...5, 7...7, 9...9`. A range
    /// delete of a run removes exactly its ids (ids are stored as the signed bit pattern, so a
    /// run never crosses from Int64.max to Int64.min: it is split there).
    static func runs(of ids: [TaskID]) -> [ClosedRange<TaskID>] {
        let sorted = ids.sorted { Int64(bitPattern: $0) < Int64(bitPattern: $1) }
        var runs: [ClosedRange<TaskID>] = []
        var start = sorted[0]
        var end = sorted[0]
        for id in sorted.dropFirst() {
            if id == end { continue }  // a duplicate
            if end != TaskID(bitPattern: Int64.max), id == end &+ 1 {
                end = id
            } else {
                runs.append(start...end)
                (start, end) = (id, id)
            }
        }
        runs.append(start...end)
        return runs
    }

    private func withStatement(_ sql: String, _ body: (OpaquePointer) throws -> Void) throws {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(db.sqliteConnection, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: lastMessage, sql: sql)
        }
        defer { sqlite3_finalize(statement) }
        try body(statement)
    }

    /// Binds a range's bounds to parameters 1 and 2, then steps.
    private func step(_ statement: OpaquePointer, _ range: ClosedRange<TaskID>) throws {
        sqlite3_bind_int64(statement, 1, Int64(bitPattern: range.lowerBound))
        sqlite3_bind_int64(statement, 2, Int64(bitPattern: range.upperBound))
        try step(statement)
    }

    private func step(_ statement: OpaquePointer) throws {
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: lastMessage)
        }
    }

    private var lastMessage: String {
        sqlite3_errmsg(db.sqliteConnection).map { String(cString: $0) } ?? "unknown SQLite error"
    }

    private func bindText(_ statement: OpaquePointer, _ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            _ = utf8.withMemoryRebound(to: CChar.self) {
                sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), transient)
            }
        }
    }

    private func bindBlob(_ statement: OpaquePointer, _ index: Int32, _ payload: ByteBuffer) {
        payload.withUnsafeReadableBytes { bytes in
            if let base = bytes.baseAddress {
                _ = sqlite3_bind_blob(statement, index, base, Int32(bytes.count), transient)
            } else {
                _ = sqlite3_bind_zeroblob(statement, index, 0)  // empty, but a blob (NOT NULL)
            }
        }
    }

    private func bindOptionalText(_ statement: OpaquePointer, _ index: Int32, _ text: String?) {
        if let text { bindText(statement, index, text) } else { sqlite3_bind_null(statement, index) }
    }
}

/// SQLite copies the value before the bind returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
