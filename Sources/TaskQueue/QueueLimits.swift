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

    public init(
        defaultMaxSize: Int = 0,
        maxSizes: [String: Int] = [:],
        maxQueues: Int = 10_000,
        maxNameLength: Int = 200
    ) {
        self.defaultMaxSize = defaultMaxSize
        self.maxSizes = maxSizes
        self.maxQueues = maxQueues
        self.maxNameLength = maxNameLength
    }

    func maxSize(of queue: String) -> Int {
        max(0, maxSizes[queue] ?? defaultMaxSize)
    }
}
