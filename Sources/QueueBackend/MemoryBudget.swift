import Synchronization

/// The master's memory limit and what is charged against it: task payloads held by the
/// backend (queued and leased), and bytes buffered for connections.
///
/// A backend refuses (or holds back) puts that would exceed it; gets, acks and completions are
/// never refused, so that the system drains itself. Charges are plain counters: cheap enough to
/// update on every operation from any thread.
public final class MemoryBudget: Sendable {
    /// The limit in bytes; `Int.max` for none.
    public let limit: Int
    private let charged = Atomic<Int>(0)

    public init(limit: Int = .max) {
        self.limit = max(0, limit)
    }

    /// Bytes charged now.
    public var used: Int { charged.load(ordering: .relaxed) }

    /// Whether `bytes` more would stay within the limit.
    public func fits(_ bytes: Int) -> Bool {
        limit == .max || used + bytes <= limit
    }

    /// Counts `bytes` against the limit (negative gives them back).
    public func charge(_ bytes: Int) {
        guard bytes != 0 else { return }
        charged.wrappingAdd(bytes, ordering: .relaxed)
    }
}
