import Synchronization
import TaskMasterStatus

/// Named FIFO queues shared by many concurrent clients, with blocking gets and puts,
/// capacity limits, and leases that keep delivered tasks until they are acknowledged.
///
/// Delivery is at-least-once: a task handed to a consumer is leased to it; if the consumer
/// goes away (``release(consumer:)``), gives it back (``nack(_:in:consumer:)``), or lets the
/// lease run out (``expireLeases()``), the task returns to the front of its queue and is
/// delivered again — or, after `maxDeliveries`, moves to `<queue>.dead`.
///
/// With a ``Journal`` every change to the queued tasks is also recorded for a store, and
/// operations that change them return only once the store has made them durable.
///
/// All state sits behind one lock and no waiter is resumed while it is held. Time comes from
/// the injected clock, so tests can drive waits and lease timeouts by hand.
public final class QueueEngine: Sendable {
    private let state: Mutex<EngineState>
    private let waiterIDs = Atomic<UInt64>(1)
    private let clock: any Clock<Duration>
    private let elapsed: @Sendable () -> Duration
    private let journal: Journal?
    private let waitsForDurability: Bool
    private let onDone: (@Sendable (_ queue: String, _ latency: Duration) -> Void)?

    /// - Parameters:
    ///   - limits: capacities, lease timeouts and the delivery limit.
    ///   - clock: the clock that times waits and leases.
    ///   - journal: where changes go for a store; nil keeps queues in memory only.
    ///   - waitsForDurability: whether changing operations wait until the store has them
    ///     (false for a store that syncs lazily).
    ///   - restoring: tasks read back from the store, queued again in id order.
    ///   - onDone: told, outside the lock, how long each acknowledged or completed task took
    ///     from put to done (for a latency histogram).
    public init(
        limits: QueueLimits = QueueLimits(),
        clock: any Clock<Duration> = ContinuousClock(),
        journal: Journal? = nil,
        waitsForDurability: Bool = true,
        restoring tasks: [StoredTask] = [],
        onDone: (@Sendable (_ queue: String, _ latency: Duration) -> Void)? = nil
    ) throws(QueueError) {
        var initial = EngineState(limits: limits, journal: journal)
        initial.collectsLatencies = onDone != nil
        try initial.restore(tasks)
        self.onDone = onDone
        self.state = Mutex(initial)
        self.clock = clock
        self.elapsed = Self.stopwatch(clock)
        self.journal = journal
        self.waitsForDurability = waitsForDurability
    }

    /// Time since `clock`'s now, as a function (opens the existential clock once).
    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    private func nextWaiterID() -> UInt64 {
        waiterIDs.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Runs `body` under the lock with the engine's time set; sends its store changes to the
    /// journal; runs the resumptions after unlocking.
    private func locked<T>(_ body: (inout EngineState) -> (T, [Resumption])) -> T {
        let now = elapsed()
        let (value, resumptions, latencies) = state.withLock { state in
            state.clockNow = now
            let (value, resumptions) = body(&state)
            _ = state.commitChanges()
            return (value, resumptions, state.takeLatencies())
        }
        resumptions.run()
        report(latencies)
        return value
    }

    private func report(_ latencies: [(queue: String, latency: Duration)]) {
        guard let onDone else { return }
        for (queue, latency) in latencies { onDone(queue, latency) }
    }

    private func lockedThrowing<T>(
        _ body: (inout EngineState) throws(QueueError) -> (T, [Resumption])
    )
        throws(QueueError) -> T
    {
        let now = elapsed()
        let (value, resumptions, latencies): (T, [Resumption], [(queue: String, latency: Duration)]) =
            try state.withLock { (state) throws(QueueError) in
                state.clockNow = now
                defer { _ = state.commitChanges() }
                let (value, resumptions) = try body(&state)
                return (value, resumptions, state.takeLatencies())
            }
        resumptions.run()
        report(latencies)
        return value
    }

    /// Waits until everything changed so far is durable, when the store asks for that.
    private func durable() async {
        guard let mark = durabilityMark() else { return }
        await journal?.waitUntilDurable(mark)
    }

    /// What a caller of an operation made with `untilDurable: false` waits for before it
    /// answers: a mark covering every change so far, or nil when there is nothing to wait for
    /// (no store, a store that syncs lazily, or everything already durable).
    /// - Parameter completion: whether the operation was a ``complete(_:in:consumer:results:into:untilDurable:)``,
    ///   which needs no wait when the journal defers completions.
    public func durabilityMark(completion: Bool = false) -> UInt64? {
        guard let journal, waitsForDurability, !(completion && journal.defersCompletions) else { return nil }
        return journal.pendingMark
    }

    /// Waits until every change up to `mark` (from ``durabilityMark()``) is durable.
    public func waitUntilDurable(_ mark: UInt64) async {
        await journal?.waitUntilDurable(mark)
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

    /// Runs `start` under the lock with a new waiter's id, continuation and timer maker, and
    /// waits for the continuation; cancelling the calling task ends the waiter.
    private func waiter<T: Sendable>(
        in queue: String,
        failing failed: @escaping (CheckedContinuation<T, any Error>, any Error, Task<Void, Never>?) -> Resumption,
        start: (
            inout EngineState,
            UInt64,
            CheckedContinuation<T, any Error>,
            (Duration) -> Task<Void, Never>,
            inout [Resumption]
        ) -> Void
    ) async throws -> T {
        let waiterID = nextWaiterID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                locked { state in
                    var resumptions: [Resumption] = []
                    if Task.isCancelled {
                        resumptions.append(failed(continuation, CancellationError(), nil))
                    } else {
                        start(&state, waiterID, continuation, makeTimer(waiterID: waiterID, queue: queue), &resumptions)
                    }
                    return ((), resumptions)
                }
            }
        } onCancel: {
            endWaiter(waiterID, in: queue, cancelled: true)
        }
    }

    private func endWaiter(_ waiterID: UInt64, in queue: String, cancelled: Bool) {
        locked { state in
            var resumptions: [Resumption] = []
            state.endWaiter(waiterID, in: queue, cancelled: cancelled, resumptions: &resumptions)
            return ((), resumptions)
        }
    }

    // MARK: Producing

    /// Appends `tasks` to `queue` in order and returns their ids, once they are durable.
    ///
    /// On a bounded queue the items go in as room appears, behind earlier waiting puts.
    /// - Throws: ``QueueError`` `.queueFull` (with the ids put so far) when the wait runs out,
    ///   `.invalidQueueName`, `.tooManyQueues`, `.shuttingDown`; `CancellationError`.
    /// - Parameter untilDurable: false returns once the tasks are queued; the caller then waits
    ///   with ``waitUntilDurable(_:)`` before it tells anyone they are stored.
    public func put(
        _ tasks: [NewTask],
        into queue: String,
        wait: WaitLimit = .forever,
        untilDurable: Bool = true
    ) async throws -> [TaskID] {
        do {
            let ids = try await waiter(in: queue, failing: Resumption.putFailed) {
                state,
                waiterID,
                continuation,
                makeTimer,
                resumptions in
                state.put(
                    tasks,
                    into: queue,
                    wait: wait,
                    waiterID: waiterID,
                    continuation: continuation,
                    makeTimer: makeTimer,
                    resumptions: &resumptions
                )
            }
            if untilDurable { await durable() }
            return ids
        } catch let error as QueueError where !error.acceptedIDs.isEmpty {
            if untilDurable { await durable() }  // what went in before the wait ran out is reported as put
            throw error
        }
    }

    /// Appends `tasks` to `queue` if they all fit now, and returns their ids; nil if they
    /// don't. Never suspends: it waits neither for room nor for the disk (a caller that must
    /// not answer before the tasks are stored waits on ``durabilityMark()``).
    public func putIfRoom(_ tasks: [NewTask], into queue: String) throws(QueueError) -> [TaskID]? {
        try lockedThrowing { (state) throws(QueueError) in
            var resumptions: [Resumption] = []
            let ids = try state.putIfRoom(tasks, into: queue, resumptions: &resumptions)
            return (ids, resumptions)
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
        try await waiter(in: queue, failing: Resumption.getFailed) {
            state,
            waiterID,
            continuation,
            makeTimer,
            resumptions in
            state.get(
                from: queue,
                maxItems: maxItems,
                consumer: consumer,
                wait: wait,
                waiterID: waiterID,
                continuation: continuation,
                makeTimer: makeTimer,
                resumptions: &resumptions
            )
        }
    }

    /// Leases up to `maxItems` tasks that are in `queue` now to `consumer`; maybe none. Never
    /// suspends.
    public func getIfThere(
        from queue: String,
        maxItems: Int,
        consumer: ConsumerID
    ) throws(QueueError)
        -> [QueuedTask]
    {
        try lockedThrowing { (state) throws(QueueError) in
            var resumptions: [Resumption] = []
            let tasks = try state.getIfThere(
                from: queue,
                maxItems: maxItems,
                consumer: consumer,
                resumptions: &resumptions
            )
            return (tasks, resumptions)
        }
    }

    /// Acknowledges leased tasks: they are done and forgotten (durably, with a store).
    ///
    /// - Parameter markDone: whether this counts as `task_done()` for ``join(_:)``.
    ///   Python's `get` acknowledges its delivery without marking it done.
    @discardableResult
    public func ack(_ ids: [TaskID], in queue: String, consumer: ConsumerID, markDone: Bool = true) async -> AckResult {
        let result = settleNow(ids, in: queue, consumer: consumer, requeue: false, markDone: markDone)
        await durable()
        return result
    }

    /// Gives leased tasks back: they return to the front of their queue and are delivered
    /// again (or dead-lettered past the delivery limit).
    @discardableResult
    public func nack(_ ids: [TaskID], in queue: String, consumer: ConsumerID) async -> AckResult {
        let result = settleNow(ids, in: queue, consumer: consumer, requeue: true, markDone: false)
        await durable()
        return result
    }

    /// Ends leases without waiting for the disk: the tasks are done (`requeue` false) or go
    /// back to the front of their queue. Never suspends; see ``durabilityMark()``.
    @discardableResult
    public func settleNow(
        _ ids: [TaskID],
        in queue: String,
        consumer: ConsumerID,
        requeue: Bool,
        markDone: Bool = true
    ) -> AckResult {
        locked { state in
            var resumptions: [Resumption] = []
            let (result, _) = state.settleLeases(
                ids,
                in: queue,
                consumer: consumer,
                requeue: requeue,
                markDone: markDone,
                resumptions: &resumptions
            )
            return (result, resumptions)
        }
    }

    /// Atomically acknowledges `ids` in `taskQueue` and appends to `resultQueue` each result
    /// whose `reference` is one of the acknowledged tasks. Results for tasks that are no longer
    /// leased to `consumer` are dropped, so every task gets at most one result.
    /// Returns the ack outcome and the ids of the results kept, once durable — or at once,
    /// when the journal defers completions (``Journal/defersCompletions``).
    public func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        consumer: ConsumerID,
        results: [NewTask],
        into resultQueue: String,
        untilDurable: Bool = true
    ) async throws(QueueError) -> (AckResult, [TaskID]) {
        let outcome = try lockedThrowing { (state) throws(QueueError) in
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
        if untilDurable, journal?.defersCompletions != true { await durable() }
        return outcome
    }

    /// Returns every task leased to `consumer` to the front of its queue; call it when the
    /// consumer's connection ends. Returns how many tasks went back.
    @discardableResult
    public func release(consumer: ConsumerID) -> Int {
        locked { state in
            var resumptions: [Resumption] = []
            let count = state.release(consumer, resumptions: &resumptions)
            return (count, resumptions)
        }
    }

    // MARK: Leases

    /// Extends every lease `consumer` holds by its queue's lease timeout, from now: the
    /// consumer's heartbeat. Returns how many leases it holds.
    @discardableResult
    public func extendLeases(consumer: ConsumerID) -> Int {
        locked { state in (state.extendLeases(of: consumer), []) }
    }

    /// Ends every lease that ran out: the task goes back to its queue (or to the dead-letter
    /// queue past the delivery limit). Returns how many ended.
    @discardableResult
    public func expireLeases() -> Int {
        locked { state in
            var resumptions: [Resumption] = []
            let count = state.expireLeases(resumptions: &resumptions)
            return (count, resumptions)
        }
    }

    /// Expires leases every `interval` until cancelled. Run it beside the server.
    public func runLeaseReaper(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: interval)
            } catch {
                return
            }
            expireLeases()
        }
    }

    // MARK: Dead letters and maintenance

    /// Up to `maxItems` queued tasks of `queue`, left in place.
    public func peek(_ queue: String, maxItems: Int) -> [QueuedTask] {
        state.withLock { $0.peek(queue, maxItems: maxItems) }
    }

    /// Moves every task of the dead-letter queue `deadQueue` (`<queue>.dead`) back to
    /// `<queue>`, with fresh attempts. Returns how many moved.
    public func requeueDead(_ deadQueue: String) async throws(QueueError) -> Int {
        let moved = try lockedThrowing { (state) throws(QueueError) in
            var resumptions: [Resumption] = []
            let moved = try state.requeueDead(deadQueue, resumptions: &resumptions)
            return (moved, resumptions)
        }
        await durable()
        return moved
    }

    /// Deletes every queued task of `queue` (leased ones are left to their consumers).
    /// Returns how many were deleted.
    public func purge(_ queue: String) async -> Int {
        let purged = locked { state in
            var resumptions: [Resumption] = []
            let purged = state.purge(queue, resumptions: &resumptions)
            return (purged, resumptions)
        }
        await durable()
        return purged
    }

    // MARK: Python's task_done and join

    /// Marks one item of `queue` done, as Python's `Queue.task_done()`.
    public func taskDone(_ queue: String) throws(QueueError) {
        try lockedThrowing { (state) throws(QueueError) in
            var resumptions: [Resumption] = []
            try state.taskDone(queue, resumptions: &resumptions)
            return ((), resumptions)
        }
    }

    /// Waits until every item put on `queue` is done, as Python's `Queue.join()`.
    /// - Throws: `CancellationError` if the calling task is cancelled first.
    public func join(_ queue: String) async throws {
        let waiterID = nextWaiterID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                locked { state in
                    var resumptions: [Resumption] = []
                    if Task.isCancelled {
                        resumptions.append(.joinFailed(continuation, CancellationError()))
                    } else {
                        state.join(queue, waiterID: waiterID, continuation: continuation, resumptions: &resumptions)
                    }
                    return ((), resumptions)
                }
            }
        } onCancel: {
            locked { state in
                var resumptions: [Resumption] = []
                state.cancelJoin(waiterID, in: queue, resumptions: &resumptions)
                return ((), resumptions)
            }
        }
    }

    // MARK: Inspecting

    /// Counters of every queue, by name.
    public func snapshot() -> [QueueStatus] {
        state.withLock { state in state.queues.map(\.status) }.sorted { $0.name < $1.name }
    }

    /// Counters of one queue, creating it if needed (Python's `qsize()` on a fresh queue is 0).
    public func snapshot(of queue: String) throws(QueueError) -> QueueStatus {
        try state.withLock { (state) throws(QueueError) in state.queues[try state.queueID(named: queue)].status }
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
        locked { state in
            var resumptions: [Resumption] = []
            state.shutDown(resumptions: &resumptions)
            return ((), resumptions)
        }
    }
}
