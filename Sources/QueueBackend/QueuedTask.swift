import NIOCore

/// A task's identifier, assigned by the backend: unique and increasing for the life of the
/// queues (across restarts of a durable backend).
public typealias TaskID = UInt64

/// Identifies a consumer (a client connection) that tasks are leased to and whose waits can be
/// ended together. Unique within one master; backends that several masters share qualify it
/// with the master themselves.
public typealias ConsumerID = UInt64

/// An item offered to a queue.
public struct NewTask: Hashable, Sendable {
    /// The value, opaque to the backend (a pickle, in TaskMaster).
    public var payload: ByteBuffer
    /// The task this item answers (a result's task), or 0.
    public var reference: TaskID

    public init(payload: ByteBuffer, reference: TaskID = 0) {
        self.payload = payload
        self.reference = reference
    }

    public init(payload: [UInt8], reference: TaskID = 0) {
        self.init(payload: ByteBuffer(bytes: payload), reference: reference)
    }
}

/// An item in a queue, or leased out of one.
public struct QueuedTask: Hashable, Sendable {
    public var id: TaskID
    /// The task this item answers, or 0.
    public var reference: TaskID
    /// How many times it has been handed out (this delivery included, once leased).
    public var attempt: UInt32
    public var payload: ByteBuffer
    /// Why its last delivery failed (lease expired, consumer gone, given back), if it did.
    public var error: String?

    public init(id: TaskID, reference: TaskID, attempt: UInt32, payload: ByteBuffer, error: String? = nil) {
        self.id = id
        self.reference = reference
        self.attempt = attempt
        self.payload = payload
        self.error = error
    }
}
