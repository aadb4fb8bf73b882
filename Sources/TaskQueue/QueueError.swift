/// An error of the queue engine, naming the queue it concerns.
public struct QueueError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The queue stayed full for the whole wait.
        public static let queueFull = Code("queueFull")
        /// The name is empty, too long, or holds control characters.
        public static let invalidQueueName = Code("invalidQueueName")
        /// Creating the queue would exceed the configured number of queues.
        public static let tooManyQueues = Code("tooManyQueues")
        /// The engine is shutting down.
        public static let shuttingDown = Code("shuttingDown")
        /// `task_done()` was called more times than there were items.
        public static let taskDoneTooManyTimes = Code("taskDoneTooManyTimes")

        public var description: String { name }
    }

    public var code: Code
    /// The queue concerned, if any.
    public var queue: String?
    public var message: String
    /// For `.queueFull`: the ids of the items that were put before the wait ran out.
    public var acceptedIDs: [TaskID]

    public init(_ code: Code, queue: String?, _ message: String, acceptedIDs: [TaskID] = []) {
        self.code = code
        self.queue = queue
        self.message = message
        self.acceptedIDs = acceptedIDs
    }

    public var description: String { message }
}
