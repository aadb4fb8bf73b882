/// A task's identifier, assigned by the engine: unique for the engine's life, increasing.
public typealias TaskID = UInt64

/// Identifies a consumer (a connection) that tasks are leased to.
public typealias ConsumerID = UInt64

/// An item offered to a queue.
public struct NewTask: Hashable, Sendable {
    /// The value, opaque to the engine (a pickle, in TaskMaster).
    public var payload: [UInt8]
    /// The task this item answers, or 0.
    public var reference: TaskID

    public init(payload: [UInt8], reference: TaskID = 0) {
        self.payload = payload
        self.reference = reference
    }
}

/// An item in a queue, or leased out of one.
public struct QueuedTask: Hashable, Sendable {
    public var id: TaskID
    public var reference: TaskID
    /// How many times it has been handed out (this delivery included, once leased).
    public var attempt: UInt32
    public var payload: [UInt8]
    /// Why its last delivery failed (lease expired, consumer gone, given back), if it did.
    public var error: String?
    /// When it was put, in engine time (for the put-to-done latency).
    var enqueuedAt: Duration = .zero

    public init(id: TaskID, reference: TaskID, attempt: UInt32, payload: [UInt8], error: String? = nil) {
        self.id = id
        self.reference = reference
        self.attempt = attempt
        self.payload = payload
        self.error = error
    }
}
