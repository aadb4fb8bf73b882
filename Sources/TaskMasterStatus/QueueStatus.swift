/// One queue's counters. The `total…` values only grow while the daemon runs.
public struct QueueStatus: Sendable, Codable, Hashable {
    public var name: String
    /// Items waiting to be delivered.
    public var depth: Int
    /// Items delivered and not yet acknowledged.
    public var inFlight: Int
    /// Capacity; 0 means unbounded.
    public var maxSize: Int
    /// Payload bytes of the tasks waiting to be delivered.
    public var bytes: Int
    /// Capacity in payload bytes; 0 means bounded only by the master's memory limit.
    public var maxBytes: Int
    /// Gets waiting for an item.
    public var waitingConsumers: Int
    /// Puts waiting for room.
    public var waitingProducers: Int
    public var totalPut: UInt64
    public var totalDelivered: UInt64
    public var totalAcked: UInt64
    public var totalNacked: UInt64
    /// Deliveries of items that had been delivered before.
    public var totalRedelivered: UInt64
    /// Items given up on (e.g. too many delivery attempts).
    public var totalDead: UInt64

    public init(
        name: String,
        depth: Int = 0,
        inFlight: Int = 0,
        maxSize: Int = 0,
        bytes: Int = 0,
        maxBytes: Int = 0,
        waitingConsumers: Int = 0,
        waitingProducers: Int = 0,
        totalPut: UInt64 = 0,
        totalDelivered: UInt64 = 0,
        totalAcked: UInt64 = 0,
        totalNacked: UInt64 = 0,
        totalRedelivered: UInt64 = 0,
        totalDead: UInt64 = 0
    ) {
        self.name = name
        self.depth = depth
        self.inFlight = inFlight
        self.maxSize = maxSize
        self.bytes = bytes
        self.maxBytes = maxBytes
        self.waitingConsumers = waitingConsumers
        self.waitingProducers = waitingProducers
        self.totalPut = totalPut
        self.totalDelivered = totalDelivered
        self.totalAcked = totalAcked
        self.totalNacked = totalNacked
        self.totalRedelivered = totalRedelivered
        self.totalDead = totalDead
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name
        case depth
        case inFlight = "in_flight"
        case maxSize = "max_size"
        case bytes
        case maxBytes = "max_bytes"
        case waitingConsumers = "waiting_consumers"
        case waitingProducers = "waiting_producers"
        case totalPut = "total_put"
        case totalDelivered = "total_delivered"
        case totalAcked = "total_acked"
        case totalNacked = "total_nacked"
        case totalRedelivered = "total_redelivered"
        case totalDead = "total_dead"
    }
}
