import Foundation

extension StatusSnapshot {
    /// The JSON document, keys sorted: the one form `/api/stats` and `task-ctl stats --json`
    /// both print.
    /// - Throws: `EncodingError` for a non-finite number (none is ever made by the master).
    public func json(pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
