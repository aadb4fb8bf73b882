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
    /// A worker's periodic report: extends every lease the connection holds and tells the
    /// master how the worker is doing; answered by ``ServerMessage/pong``.
    case heartbeat(WorkerReport)
    /// Up to `maxItems` queued items of `queue`, left in place (for dead letters);
    /// answered by ``ServerMessage/deliveries(_:)``.
    case peek(queue: String, maxItems: UInt32)
    /// A maintenance operation on a queue; answered by ``ServerMessage/acknowledged(_:)``
    /// with the number of items affected.
    case maintain(queue: String, operation: MaintenanceOperation)
}

/// What a worker says about itself in a heartbeat.
public struct WorkerReport: Hashable, Sendable {
    public var tasksDone: UInt64
    public var tasksFailed: UInt64
    public var uptimeSeconds: UInt64

    public init(tasksDone: UInt64, tasksFailed: UInt64, uptimeSeconds: UInt64) {
        self.tasksDone = tasksDone
        self.tasksFailed = tasksFailed
        self.uptimeSeconds = uptimeSeconds
    }
}

/// Maintenance operations on a queue.
public enum MaintenanceOperation: UInt8, Hashable, Sendable {
    /// Move every item of `<queue>.dead` back to `<queue>` with fresh attempts.
    case requeueDead = 1
    /// Delete every queued item of the queue.
    case purge = 2
}

/// A client message with the id that its response will carry.
public struct Request: Hashable, Sendable {
    public var id: RequestID
    public var message: ClientMessage

    public init(id: RequestID, _ message: ClientMessage) {
        self.id = id
        self.message = message
    }

    /// Whether the request carries payloads a master keeps (a put's items, a completion's
    /// results).
    public var storesPayloads: Bool {
        switch message {
        case .put, .complete: return true
        default: return false
        }
    }

    /// About how many bytes encoding it takes, to reserve them at once.
    public var encodedSizeEstimate: Int {
        switch message {
        case .put(let queue, let items, _):
            return 32 + queue.utf8.count + items.reduce(0) { $0 + 12 + $1.payload.readableBytes }
        case .complete(let taskQueue, let ids, let resultQueue, let results):
            return 32 + taskQueue.utf8.count + resultQueue.utf8.count + 8 * ids.count
                + results.reduce(0) { $0 + 12 + $1.payload.readableBytes }
        case .ack(_, let ids), .nack(_, let ids): return 48 + 8 * ids.count
        default: return 64
        }
    }
}
