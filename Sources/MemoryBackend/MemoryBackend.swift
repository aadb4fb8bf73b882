import QueueBackend
import Synchronization
import TaskMasterStatus

/// The queues in this process's memory: a ``QueueBackend`` whose operations are answered at
/// once, on the caller's thread, unless they wait (for items, for room, for the disk).
///
/// With a ``Journal`` every change to the queued tasks is also recorded for a store (see the
/// SQLiteStore module), and puts, acks and nacks are answered once the store has them.
///
/// All state sits behind one lock and no reply runs while it is held. Timed waits end through
/// ``WaitTimer``, a service that must run beside the backend; time comes from the injected
/// clock, so tests can drive waits and lease timeouts by hand.
public final class MemoryBackend: QueueBackend {
    private let state: Mutex<EngineState>
    let clock: any Clock<Duration>
    private let elapsed: @Sendable () -> Duration
    private let journal: Journal?
    private let waitsForDurability: Bool
    private let onDone: (@Sendable (_ queue: String, _ latency: Duration) -> Void)?
    /// Told when puts start being held back or refused by the memory limit (true) and when
    /// that is over (false): once per episode, however many puts wait or give up meanwhile.
    let onMemoryLimit: (@Sendable (_ reached: Bool) -> Void)?
    /// Signalled when a timed wait's end comes before every earlier one.
    let timerWakeup = Wakeup()

    /// - Parameters:
    ///   - limits: capacities, lease timeouts and the delivery limit.
    ///   - budget: the memory limit payloads are charged against.
    ///   - clock: the clock that times waits and leases.
    ///   - journal: where changes go for a store; nil keeps queues in memory only.
    ///   - waitsForDurability: whether replies wait until the store has the changes (false for
    ///     a store that syncs lazily).
    ///   - restoring: tasks read back from the store, queued again in id order.
    ///   - onDone: told, outside the lock, how long each acknowledged or completed task took
    ///     from put to done (for a latency histogram).
    ///   - onMemoryLimit: told when puts start being held back or refused by the memory limit
    ///     (true), and when none waits for memory any more and the last one held back went in
    ///     or would fit now (false): once per episode (for the log).
    public init(
        limits: QueueLimits = QueueLimits(),
        budget: MemoryBudget = MemoryBudget(),
        clock: any Clock<Duration> = ContinuousClock(),
        journal: Journal? = nil,
        waitsForDurability: Bool = true,
        restoring tasks: [StoredTask] = [],
        onDone: (@Sendable (_ queue: String, _ latency: Duration) -> Void)? = nil,
        onMemoryLimit: (@Sendable (_ reached: Bool) -> Void)? = nil
    ) throws(QueueError) {
        var initial = EngineState(limits: limits, budget: budget, journal: journal)
        initial.collectsLatencies = onDone != nil
        try initial.restore(tasks)
        self.onDone = onDone
        self.onMemoryLimit = onMemoryLimit
        self.state = Mutex(initial)
        self.clock = clock
        self.elapsed = Self.stopwatch(clock)
        self.journal = journal
        self.waitsForDurability = waitsForDurability && journal != nil
    }

    /// The services that must run beside the backend: the timer that ends timed waits.
    public var services: [WaitTimer] { [WaitTimer(backend: self)] }

    /// Time since `clock`'s now, as a function (opens the existential clock once).
    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// Runs `body` under the lock with the engine's time set, sends its store changes to the
    /// journal, then (unlocked) answers the waiters it resumed. Returns `body`'s value and the
    /// journal mark its changes reach.
    private func locked<T>(_ body: (inout EngineState, inout [Resumption]) -> T) -> (T, mark: UInt64) {
        let now = elapsed()
        var resumptions: [Resumption] = []
        let (value, mark, latencies, wakeTimer) = state.withLock { state in
            state.now = now
            let value = body(&state, &resumptions)
            let mark = state.commitChanges()
            let wakeTimer = state.deadlinesMovedEarlier
            state.deadlinesMovedEarlier = false
            return (value, mark, state.takeLatencies(), wakeTimer)
        }
        if wakeTimer { timerWakeup.signal() }
        for resumption in resumptions {
            switch resumption {
            case .delivered(let reply, let result): reply(result)
            case .accepted(let reply, let result): answerWhenDurable(reply, result, mark: mark)
            case .joined(let reply, let result): reply(result)
            }
        }
        if let onDone { for (queue, latency) in latencies { onDone(queue, latency) } }
        return (value, mark)
    }

    /// Answers `reply` once the changes up to `mark` are durable, when the store asks for that
    /// and the result reports changes (ids put, tasks settled); at once otherwise.
    private func answerWhenDurable<T: Sendable>(
        _ reply: @escaping QueueReply<T>,
        _ result: Result<T, QueueError>,
        mark: UInt64
    ) {
        guard waitsForDurability, let journal else {
            reply(result)
            return
        }
        if case .failure(let error) = result, error.acceptedIDs.isEmpty {
            reply(result)  // nothing went in: nothing to wait for
            return
        }
        journal.whenDurable(mark) { stored in
            if stored {
                reply(result)
            } else {
                reply(.failure(QueueError(.storageFailed, queue: nil, Self.storageFailure(journal))))
            }
        }
    }

    private static func storageFailure(_ journal: Journal) -> String {
        "the master can't write to its data directory (\(journal.failure ?? "unknown failure")); nothing more is stored"
    }

    // MARK: QueueBackend

    public func put(
        _ tasks: [NewTask],
        into queue: String,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[TaskID]>
    ) {
        let (outcome, mark) = locked { state, resumptions in
            state.put(tasks, into: queue, wait: wait, consumer: consumer, reply: reply, resumptions: &resumptions)
        }
        if let outcome { answerWhenDurable(reply, outcome, mark: mark) }
    }

    public func get(
        from queue: String,
        maxItems: Int,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[QueuedTask]>
    ) {
        let (outcome, _) = locked { state, resumptions in
            state.get(
                from: queue,
                maxItems: maxItems,
                wait: wait,
                consumer: consumer,
                reply: reply,
                resumptions: &resumptions
            )
        }
        if let outcome { reply(outcome) }
    }

    public func ack(
        _ ids: [TaskID],
        in queue: String,
        consumer: ConsumerID,
        markDone: Bool,
        reply: @escaping QueueReply<AckResult>
    ) {
        let (result, mark) = locked { state, resumptions in
            state.settleLeases(
                ids,
                in: queue,
                consumer: consumer,
                requeue: false,
                markDone: markDone,
                resumptions: &resumptions
            ).0
        }
        answerWhenDurable(reply, .success(result), mark: mark)
    }

    public func nack(_ ids: [TaskID], in queue: String, consumer: ConsumerID, reply: @escaping QueueReply<AckResult>) {
        let (result, mark) = locked { state, resumptions in
            state.settleLeases(
                ids,
                in: queue,
                consumer: consumer,
                requeue: true,
                markDone: false,
                resumptions: &resumptions
            )
            .0
        }
        answerWhenDurable(reply, .success(result), mark: mark)
    }

    public func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        results: [NewTask],
        into resultQueue: String,
        consumer: ConsumerID,
        reply: @escaping QueueReply<Completion>
    ) {
        let (outcome, mark) = locked { state, resumptions in
            state.complete(
                ids,
                in: taskQueue,
                consumer: consumer,
                results: results,
                into: resultQueue,
                resumptions: &resumptions
            )
        }
        // A journal that defers completions keeps their tasks stored until they are written.
        if journal?.defersCompletions == true { reply(outcome) } else { answerWhenDurable(reply, outcome, mark: mark) }
    }

    public func extendLeases(of consumer: ConsumerID, reply: @escaping QueueReply<Int>) {
        let (count, _) = locked { state, _ in state.extendLeases(of: consumer) }
        reply(.success(count))
    }

    public func cancelWaits(of consumer: ConsumerID) {
        _ = locked { state, resumptions in state.cancelWaits(of: consumer, resumptions: &resumptions) }
    }

    public func release(_ consumer: ConsumerID, reply: @escaping QueueReply<Int>) {
        let (count, _) = locked { state, resumptions in state.release(consumer, resumptions: &resumptions) }
        reply(.success(count))
    }

    public func expireLeases(reply: @escaping QueueReply<Int>) {
        let (count, _) = locked { state, resumptions in state.expireLeases(resumptions: &resumptions) }
        reply(.success(count))
    }

    public func peek(_ queue: String, maxItems: Int, reply: @escaping QueueReply<[QueuedTask]>) {
        reply(.success(state.withLock { $0.peek(queue, maxItems: maxItems) }))
    }

    public func requeueDead(_ deadQueue: String, reply: @escaping QueueReply<Int>) {
        let (outcome, mark) = locked { state, resumptions in state.requeueDead(deadQueue, resumptions: &resumptions) }
        answerWhenDurable(reply, outcome, mark: mark)
    }

    public func purge(_ queue: String, reply: @escaping QueueReply<Int>) {
        let (count, mark) = locked { state, resumptions in state.purge(queue, resumptions: &resumptions) }
        answerWhenDurable(reply, .success(count), mark: mark)
    }

    public func taskDone(_ queue: String, reply: @escaping QueueReply<Void>) {
        let (outcome, _) = locked { state, resumptions in state.taskDone(queue, resumptions: &resumptions) }
        reply(outcome)
    }

    public func join(_ queue: String, consumer: ConsumerID, reply: @escaping QueueReply<Void>) {
        let (outcome, _) = locked { state, _ in state.join(queue, consumer: consumer, reply: reply) }
        if let outcome { reply(outcome) }
    }

    public func status(of queue: String, reply: @escaping QueueReply<QueueStatus>) {
        reply(.success(state.withLock { $0.status(of: queue) }))
    }

    public func statuses(reply: @escaping QueueReply<BackendStatus>) {
        reply(.success(state.withLock { BackendStatus(queues: $0.statuses(), leasesByConsumer: $0.leases.byConsumer) }))
    }

    public func shutDown(reply: @escaping QueueReply<Void>) {
        _ = locked { state, resumptions in state.shutDown(resumptions: &resumptions) }
        reply(.success(()))
    }

    // MARK: For the wait timer

    /// Ends the timed waits whose time has come and gives puts held back by the memory limit
    /// another chance; returns how long until the next wait ends (nil: none is timed) and
    /// whether the memory limit's episode goes on (puts are held back by it, or the last one
    /// that met it gave up and would still not fit).
    func expireWaits() -> (next: Duration?, memoryLimited: Bool) {
        let (outcome, _) = locked { state, resumptions in
            state.expireWaits(resumptions: &resumptions)
            state.settleMemoryBlocked(resumptions: &resumptions)
            return (state.nextDeadline().map { $0 - state.now }, state.memoryLimitEpisodeGoesOn())
        }
        return outcome
    }

    // MARK: Inspecting (in-process callers and tests)

    /// How many queues exist now.
    public var queueCount: Int { state.withLock { $0.queueCount } }
}
