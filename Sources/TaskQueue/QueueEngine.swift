import Synchronization

/// Named FIFO queues shared by many concurrent clients, with blocking gets and puts,
/// capacity limits, and leases that keep delivered tasks until they are acknowledged.
///
/// Delivery is at-least-once: a task handed to a consumer is leased to it; if the consumer
/// goes away (``release(consumer:)``) or gives it back (``nack(_:in:consumer:)``) the task
/// returns to the front of its queue and is delivered again.
///
/// All state sits behind one lock and no waiter is resumed while it is held. Waits are
/// timed with the injected clock, so tests can drive time by hand.
public final class QueueEngine: Sendable {
    private let state: Mutex<EngineState>
    private let waiterIDs = Atomic<UInt64>(1)
    private let clock: any Clock<Duration>

    /// - Parameters:
    ///   - limits: capacities; queues are unbounded by default.
    ///   - clock: the clock that times waits.
    public init(limits: QueueLimits = QueueLimits(), clock: any Clock<Duration> = ContinuousClock()) {
        self.state = Mutex(EngineState(limits: limits))
        self.clock = clock
    }

    private func nextWaiterID() -> UInt64 {
        waiterIDs.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    private func makeTimer(waiterID: UInt64, queue: String) -> (Duration) -> Task<Void, Never> {
        { [clock] duration in
            Task { [weak self] in
                do {
                    try await clock.sleep(for: duration)
                } catch {
                    return  // cancelled: the waiter was served first
                }
                self?.endWaiter(waiterID, in: queue, cancelled: false)
            }
        }
    }

    private func endWaiter(_ waiterID: UInt64, in queue: String, cancelled: Bool) {
        state.withLock { state in
            var resumptions: [Resumption] = []
            state.endWaiter(waiterID, in: queue, cancelled: cancelled, resumptions: &resumptions)
            return resumptions
        }.run()
    }

    // MARK: Producing

    /// Appends `tasks` to `queue` in order and returns their ids.
    ///
    /// On a bounded queue the items go in as room appears, behind earlier waiting puts.
    /// - Throws: ``QueueError`` `.queueFull` (with the ids put so far) when the wait runs out,
    ///   `.invalidQueueName`, `.tooManyQueues`, `.shuttingDown`; `CancellationError`.
    public func put(_ tasks: [NewTask], into queue: String, wait: WaitLimit = .forever) async throws -> [TaskID] {
        let waiterID = nextWaiterID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[TaskID], any Error>) in
                state.withLock { state in
                    var resumptions: [Resumption] = []
                    if Task.isCancelled {
                        resumptions.append(.putFailed(continuation, CancellationError(), timer: nil))
                    } else {
                        state.put(
                            tasks,
                            into: queue,
                            wait: wait,
                            waiterID: waiterID,
                            continuation: continuation,
                            makeTimer: makeTimer(waiterID: waiterID, queue: queue),
                            resumptions: &resumptions
                        )
                    }
                    return resumptions
                }.run()
            }
        } onCancel: {
            endWaiter(waiterID, in: queue, cancelled: true)
        }
    }

    // MARK: Consuming

    /// Leases up to `maxItems` tasks from the front of `queue` to `consumer`, waiting up to
    /// `wait` for the first one. Returns an empty array if the wait ran out.
    ///
    /// Waiting getters are served in arrival order, each as soon as items are there.
    /// - Throws: ``QueueError`` `.invalidQueueName`, `.tooManyQueues`, `.shuttingDown`;
    ///   `CancellationError`.
    public func get(
        from queue: String,
        maxItems: Int,
        consumer: ConsumerID,
        wait: WaitLimit = .none
    ) async throws -> [QueuedTask] {
        let waiterID = nextWaiterID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[QueuedTask], any Error>) in
                state.withLock { state in
                    var resumptions: [Resumption] = []
                    if Task.isCancelled {
                        resumptions.append(.getFailed(continuation, CancellationError(), timer: nil))
                    } else {
                        state.get(
                            from: queue,
                            maxItems: maxItems,
                            consumer: consumer,
                            wait: wait,
                            waiterID: waiterID,
                            continuation: continuation,
                            makeTimer: makeTimer(waiterID: waiterID, queue: queue),
                            resumptions: &resumptions
                        )
                    }
                    return resumptions
                }.run()
            }
        } onCancel: {
            endWaiter(waiterID, in: queue, cancelled: true)
        }
    }

    /// Acknowledges leased tasks: they are done and forgotten.
    ///
    /// - Parameter markDone: whether this counts as `task_done()` for ``join(_:)``.
    ///   Python's `get` acknowledges its delivery without marking it done.
    @discardableResult
    public func ack(_ ids: [TaskID], in queue: String, consumer: ConsumerID, markDone: Bool = true) -> AckResult {
        runAfterUnlock(
            state.withLock { state in
                var resumptions: [Resumption] = []
                let (result, _) = state.settleLeases(
                    ids,
                    in: queue,
                    consumer: consumer,
                    requeue: false,
                    markDone: markDone,
                    resumptions: &resumptions
                )
                return (result, resumptions)
            }
        )
    }

    /// Gives leased tasks back: they return to the front of their queue and are delivered again.
    @discardableResult
    public func nack(_ ids: [TaskID], in queue: String, consumer: ConsumerID) -> AckResult {
        runAfterUnlock(
            state.withLock { state in
                var resumptions: [Resumption] = []
                let (result, _) = state.settleLeases(
                    ids,
                    in: queue,
                    consumer: consumer,
                    requeue: true,
                    markDone: false,
                    resumptions: &resumptions
                )
                return (result, resumptions)
            }
        )
    }

    /// Atomically acknowledges `ids` in `taskQueue` and appends to `resultQueue` each result
    /// whose `reference` is one of the acknowledged tasks. Results for tasks that are no longer
    /// leased to `consumer` are dropped, so every task gets at most one result.
    /// Returns the ack outcome and the ids of the results kept.
    public func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        consumer: ConsumerID,
        results: [NewTask],
        into resultQueue: String
    ) throws(QueueError) -> (AckResult, [TaskID]) {
        let (outcome, resumptions): ((AckResult, [TaskID]), [Resumption]) = try state.withLock {
            (state) throws(QueueError) in
            var resumptions: [Resumption] = []
            let outcome = try state.complete(
                ids,
                in: taskQueue,
                consumer: consumer,
                results: results,
                into: resultQueue,
                resumptions: &resumptions
            )
            return (outcome, resumptions)
        }
        resumptions.run()
        return outcome
    }

    /// Returns every task leased to `consumer` to the front of its queue; call it when the
    /// consumer's connection ends. Returns how many tasks went back.
    @discardableResult
    public func release(consumer: ConsumerID) -> Int {
        runAfterUnlock(
            state.withLock { state in
                var resumptions: [Resumption] = []
                let count = state.release(consumer, resumptions: &resumptions)
                return (count, resumptions)
            }
        )
    }

    // MARK: Python's task_done and join

    /// Marks one item of `queue` done, as Python's `Queue.task_done()`.
    public func taskDone(_ queue: String) throws(QueueError) {
        let resumptions: [Resumption] = try state.withLock { (state) throws(QueueError) in
            var resumptions: [Resumption] = []
            try state.taskDone(queue, resumptions: &resumptions)
            return resumptions
        }
        resumptions.run()
    }

    /// Waits until every item put on `queue` is done, as Python's `Queue.join()`.
    public func join(_ queue: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            state.withLock { state in
                var resumptions: [Resumption] = []
                state.join(queue, continuation: continuation, resumptions: &resumptions)
                return resumptions
            }.run()
        }
    }

    // MARK: Inspecting

    /// Counters of every queue, by name.
    public func snapshot() -> [QueueSnapshot] {
        state.withLock { state in state.queues.map(\.snapshot) }.sorted { $0.name < $1.name }
    }

    /// Counters of one queue, creating it if needed (Python's `qsize()` on a fresh queue is 0).
    public func snapshot(of queue: String) throws(QueueError) -> QueueSnapshot {
        try state.withLock { (state) throws(QueueError) in state.queues[try state.queueID(named: queue)].snapshot }
    }

    /// How many tasks are leased to `consumer`.
    public func leaseCount(consumer: ConsumerID) -> Int {
        state.withLock { $0.leases.count(of: consumer) }
    }

    /// Checks a queue name without creating the queue.
    public func validate(queueName: String) throws(QueueError) {
        try EngineState.validate(name: queueName, limits: state.withLock { $0.limits })
    }

    /// Fails every waiting get, put and join with `.shuttingDown`, refuses new ones, and
    /// returns every leased task to its queue.
    public func shutDown() {
        state.withLock { state in
            var resumptions: [Resumption] = []
            state.shutDown(resumptions: &resumptions)
            return resumptions
        }.run()
    }
}
