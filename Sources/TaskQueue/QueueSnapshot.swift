/// Counters of one queue at one moment.
public struct QueueSnapshot: Hashable, Sendable {
    public var name: String
    /// Items waiting to be delivered.
    public var depth: Int
    /// Items delivered and not yet acknowledged.
    public var inFlight: Int
    /// Capacity, 0 for unbounded.
    public var maxSize: Int
    /// Getters waiting for items.
    public var waitingConsumers: Int
    /// Putters waiting for room.
    public var waitingProducers: Int
    public var totalPut: UInt64
    public var totalDelivered: UInt64
    public var totalAcked: UInt64
    public var totalNacked: UInt64
    /// Deliveries of items that had been delivered before.
    public var totalRedelivered: UInt64
    /// Items moved to the dead-letter queue after too many deliveries.
    public var totalDead: UInt64
}

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
