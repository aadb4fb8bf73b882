/// A request from a native client, after the hello.
public enum ClientMessage: Hashable, Sendable {
    /// Append items to a queue; answered by ``ServerMessage/putAccepted(_:)``.
    case put(queue: String, items: [NewItem], wait: WaitTime)
    /// Take up to `maxItems` items, waiting up to `wait` for the first one;
    /// answered by ``ServerMessage/deliveries(_:)`` (empty when the wait ran out).
    case get(queue: String, maxItems: UInt32, wait: WaitTime)
    /// Finish leased tasks; answered by ``ServerMessage/acknowledged(_:)``.
    case ack(queue: String, ids: [TaskID])
    /// Give leased tasks back: they go to the front of their queue;
    /// answered by ``ServerMessage/acknowledged(_:)``.
    case nack(queue: String, ids: [TaskID])
    /// Atomically acknowledge tasks and put their results. A result whose task is no longer
    /// leased to this connection is dropped, so every task has at most one result;
    /// answered by ``ServerMessage/completed(_:)``.
    case complete(taskQueue: String, ids: [TaskID], resultQueue: String, results: [NewItem])
    /// Counters of every queue and client; answered by ``ServerMessage/statistics(_:)``.
    case stats
    /// Answered by ``ServerMessage/pong``.
    case ping
}

/// A client message with the id that its response will carry.
public struct Request: Hashable, Sendable {
    public var id: RequestID
    public var message: ClientMessage

    public init(id: RequestID, _ message: ClientMessage) {
        self.id = id
        self.message = message
    }
}
