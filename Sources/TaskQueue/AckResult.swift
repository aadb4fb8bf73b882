/// The outcome of an ack or nack.
public struct AckResult: Hashable, Sendable {
    /// How many ids were leased to the consumer and are now settled.
    public var count: Int
    /// Ids not leased to this consumer in this queue.
    public var unknown: [TaskID]

    public init(count: Int, unknown: [TaskID]) {
        self.count = count
        self.unknown = unknown
    }
}
