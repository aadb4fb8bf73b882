import TaskMasterStatus

/// How a backend answers an operation: exactly once, with its outcome.
///
/// A backend that can answer at once (an in-memory one, when no wait is needed) calls it before
/// the operation's method returns, on the caller's thread; otherwise later, from any thread. A
/// caller that must answer on an event loop hops there itself.
public typealias QueueReply<Success> = @Sendable (Result<Success, QueueError>) -> Void

/// Named FIFO queues shared by many concurrent consumers: what a master's sessions (native and
/// Python) talk to, whatever keeps the queues (memory, memory journaled to SQLite, PostgreSQL).
///
/// Every operation takes a ``QueueReply`` called exactly once; the `async` forms in the
/// extension wrap them for callers that prefer to await. Operations a caller starts one after
/// another take effect in that order.
///
/// ## Guarantees every backend gives (tested by the conformance suite)
///
/// - **FIFO.** Items come out of a queue in the order they went in, except items given back
///   (nack, a lease that ended, a consumer that went away), which return to the *front* of
///   their queue, oldest first.
/// - **Leases, at-least-once.** A delivered task is leased to its consumer until acknowledged,
///   completed or given back. A lease ends without an ack when its consumer is released
///   (``release(_:reply:)``: the connection ended) or when it runs out (the queue's lease
///   timeout passes without ``extendLeases(of:reply:)``; ``expireLeases(reply:)`` ends those):
///   the task goes back to the front of its queue with its delivery counted, or, once it has
///   been delivered `maxDeliveries` times, to `<queue>.dead` with the reason.
/// - **One result per task.** ``complete(_:in:results:into:consumer:reply:)`` acknowledges tasks
///   and appends results atomically, keeping only results whose task (their `reference`) was
///   still leased to that consumer.
/// - **Capacity.** A put on a queue at its `maxsize` (or `max_bytes`, or the master's memory
///   limit) takes what fits, then waits for room up to its ``WaitLimit``, then fails with
///   `.queueFull` (or `.memoryLimit`) and the ids of what went in. Results of completions,
///   given-back tasks and dead letters are never refused for lack of room.
/// - **Waits.** A get on an empty queue waits up to its ``WaitLimit`` for the first item and
///   answers empty when the wait runs out; waiting gets are served in arrival order. Waits end
///   early with `.cancelled` when their consumer is released or ``cancelWaits(of:)`` is called,
///   and with `.shuttingDown` at ``shutDown(reply:)``.
/// - **Release is final.** Once ``release(_:reply:)`` has answered, nothing is leased to the
///   consumer and nothing will be: its waits have ended.
/// - **Durability.** A backend that stores its queues answers a put, an ack or a nack only
///   once the change is stored (a completion may be answered earlier where the backend says so:
///   until it is stored its tasks stay stored and are delivered again after a crash). A task
///   may be delivered before the put that made it is answered.
/// - **No wrong answers.** When its store can't be reached, a backend answers
///   `.backendUnavailable` (or waits, bounded), never an outcome that did not happen.
public protocol QueueBackend: Sendable {
    // MARK: Producing

    /// Appends `tasks` to `queue` in order; answers their ids.
    ///
    /// On a full queue the items go in as room appears, behind earlier waiting puts; when the
    /// wait runs out the error carries the ids of those that went in.
    func put(
        _ tasks: [NewTask],
        into queue: String,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[TaskID]>
    )

    // MARK: Consuming

    /// Leases up to `maxItems` tasks from the front of `queue` to `consumer`, waiting up to
    /// `wait` for the first one; answers an empty array when the wait runs out.
    func get(
        from queue: String,
        maxItems: Int,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[QueuedTask]>
    )

    /// Acknowledges tasks leased to `consumer`: they are done and forgotten.
    /// - Parameter markDone: whether this counts as `task_done()` for ``join(_:consumer:reply:)``
    ///   (Python's `get` acknowledges its delivery without marking it done).
    func ack(
        _ ids: [TaskID],
        in queue: String,
        consumer: ConsumerID,
        markDone: Bool,
        reply: @escaping QueueReply<AckResult>
    )

    /// Gives tasks leased to `consumer` back: they return to the front of their queue (or go to
    /// `<queue>.dead` past the delivery limit).
    func nack(_ ids: [TaskID], in queue: String, consumer: ConsumerID, reply: @escaping QueueReply<AckResult>)

    /// Acknowledges `ids` in `taskQueue` and appends to `resultQueue` each result whose
    /// `reference` is one of them, in one atomic step.
    func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        results: [NewTask],
        into resultQueue: String,
        consumer: ConsumerID,
        reply: @escaping QueueReply<Completion>
    )

    // MARK: Leases and consumers

    /// Extends every lease `consumer` holds by its queue's lease timeout, from now (the
    /// consumer's heartbeat); answers how many it holds.
    func extendLeases(of consumer: ConsumerID, reply: @escaping QueueReply<Int>)

    /// Ends the waits of `consumer` with `.cancelled`; its leases stay.
    func cancelWaits(of consumer: ConsumerID)

    /// Ends the waits of `consumer` and returns every task leased to it to its queue (the
    /// consumer's connection ended); answers how many tasks went back.
    func release(_ consumer: ConsumerID, reply: @escaping QueueReply<Int>)

    /// Ends every lease that ran out (its task goes back, or to the dead-letter queue); answers
    /// how many. Safe to call from several places at once, and on every master of a shared store.
    func expireLeases(reply: @escaping QueueReply<Int>)

    // MARK: Dead letters and maintenance

    /// Up to `maxItems` queued tasks at the front of `queue`, left in place.
    func peek(_ queue: String, maxItems: Int, reply: @escaping QueueReply<[QueuedTask]>)

    /// Moves every task of the dead-letter queue `deadQueue` (`<queue>.dead`) back to `<queue>`,
    /// with fresh delivery counts; answers how many moved.
    func requeueDead(_ deadQueue: String, reply: @escaping QueueReply<Int>)

    /// Deletes every queued task of `queue` (leased ones are left to their consumers); answers
    /// how many.
    func purge(_ queue: String, reply: @escaping QueueReply<Int>)

    // MARK: Python's task_done and join

    /// Marks one item of `queue` done, as Python's `Queue.task_done()`.
    func taskDone(_ queue: String, reply: @escaping QueueReply<Void>)

    /// Answers once every item put on `queue` is done, as Python's `Queue.join()`.
    func join(_ queue: String, consumer: ConsumerID, reply: @escaping QueueReply<Void>)

    // MARK: Inspecting

    /// The counters of one queue (zeros for a queue that does not exist).
    func status(of queue: String, reply: @escaping QueueReply<QueueStatus>)

    /// The counters of every queue, by name, and how many tasks each consumer holds.
    func statuses(reply: @escaping QueueReply<BackendStatus>)

    // MARK: Stopping

    /// Ends every wait with `.shuttingDown`, refuses new operations, and returns every leased
    /// task to its queue; answers once that is done (and stored, for a backend that stores).
    func shutDown(reply: @escaping QueueReply<Void>)
}

/// The counters of a backend at one moment.
public struct BackendStatus: Hashable, Sendable {
    /// Every queue, sorted by name.
    public var queues: [QueueStatus]
    /// How many tasks each consumer of this master holds (consumers holding none are absent).
    public var leasesByConsumer: [ConsumerID: Int]

    public init(queues: [QueueStatus], leasesByConsumer: [ConsumerID: Int]) {
        self.queues = queues
        self.leasesByConsumer = leasesByConsumer
    }
}
