import NIOCore
import PostgresNIO

/// Where a row version lies in its table: PostgreSQL's `ctid` (a block and an item in it),
/// read and bound in `tid`'s binary form (6 bytes), so that neither side converts it to text.
/// A master keeps the row of each task it leased: acks and completions find it there with a
/// TID scan (see `SQL.ack`).
struct RowID: Hashable, Sendable, CustomStringConvertible {
    var block: UInt32
    var item: UInt16

    /// No row: item 0 never names one (items count from 1).
    static let unknown = RowID(block: 0, item: 0)

    /// As PostgreSQL prints a `tid`: `(block,item)`.
    var description: String { "(\(block),\(item))" }
}

extension RowID: PostgresNonThrowingEncodable, PostgresArrayEncodable {
    static var psqlType: PostgresDataType { .tid }
    static var psqlArrayType: PostgresDataType { .tidArray }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer,
        context: PostgresEncodingContext<JSONEncoder>
    ) {
        buffer.writeInteger(block)
        buffer.writeInteger(item)
    }
}

extension RowID: PostgresDecodable, PostgresArrayDecodable {
    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer,
        type: PostgresDataType,
        format: PostgresFormat,
        context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard format == .binary, type == .tid else { throw PostgresDecodingError.Code.typeMismatch }
        guard buffer.readableBytes == 6, let block = buffer.readInteger(as: UInt32.self),
            let item = buffer.readInteger(as: UInt16.self)
        else { throw PostgresDecodingError.Code.failure }
        self.init(block: block, item: item)
    }
}
