/// The outcome of an ack or nack.
public struct AckResult: Hashable, Sendable {
    /// How many ids were leased to the consumer and are now settled.
    public var count: Int
    /// Ids not leased to this consumer in this queue: unknown, settled already, or leased to
    /// another consumer since their lease ended.
    public var unknown: [TaskID]

    public init(count: Int, unknown: [TaskID]) {
        self.count = count
        self.unknown = unknown
    }
}

/// The outcome of a completion: the ack, and the results that were kept.
public struct Completion: Hashable, Sendable {
    public var ack: AckResult
    /// The ids given to the results kept, in the order of those results.
    public var resultIDs: [TaskID]

    public init(ack: AckResult, resultIDs: [TaskID]) {
        self.ack = ack
        self.resultIDs = resultIDs
    }
}
