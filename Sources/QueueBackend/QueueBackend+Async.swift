import Synchronization
import TaskMasterStatus

// The operations as `async` functions, for callers that await rather than pass a reply
// (services, tests, tools). Cancelling the calling task ends a waiting get, put or join with
// `.cancelled`, through `cancelWaits(of:)`: it ends every wait of that consumer.

extension QueueBackend {
    /// Appends `tasks` to `queue` and returns their ids; see ``put(_:into:wait:consumer:reply:)``.
    public func put(
        _ tasks: [NewTask],
        into queue: String,
        wait: WaitLimit = .forever,
        consumer: ConsumerID = 0
    ) async throws(QueueError) -> [TaskID] {
        try await waiting(consumer) { reply in put(tasks, into: queue, wait: wait, consumer: consumer, reply: reply) }
    }

    /// Leases up to `maxItems` tasks of `queue` to `consumer`; see ``get(from:maxItems:wait:consumer:reply:)``.
    public func get(
        from queue: String,
        maxItems: Int,
        consumer: ConsumerID,
        wait: WaitLimit = .none
    ) async throws(QueueError) -> [QueuedTask] {
        try await waiting(consumer) { reply in
            get(from: queue, maxItems: maxItems, wait: wait, consumer: consumer, reply: reply)
        }
    }

    /// Acknowledges leased tasks; see ``ack(_:in:consumer:markDone:reply:)``.
    @discardableResult
    public func ack(
        _ ids: [TaskID],
        in queue: String,
        consumer: ConsumerID,
        markDone: Bool = true
    ) async throws(QueueError) -> AckResult {
        try await answer { reply in ack(ids, in: queue, consumer: consumer, markDone: markDone, reply: reply) }
    }

    /// Gives leased tasks back; see ``nack(_:in:consumer:reply:)``.
    @discardableResult
    public func nack(_ ids: [TaskID], in queue: String, consumer: ConsumerID) async throws(QueueError) -> AckResult {
        try await answer { reply in nack(ids, in: queue, consumer: consumer, reply: reply) }
    }

    /// Acknowledges tasks and appends their results atomically; see
    /// ``complete(_:in:results:into:consumer:reply:)``.
    @discardableResult
    public func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        results: [NewTask],
        into resultQueue: String,
        consumer: ConsumerID
    ) async throws(QueueError) -> Completion {
        try await answer { reply in
            complete(ids, in: taskQueue, results: results, into: resultQueue, consumer: consumer, reply: reply)
        }
    }

    /// Extends the leases of `consumer`; see ``extendLeases(of:reply:)``.
    @discardableResult
    public func extendLeases(of consumer: ConsumerID) async throws(QueueError) -> Int {
        try await answer { reply in extendLeases(of: consumer, reply: reply) }
    }

    /// Releases `consumer`; see ``release(_:reply:)``.
    @discardableResult
    public func release(_ consumer: ConsumerID) async throws(QueueError) -> Int {
        try await answer { reply in release(consumer, reply: reply) }
    }

    /// Ends the leases that ran out; see ``expireLeases(reply:)``.
    @discardableResult
    public func expireLeases() async throws(QueueError) -> Int {
        try await answer { reply in expireLeases(reply: reply) }
    }

    /// Queued tasks of `queue`, left in place; see ``peek(_:maxItems:reply:)``.
    public func peek(_ queue: String, maxItems: Int) async throws(QueueError) -> [QueuedTask] {
        try await answer { reply in peek(queue, maxItems: maxItems, reply: reply) }
    }

    /// Moves dead letters back; see ``requeueDead(_:reply:)``.
    @discardableResult
    public func requeueDead(_ deadQueue: String) async throws(QueueError) -> Int {
        try await answer { reply in requeueDead(deadQueue, reply: reply) }
    }

    /// Deletes the queued tasks of `queue`; see ``purge(_:reply:)``.
    @discardableResult
    public func purge(_ queue: String) async throws(QueueError) -> Int {
        try await answer { reply in purge(queue, reply: reply) }
    }

    /// Python's `task_done()`; see ``taskDone(_:reply:)``.
    public func taskDone(_ queue: String) async throws(QueueError) {
        try await answer { reply in taskDone(queue, reply: reply) }
    }

    /// Python's `join()`; see ``join(_:consumer:reply:)``.
    public func join(_ queue: String, consumer: ConsumerID = 0) async throws(QueueError) {
        try await waiting(consumer) { reply in join(queue, consumer: consumer, reply: reply) }
    }

    /// The counters of one queue; see ``status(of:reply:)``.
    public func status(of queue: String) async throws(QueueError) -> QueueStatus {
        try await answer { reply in status(of: queue, reply: reply) }
    }

    /// The counters of every queue; see ``statuses(reply:)``.
    public func statuses() async throws(QueueError) -> BackendStatus {
        try await answer { reply in statuses(reply: reply) }
    }

    /// Stops the backend; see ``shutDown(reply:)``.
    public func shutDown() async throws(QueueError) {
        try await answer { reply in shutDown(reply: reply) }
    }

    // MARK: Bridging

    /// Runs an operation and waits for its reply.
    private func answer<T: Sendable>(
        _ operation: (@escaping QueueReply<T>) -> Void
    ) async throws(QueueError) -> T {
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<T, QueueError>, Never>) in
            operation { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Runs an operation that may wait, and ends the waits of `consumer` if the calling task is
    /// cancelled meanwhile (also when it was cancelled before the operation started waiting).
    private func waiting<T: Sendable>(
        _ consumer: ConsumerID,
        _ operation: (@escaping QueueReply<T>) -> Void
    ) async throws(QueueError) -> T {
        let cancelled = Atomic<Bool>(false)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, QueueError>, Never>) in
                operation { continuation.resume(returning: $0) }
                if Task.isCancelled || cancelled.load(ordering: .acquiring) { cancelWaits(of: consumer) }
            }
        } onCancel: {
            cancelled.store(true, ordering: .releasing)
            cancelWaits(of: consumer)
        }
        return try result.get()
    }
}
