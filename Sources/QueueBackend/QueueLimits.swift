/// What every backend enforces: capacities, lease timeouts, the delivery limit.
public struct QueueLimits: Hashable, Sendable {
    /// Capacity (items) of a queue with no entry in ``maxSizes``; 0 means unbounded (the
    /// default, like Python's `queue.Queue()`).
    public var defaultMaxSize: Int
    /// Capacity (items) per queue name; 0 means unbounded.
    public var maxSizes: [String: Int]
    /// Capacity in payload bytes per queue name (queued items only); absent or 0 means
    /// bounded only by the master's memory limit.
    public var maxBytes: [String: Int]
    /// How many queues may exist (they are created on first put). Default 10,000. Dead-letter
    /// queues and the result queue of a completion are never refused for lack of room.
    public var maxQueues: Int
    /// Longest queue name in UTF-8 bytes. Default 200.
    public var maxNameLength: Int
    /// How long a delivered task stays leased without an ack or a heartbeat from its consumer
    /// before it goes back to its queue. Default 60 s.
    public var leaseTimeout: Duration
    /// Lease timeout per queue name.
    public var leaseTimeouts: [String: Duration]
    /// Deliveries after which a task that keeps coming back goes to `<queue>.dead` instead.
    /// 0 means never. Default 5.
    public var maxDeliveries: Int

    public init(
        defaultMaxSize: Int = 0,
        maxSizes: [String: Int] = [:],
        maxBytes: [String: Int] = [:],
        maxQueues: Int = 10_000,
        maxNameLength: Int = 200,
        leaseTimeout: Duration = .seconds(60),
        leaseTimeouts: [String: Duration] = [:],
        maxDeliveries: Int = 5
    ) {
        self.defaultMaxSize = defaultMaxSize
        self.maxSizes = maxSizes
        self.maxBytes = maxBytes
        self.maxQueues = maxQueues
        self.maxNameLength = maxNameLength
        self.leaseTimeout = leaseTimeout
        self.leaseTimeouts = leaseTimeouts
        self.maxDeliveries = maxDeliveries
    }

    /// The lease timeout of `queue`.
    public func leaseTimeout(of queue: String) -> Duration {
        leaseTimeouts[queue] ?? leaseTimeout
    }

    /// The item capacity of `queue`; 0 is unbounded.
    public func maxSize(of queue: String) -> Int {
        max(0, maxSizes[queue] ?? defaultMaxSize)
    }

    /// The byte capacity of `queue`; 0 is unbounded.
    public func maxBytes(of queue: String) -> Int {
        max(0, maxBytes[queue] ?? 0)
    }

    /// The queue a task of `queue` goes to when it is given up on.
    public static func deadLetterQueue(of queue: String) -> String {
        queue + ".dead"
    }

    /// Whether `queue` is a dead-letter queue.
    public static func isDeadLetterQueue(_ queue: String) -> Bool {
        queue.hasSuffix(".dead")
    }

    /// Checks a queue name: 1 to ``maxNameLength`` bytes of UTF-8, no control characters.
    public func validate(queueName name: String) throws(QueueError) {
        let length = name.utf8.count
        guard length > 0, length <= maxNameLength else {
            throw QueueError(
                .invalidQueueName,
                queue: name,
                "invalid queue name: it must be 1 to \(maxNameLength) bytes of UTF-8, not \(length)"
            )
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            throw QueueError(.invalidQueueName, queue: name, "invalid queue name: it holds control characters")
        }
    }
}
