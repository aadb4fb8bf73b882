import Logging
import PostgresNIO
import QueueBackend
import ServiceLifecycle
import Synchronization
import TaskMasterStatus

/// How the PostgreSQL backend reaches its database and how it behaves when it can't.
public struct PostgresBackendSettings: Sendable {
    public var url: PostgresURL
    /// The password (see ``PostgresPassword``), nil for trust or certificate authentication.
    public var password: String?
    /// Transactions this master runs at once, each on a connection of its own. Each queue's
    /// takes and nacks run on one lane (assigned in turn as queues are first seen), so they
    /// keep their order and group together; its acks and completions on another (half the lanes
    /// further on), and its puts on a third (the lane before), beside them. Default 4: for a
    /// task queue and its result queue, takes on lanes 0 and 1, settles on 2 and 3, puts on 3
    /// and 0.
    public var lanes: Int
    /// How long an operation waits for the database (a failover) before it is answered
    /// `.backendUnavailable`. Default 10 s.
    public var unavailableTimeout: Duration
    /// How often waiting gets, puts and joins look again without a notification (those are
    /// lost across reconnects). Default 1 s.
    public var pollInterval: Duration
    /// How long the queue counts of ``PostgresBackend/statuses(reply:)`` are reused. Default 1 s.
    public var statusCacheTime: Duration

    public init(
        url: PostgresURL,
        password: String? = nil,
        lanes: Int = 4,
        unavailableTimeout: Duration = .seconds(10),
        pollInterval: Duration = .seconds(1),
        statusCacheTime: Duration = .seconds(1)
    ) {
        self.url = url
        self.password = password
        self.lanes = lanes
        self.unavailableTimeout = unavailableTimeout
        self.pollInterval = pollInterval
        self.statusCacheTime = statusCacheTime
    }
}

/// Queues kept in PostgreSQL, shared by every master in front of the same database: a
/// ``QueueBackend`` whose state is the `tasks` table (see ``Schema``), so that masters hold
/// nothing but their own consumers' waits.
///
/// ## How it works
///
/// - **Lanes and group commit.** Each queue belongs to one of a few *lanes*; a lane runs one
///   transaction at a time on its own connection, made of every operation on its queues that
///   arrived meanwhile, from all connections: all puts in one `INSERT`, all acks in one
///   `DELETE`, all completions in one statement, one take per queue for all its getters. A
///   queue's takes and nacks therefore keep their order, and a reply comes after the commit.
///   Its acks and completions run on a second lane, at the same time as the takes of the next
///   tasks: they touch only leased rows, which no take, put or nack of the queue looks at, so
///   the order between the two lanes changes no answer. Its puts (without a capacity) run on a
///   third, in their order: they only add rows behind the queued ones (``LaneRole``). A
///   consumer's heartbeats extend its leases of each queue on the lane that settles that
///   queue: an extend and a settle of the same rows at once could deadlock.
/// - **Waiting.** A get that finds nothing waits here, in its queue's line; puts committed by
///   this master, `NOTIFY`s from other masters (``PostgresQueueService`` listens), and a poll
///   every ``PostgresBackendSettings/pollInterval`` make the line look again. New items from
///   this master for a queue whose getters found it empty go to them in the transaction that
///   inserts them, already leased (``HandOffJob``): no take.
/// - **Leases** are rows: `lease_owner` is `<master id>/<consumer>`, `lease_until` the
///   database's time. Every master's lease reaper runs ``expireLeases(reply:)``, one idempotent
///   statement (`FOR UPDATE SKIP LOCKED`), so the leases of a master that died come back.
/// - **Failover.** A lane that loses its connection looks for the host that accepts writes
///   (``Connector``) and runs its transaction again, or, if the connection broke during
///   `COMMIT`, first looks for the transaction's row in `commits` to learn whether it
///   happened. Operations wait up to ``PostgresBackendSettings/unavailableTimeout``, then
///   fail with `.backendUnavailable`.
/// - **Counters** (`total_put`, …) are this master's own; depth and in-flight come from the
///   database (cached for ``PostgresBackendSettings/statusCacheTime`` in ``statuses(reply:)``).
///
/// Not enforced here: `max_bytes` per queue, the master's memory limit (tasks are not held in
/// memory) and `max_queues`.
public final class PostgresBackend: QueueBackend {
    let settings: PostgresBackendSettings
    let limits: QueueLimits
    let clock: any Clock<Duration>
    let logger: Logger
    let connector: Connector
    /// This master's name in lease owners and commit tokens: random for each start.
    public let masterID: String
    let state: Mutex<BackendState>
    let laneSignals: [Wakeup]
    /// Each lane's statements, its connection and its answers on one event loop (see
    /// ``EventLoopTaskExecutor``).
    let laneExecutors: [EventLoopTaskExecutor]
    /// Signalled when waits with an end are added (the timer looks again).
    let timerSignal = Wakeup()
    /// Set once the schema is there: lanes run nothing before.
    let schemaReady = Atomic<Bool>(false)
    private let elapsed: @Sendable () -> Duration
    /// The `NOTIFY` channel of this schema.
    var channel: String { "taskmaster_\(settings.url.schema)" }

    /// - Parameters:
    ///   - settings: the database and the backend's timings.
    ///   - limits: capacities, lease timeouts, the delivery limit (the same on every master).
    ///   - clock: times waits, polls and retries.
    public init(
        settings: PostgresBackendSettings,
        limits: QueueLimits = QueueLimits(),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger
    ) throws(PostgresBackendError) {
        self.settings = settings
        self.limits = limits
        self.clock = clock
        self.logger = logger
        self.connector = try Connector(url: settings.url, password: settings.password, logger: logger)
        self.masterID = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let lanes = max(1, settings.lanes)
        self.state = Mutex(BackendState(lanes: lanes))
        self.laneSignals = (0..<lanes).map { _ in Wakeup() }
        self.laneExecutors = (0..<lanes).map { _ in
            EventLoopTaskExecutor(PostgresConnection.defaultEventLoopGroup.next())
        }
        self.elapsed = Self.stopwatch(clock)
    }

    /// The services that must run beside the backend: migration, the lanes, the listener and
    /// the timer (one service).
    public var services: [any Service] { [PostgresQueueService(backend: self)] }

    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// The backend's time: elapsed since it was made.
    var now: Duration { elapsed() }

    /// The lease owner name of a consumer of this master.
    func owner(_ consumer: ConsumerID) -> String { "\(masterID)/\(consumer)" }

    /// Runs `body` under the lock, then (unlocked) signals the lanes it gave work and runs the
    /// answers it collected.
    func locked<T>(_ body: (inout BackendState, inout [Answer]) -> T) -> T {
        var answers: [Answer] = []
        let (value, lanes, timer) = state.withLock { state in
            let value = body(&state, &answers)
            let lanes = state.lanesToSignal
            let timer = state.timerToSignal
            state.lanesToSignal = []
            state.timerToSignal = false
            return (value, lanes, timer)
        }
        for lane in lanes { laneSignals[lane].signal() }
        if timer { timerSignal.signal() }
        for answer in answers { answer() }
        return value
    }

    private func submit(_ operation: Operation, queue: String?, role: LaneRole = .serving) {
        locked { state, answers in
            guard !state.isShutDown || !operation.refusedAfterShutdown else {
                answers.append { operation.fail(.shuttingDown(queue)) }
                return
            }
            let lane = queue.map { state.lane(of: $0, for: role) } ?? 0
            state.enqueue(operation, lane: lane)
        }
    }

    /// The lane of an existing queue, without assigning one (reads).
    private func readLane(_ queue: String) -> Int {
        state.withLock { $0.laneOf[queue] ?? 0 }
    }

    // MARK: QueueBackend: producing and consuming

    public func put(
        _ tasks: [NewTask],
        into queue: String,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[TaskID]>
    ) {
        do {
            try limits.validate(queueName: queue)
        } catch {
            reply(.failure(error))
            return
        }
        guard !tasks.isEmpty else {
            reply(.success([]))
            return
        }
        guard limits.maxSize(of: queue) > 0 else {
            submit(.put(tasks, queue: queue, reply: reply), queue: queue, role: .putting)
            return
        }
        // A capacity: the put joins the queue's line of putters, admitted in order as room shows.
        let deadline = deadline(of: wait)
        locked { state, answers in
            guard !state.isShutDown else {
                answers.append { reply(.failure(.shuttingDown(queue))) }
                return
            }
            let putter = Putter(
                id: state.makeWaiterID(),
                consumer: consumer,
                remaining: tasks[...],
                deadline: deadline,
                waits: wait != .none,
                reply: reply
            )
            state.lines[queue, default: QueueLine()].putters.append(putter)
            state.lines[queue]!.maybeRoom = true
            state.lanesToSignal.insert(state.lane(of: queue))
        }
        if deadline != nil { timerSignal.signal() }
    }

    public func get(
        from queue: String,
        maxItems: Int,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[QueuedTask]>
    ) {
        do {
            try limits.validate(queueName: queue)
        } catch {
            reply(.failure(error))
            return
        }
        let deadline = deadline(of: wait)
        locked { state, answers in
            guard !state.isShutDown else {
                answers.append { reply(.failure(.shuttingDown(queue))) }
                return
            }
            var getter = Getter(
                id: state.makeWaiterID(),
                consumer: consumer,
                maxItems: max(1, maxItems),
                deadline: deadline,
                waits: wait != .none,
                reply: reply
            )
            var line = state.lines[queue] ?? QueueLine()
            if getter.waits, !line.maybeItems, state.drainedQueues.contains(queue) {
                // Known to be empty: it waits as if it had looked, and new items go to it.
                getter.looked = true
            } else {
                line.maybeItems = true
                state.lanesToSignal.insert(state.lane(of: queue))
            }
            line.getters.append(getter)
            state.lines[queue] = line
        }
        if deadline != nil { timerSignal.signal() }
    }

    private func deadline(of wait: WaitLimit) -> Duration? {
        if case .upTo(let duration) = wait { return now + duration }
        return nil
    }

    public func ack(
        _ ids: [TaskID],
        in queue: String,
        consumer: ConsumerID,
        markDone: Bool,
        reply: @escaping QueueReply<AckResult>
    ) {
        guard !ids.isEmpty else { return reply(.success(AckResult(count: 0, unknown: []))) }
        submit(
            .ack(ids, queue: queue, consumer: consumer, markDone: markDone, reply: reply),
            queue: queue,
            role: .settling
        )
    }

    public func nack(_ ids: [TaskID], in queue: String, consumer: ConsumerID, reply: @escaping QueueReply<AckResult>) {
        guard !ids.isEmpty else { return reply(.success(AckResult(count: 0, unknown: []))) }
        submit(.nack(ids, queue: queue, consumer: consumer, reply: reply), queue: queue)
    }

    public func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        results: [NewTask],
        into resultQueue: String,
        consumer: ConsumerID,
        reply: @escaping QueueReply<Completion>
    ) {
        do {
            try limits.validate(queueName: resultQueue)
        } catch {
            reply(.failure(error))
            return
        }
        submit(
            .complete(
                ids,
                taskQueue: taskQueue,
                results: results,
                resultQueue: resultQueue,
                consumer: consumer,
                reply: reply
            ),
            queue: taskQueue,
            role: .settling
        )
    }

    // MARK: Leases and consumers

    public func extendLeases(of consumer: ConsumerID, reply: @escaping QueueReply<Int>) {
        let heartbeats = state.withLock { $0.heartbeats(of: consumer) }
        guard !heartbeats.isEmpty else { return reply(.success(0)) }
        // Usually one lane; a consumer holding leases in queues settled on different lanes gets
        // one extend on each, and one answer, their sum.
        let answer = heartbeats.count == 1 ? reply : ExtendTotal(parts: heartbeats.count, reply: reply).part
        for heartbeat in heartbeats {
            submit(.extend(consumer, queues: heartbeat.queues, reply: answer), queue: nil, lane: heartbeat.lane)
        }
    }

    public func cancelWaits(of consumer: ConsumerID) {
        locked { state, answers in
            Self.endWaits(of: consumer, with: .cancelled(nil), in: &state, answers: &answers)
        }
    }

    /// Ends the waits of `consumer` (those in a take that runs now are marked: what they get
    /// goes back).
    static func endWaits(
        of consumer: ConsumerID,
        with error: QueueError,
        in state: inout BackendState,
        answers: inout [Answer]
    ) {
        for name in Array(state.lines.keys) {
            var line = state.lines[name]!
            var failure = error
            failure.queue = name
            line.getters = line.getters.compactMap { getter in
                guard getter.consumer == consumer else { return getter }
                if getter.inFlight {
                    var marked = getter
                    marked.cancelled = failure
                    return marked
                }
                answers.append { [failure] in getter.reply(.failure(failure)) }
                return nil
            }
            line.putters = line.putters.compactMap { putter in
                guard putter.consumer == consumer else { return putter }
                if putter.inFlight {
                    var marked = putter
                    marked.cancelled = failure
                    return marked
                }
                var ended = failure
                ended.acceptedIDs = putter.accepted
                answers.append { [ended] in putter.reply(.failure(ended)) }
                return nil
            }
            line.joiners = line.joiners.filter { joiner in
                guard joiner.consumer == consumer else { return true }
                answers.append { [failure] in joiner.reply(.failure(failure)) }
                return false
            }
            state.lines[name] = line
            state.tidy(name)
        }
    }

    public func release(_ consumer: ConsumerID, reply: @escaping QueueReply<Int>) {
        // Its waits end now; its leases go back once every operation it started has taken effect.
        let targets = locked { state, answers in
            Self.endWaits(of: consumer, with: .cancelled(nil), in: &state, answers: &answers)
            return state.barrierTargets()
        }
        afterBarrier(targets) { [self] in submit(.release(consumer, reply: reply), queue: nil) }
    }

    /// Runs `then` once every lane has finished the group numbered in `targets`.
    func afterBarrier(_ targets: [UInt64], then: @escaping Answer) {
        let remaining = Atomic<Int>(targets.count)
        let arrive: Answer = {
            if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { then() }
        }
        locked { state, answers in
            for (lane, target) in targets.enumerated() {
                if state.lanes[lane].finished >= target {
                    answers.append(arrive)
                } else {
                    state.lanes[lane].barriers.append((target, arrive))
                }
            }
        }
    }

    public func expireLeases(reply: @escaping QueueReply<Int>) {
        submit(.expire(reply: reply), queue: nil)
    }

    // MARK: Dead letters and maintenance

    public func peek(_ queue: String, maxItems: Int, reply: @escaping QueueReply<[QueuedTask]>) {
        submit(.peek(queue, maxItems: max(0, maxItems), reply: reply), queue: nil, lane: readLane(queue))
    }

    public func requeueDead(_ deadQueue: String, reply: @escaping QueueReply<Int>) {
        guard QueueLimits.isDeadLetterQueue(deadQueue) else { return reply(.success(0)) }
        submit(.requeueDead(deadQueue, reply: reply), queue: String(deadQueue.dropLast(".dead".count)))
    }

    public func purge(_ queue: String, reply: @escaping QueueReply<Int>) {
        submit(.purge(queue, reply: reply), queue: queue)
    }

    // MARK: Python's task_done and join

    public func taskDone(_ queue: String, reply: @escaping QueueReply<Void>) {
        submit(.taskDone(queue, reply: reply), queue: queue)
    }

    public func join(_ queue: String, consumer: ConsumerID, reply: @escaping QueueReply<Void>) {
        do {
            try limits.validate(queueName: queue)
        } catch {
            reply(.failure(error))
            return
        }
        locked { state, answers in
            guard !state.isShutDown else {
                answers.append { reply(.failure(.shuttingDown(queue))) }
                return
            }
            let joiner = Joiner(id: state.makeWaiterID(), consumer: consumer, reply: reply)
            state.lines[queue, default: QueueLine()].joiners.append(joiner)
            state.lines[queue]!.checkJoin = true
            state.lanesToSignal.insert(state.lane(of: queue))
        }
    }

    // MARK: Inspecting

    public func status(of queue: String, reply: @escaping QueueReply<QueueStatus>) {
        submit(.status(queue, reply: reply), queue: nil, lane: readLane(queue))
    }

    public func statuses(reply: @escaping QueueReply<BackendStatus>) {
        let now = self.now
        let cached: [String: QueueCounts]? = state.withLock { state in
            guard let cache = state.statusCache, now - cache.at < settings.statusCacheTime else { return nil }
            return cache.counts
        }
        if let cached {
            reply(.success(backendStatus(cached)))
            return
        }
        submit(
            .statuses { [self] result in
                switch result {
                case .success(let counts):
                    state.withLock { $0.statusCache = (now, counts) }
                    reply(.success(backendStatus(counts)))
                case .failure(let error):
                    reply(.failure(error))
                }
            },
            queue: nil
        )
    }

    /// The status of every queue: what the database holds, with this master's counters and waits.
    private func backendStatus(_ counts: [String: QueueCounts]) -> BackendStatus {
        state.withLock { state in
            var names = Set(counts.keys)
            names.formUnion(state.counters.keys)
            for (name, line) in state.lines where !line.getters.isEmpty || !line.putters.isEmpty {
                names.insert(name)
            }
            let queues = names.sorted().map { name in
                queueStatus(name, counts[name] ?? QueueCounts(), state: state)
            }
            return BackendStatus(queues: queues, leasesByConsumer: state.leases.mapValues(\.count))
        }
    }

    /// One queue's status from its counts in the database and what this master knows.
    func queueStatus(_ name: String, _ counts: QueueCounts, state: BackendState) -> QueueStatus {
        let counters = state.counters[name] ?? Counters()
        let line = state.lines[name]
        return QueueStatus(
            name: name,
            depth: counts.depth,
            inFlight: counts.inFlight,
            maxSize: limits.maxSize(of: name),
            bytes: 0,
            maxBytes: limits.maxBytes(of: name),
            waitingConsumers: line?.getters.count ?? 0,
            waitingProducers: line?.putters.count ?? 0,
            totalPut: counters.totalPut,
            totalDelivered: counters.totalDelivered,
            totalAcked: counters.totalAcked,
            totalNacked: counters.totalNacked,
            totalRedelivered: counters.totalRedelivered,
            totalDead: counters.totalDead
        )
    }

    // MARK: Stopping

    /// How many items of `queue` this master inserted already leased to a waiting getter.
    func handedOff(in queue: String) -> UInt64 {
        state.withLock { $0.counters[queue]?.totalHandedOff ?? 0 }
    }

    /// How many jobs the lane of `queue` ran on its executor (the queue gets its lane here if it
    /// has none yet, as at its first operation).
    func laneJobs(of queue: String) -> Int {
        laneExecutors[state.withLock { $0.lane(of: queue) }].enqueued
    }

    /// How many getters wait on `queue` having looked at it (new items may go to them).
    func gettersThatLooked(in queue: String) -> Int {
        state.withLock { state in state.lines[queue]?.getters.count { $0.looked && !$0.inFlight } ?? 0 }
    }

    public func shutDown(reply: @escaping QueueReply<Void>) {
        let targets: [UInt64]? = locked { state, answers in
            guard !state.isShutDown else { return nil }
            state.isShutDown = true
            for (name, line) in state.lines {
                let error = QueueError.shuttingDown(name)
                for getter in line.getters where !getter.inFlight { answers.append { getter.reply(.failure(error)) } }
                for putter in line.putters where !putter.inFlight {
                    var failure = error
                    failure.acceptedIDs = putter.accepted
                    answers.append { [failure] in putter.reply(.failure(failure)) }
                }
                for joiner in line.joiners { answers.append { joiner.reply(.failure(error)) } }
                var kept = QueueLine()
                kept.getters = line.getters.filter(\.inFlight).map {
                    var getter = $0
                    getter.cancelled = error
                    return getter
                }
                kept.putters = line.putters.filter(\.inFlight).map {
                    var putter = $0
                    putter.cancelled = error
                    return putter
                }
                state.lines[name] = kept
                state.tidy(name)
            }
            return state.barrierTargets()
        }
        guard let targets else { return reply(.success(())) }
        afterBarrier(targets) { [self] in
            locked { state, _ in state.enqueue(.returnAll(reply: reply), lane: 0) }
        }
    }

    private func submit(_ operation: Operation, queue: String?, lane: Int) {
        locked { state, answers in
            guard !state.isShutDown || !operation.refusedAfterShutdown else {
                answers.append { operation.fail(.shuttingDown(queue)) }
                return
            }
            state.enqueue(operation, lane: lane)
        }
    }
}
