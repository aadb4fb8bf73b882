import NIOCore
import PostgresNIO
import QueueBackend

/// A row's columns read in order, each decoded as the type asked for. postgres-nio's
/// `decode((A, B, …).self)` looks up the tuple's generic metadata for every row (a fifth of
/// the master's CPU in a PostgreSQL batch, `perf`); this is specialized where it is used.
struct Columns {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) {
        cells = row.makeIterator()
    }

    mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        guard let cell = cells.next() else { throw PostgresDecodingError.Code.missingData }
        return try cell.decode(T.self, context: .default)
    }

    /// A task from its columns `id, reference, attempt, payload, error`.
    mutating func task() throws -> QueuedTask {
        let id = try next(Int64.self)
        let reference = try next(Int64.self)
        let attempt = try next(Int32.self)
        let payload = try next(ByteBuffer.self)
        let error = try next(String?.self)
        return QueuedTask(
            id: TaskID(bitPattern: id),
            reference: TaskID(bitPattern: reference),
            attempt: UInt32(clamping: attempt),
            payload: payload,
            error: error
        )
    }
}
