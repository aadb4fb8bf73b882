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
struct BatchStatements {
    private let db: Database

    init(_ db: Database) { self.db = db }

    func run(_ batch: CoalescedBatch) throws {
        if !batch.inserts.isEmpty {
            try withStatement(
                "INSERT OR REPLACE INTO tasks (id, queue, reference, attempt, payload, error) VALUES (?, ?, ?, ?, ?, ?)"
            ) { statement in
                for task in batch.inserts {
                    sqlite3_bind_int64(statement, 1, Int64(bitPattern: task.id))
                    bindText(statement, 2, task.queue)
                    sqlite3_bind_int64(statement, 3, Int64(bitPattern: task.reference))
                    sqlite3_bind_int64(statement, 4, Int64(task.attempt))
                    task.payload.withUnsafeReadableBytes { bytes in
                        if let base = bytes.baseAddress {
                            _ = sqlite3_bind_blob(statement, 5, base, Int32(bytes.count), transient)
                        } else {
                            _ = sqlite3_bind_zeroblob(statement, 5, 0)  // empty, but a blob (NOT NULL)
                        }
                    }
                    bindOptionalText(statement, 6, task.error)
                    try step(statement)
                }
            }
        }
        if !batch.deletes.isEmpty {
            try withStatement("DELETE FROM tasks WHERE id BETWEEN ? AND ?") { statement in
                for run in Self.runs(of: batch.deletes) {
                    sqlite3_bind_int64(statement, 1, Int64(bitPattern: run.lowerBound))
                    sqlite3_bind_int64(statement, 2, Int64(bitPattern: run.upperBound))
                    try step(statement)
                }
            }
        }
        if !batch.moves.isEmpty {
            try withStatement("UPDATE tasks SET queue = ?, attempt = ?, error = ? WHERE id = ?") { statement in
                for (id, change) in batch.moves {
                    bindText(statement, 1, change.queue)
                    sqlite3_bind_int64(statement, 2, Int64(change.attempt))
                    bindOptionalText(statement, 3, change.error)
                    sqlite3_bind_int64(statement, 4, Int64(bitPattern: id))
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

    private func bindOptionalText(_ statement: OpaquePointer, _ index: Int32, _ text: String?) {
        if let text { bindText(statement, index, text) } else { sqlite3_bind_null(statement, index) }
    }
}

/// SQLite copies the value before the bind returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
