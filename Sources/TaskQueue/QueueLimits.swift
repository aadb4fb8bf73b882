/// Capacities the engine enforces.
public struct QueueLimits: Hashable, Sendable {
    /// Capacity of a queue with no entry in ``maxSizes``; 0 means unbounded (the default,
    /// like Python's `queue.Queue()`).
    public var defaultMaxSize: Int
    /// Capacity per queue name; 0 means unbounded.
    public var maxSizes: [String: Int]
    /// How many queues may exist (they are created on first use). Default 10,000.
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
        maxQueues: Int = 10_000,
        maxNameLength: Int = 200,
        leaseTimeout: Duration = .seconds(60),
        leaseTimeouts: [String: Duration] = [:],
        maxDeliveries: Int = 5
    ) {
        self.leaseTimeout = leaseTimeout
        self.leaseTimeouts = leaseTimeouts
        self.maxDeliveries = maxDeliveries
        self.defaultMaxSize = defaultMaxSize
        self.maxSizes = maxSizes
        self.maxQueues = maxQueues
        self.maxNameLength = maxNameLength
    }

    func leaseTimeout(of queue: String) -> Duration {
        leaseTimeouts[queue] ?? leaseTimeout
    }

    /// The queue a task of `queue` goes to when it is given up on.
    public static func deadLetterQueue(of queue: String) -> String {
        queue + ".dead"
    }

    func maxSize(of queue: String) -> Int {
        max(0, maxSizes[queue] ?? defaultMaxSize)
    }
}
