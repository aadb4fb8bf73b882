/// An error of a queue backend, naming the queue it concerns.
public struct QueueError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The queue stayed full (its `maxsize` or `max_bytes`) for the whole wait.
        public static let queueFull = Code("queueFull")
        /// The master's memory limit stayed reached for the whole wait.
        public static let memoryLimit = Code("memoryLimit")
        /// The name is empty, too long, or holds control characters.
        public static let invalidQueueName = Code("invalidQueueName")
        /// Creating the queue would exceed the configured number of queues.
        public static let tooManyQueues = Code("tooManyQueues")
        /// The backend is shutting down.
        public static let shuttingDown = Code("shuttingDown")
        /// The wait was ended by its consumer (it went away, or its caller was cancelled).
        public static let cancelled = Code("cancelled")
        /// `task_done()` was called more times than there were items.
        public static let taskDoneTooManyTimes = Code("taskDoneTooManyTimes")
        /// The backend's store can't be reached now (a database failing over); retry later.
        public static let backendUnavailable = Code("backendUnavailable")
        /// The backend's store failed; nothing more can be made durable.
        public static let storageFailed = Code("storageFailed")

        public var description: String { name }
    }

    public var code: Code
    /// The queue concerned, if any.
    public var queue: String?
    /// One line for the client: what went wrong and what to do.
    public var message: String
    /// For `.queueFull` and `.memoryLimit`: the ids of the items put before the wait ran out.
    public var acceptedIDs: [TaskID]

    public init(_ code: Code, queue: String?, _ message: String, acceptedIDs: [TaskID] = []) {
        self.code = code
        self.queue = queue
        self.message = message
        self.acceptedIDs = acceptedIDs
    }

    public var description: String { message }

    /// The wait ended because its consumer went away or its caller was cancelled.
    public static func cancelled(_ queue: String?) -> QueueError {
        QueueError(.cancelled, queue: queue, "the wait was cancelled")
    }

    /// The backend is stopping.
    public static func shuttingDown(_ queue: String?) -> QueueError {
        QueueError(.shuttingDown, queue: queue, "the master is shutting down")
    }
}
