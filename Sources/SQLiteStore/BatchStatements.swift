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
/// are recorded as done ranges (`chunk_done`) until all of them are done and the row goes;
/// a chunk's task that moves to another queue gets a row in `chunk_moves`.
struct BatchStatements {
    private let db: Database

    init(_ db: Database) { self.db = db }

    func run(_ batch: CoalescedBatch, chunks: inout ChunkIndex) throws {
        if !batch.inserts.isEmpty { try insert(batch.inserts, chunks: &chunks) }
        if !batch.deletes.isEmpty { try delete(batch.deletes, chunks: &chunks) }
        if !batch.moves.isEmpty { try move(batch.moves, chunks: &chunks) }
    }

    /// Runs of a put's tasks as chunk rows, the rest a row each.
    private func insert(_ inserts: [StoredTask], chunks: inout ChunkIndex) throws {
        let runs = ChunkRecords.runs(of: inserts)
        if runs.contains(where: { $0.count == 1 }) {
            try withStatement(
                "INSERT OR REPLACE INTO tasks (id, queue, reference, attempt, payload, error) VALUES (?, ?, ?, ?, ?, ?)"
            ) { statement in
                for run in runs where run.count == 1 {
                    let task = inserts[run.lowerBound]
                    sqlite3_bind_int64(statement, 1, Int64(bitPattern: task.id))
                    bindText(statement, 2, task.queue)
                    sqlite3_bind_int64(statement, 3, Int64(bitPattern: task.reference))
                    sqlite3_bind_int64(statement, 4, Int64(task.attempt))
                    bindBlob(statement, 5, task.payload)
                    bindOptionalText(statement, 6, task.error)
                    try step(statement)
                }
            }
        }
        guard runs.contains(where: { $0.count > 1 }) else { return }
        try withStatement("INSERT OR REPLACE INTO chunks (first_id, count, queue, tasks) VALUES (?, ?, ?, ?)") {
            statement in
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

    /// Range deletes of single rows; in chunks, the done ranges, and the rows whose tasks are
    /// all done.
    private func delete(_ deletes: [TaskID], chunks: inout ChunkIndex) throws {
        var done: [ChunkIndex.Done] = []
        try withStatement("DELETE FROM tasks WHERE id BETWEEN ? AND ?") { statement in
            for run in Self.runs(of: deletes) {
                try step(statement, run)
                done += chunks.markDone(run)
            }
        }
        guard !done.isEmpty else { return }
        try withStatement("INSERT INTO chunk_done (first_id, last_id) VALUES (?, ?)") { statement in
            for change in done where !change.emptied {
                for piece in change.pieces { try step(statement, piece) }
            }
        }
        try withStatement("DELETE FROM chunk_moves WHERE id BETWEEN ? AND ?") { statement in
            for change in done where change.hasMoves {
                for piece in change.emptied ? [change.chunk] : change.pieces { try step(statement, piece) }
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

    /// A single row changes its queue; a chunk's task gets a row in `chunk_moves` that
    /// overrides what the chunk says.
    private func move(_ moves: [(TaskID, CoalescedBatch.Move)], chunks: inout ChunkIndex) throws {
        try withStatement("UPDATE tasks SET queue = ?, attempt = ?, error = ? WHERE id = ?") { update in
            try withStatement("INSERT OR REPLACE INTO chunk_moves (id, queue, attempt, error) VALUES (?, ?, ?, ?)") {
                override in
                for (id, change) in moves {
                    let inChunk = chunks.markMoved(id)
                    let statement = inChunk ? override : update
                    let (queueIndex, attemptIndex, errorIndex, idIndex): (Int32, Int32, Int32, Int32) =
                        inChunk ? (2, 3, 4, 1) : (1, 2, 3, 4)
                    bindText(statement, queueIndex, change.queue)
                    sqlite3_bind_int64(statement, attemptIndex, Int64(change.attempt))
                    bindOptionalText(statement, errorIndex, change.error)
                    sqlite3_bind_int64(statement, idIndex, Int64(bitPattern: id))
                    try step(statement)
                }
            }
        }
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
