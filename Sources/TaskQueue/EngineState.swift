/// Everything the engine holds, mutated only under its lock. Operations record the waiters
/// they wake in `resumptions`, which the engine runs after unlocking, and the changes a store
/// must make in `journal`, in order.
///
/// Queues live in an array (index = queue id) and are changed in place through it.
struct EngineState {
    let limits: QueueLimits
    private(set) var queues: [NamedQueue] = []
    private var queueIDs: [String: Int] = [:]
    private(set) var leases = LeaseTable()
    private var nextTaskID: TaskID = 1
    private(set) var isShutDown = false
    /// Changes for the store, appended in the order they happen; nil without a store.
    let journal: Journal?
    /// Mutations of the current operation, appended to the journal in one go.
    private var changes: [StoreMutation] = []
    /// Whether the current operation's changes are one completion.
    private var changesAreCompletion = false
    /// The engine's time (elapsed since it started), set by the engine as each operation
    /// begins; leases end at this time plus their timeout.
    var clockNow: Duration = .zero
    /// Put-to-done times of tasks finished by the current operation, when someone listens.
    var collectsLatencies = false
    var latencies: [(queue: String, latency: Duration)] = []

    init(limits: QueueLimits, journal: Journal?) {
        self.limits = limits
        self.journal = journal
    }

    /// Puts tasks read back from a store into their queues, in id order, as queued (leases
    /// end with the process that held them).
    mutating func restore(_ tasks: [StoredTask]) throws(QueueError) {
        for task in tasks.sorted(by: { $0.id < $1.id }) {
            let q = try queueID(named: task.queue)
            queues[q].items.append(
                QueuedTask(
                    id: task.id,
                    reference: task.reference,
                    attempt: task.attempt,
                    payload: task.payload,
                    error: task.error
                )
            )
            queues[q].unfinished += 1
            nextTaskID = max(nextTaskID, task.id + 1)
        }
    }

    /// The latencies collected by the current operation.
    mutating func takeLatencies() -> [(queue: String, latency: Duration)] {
        guard !latencies.isEmpty else { return [] }
        defer { latencies.removeAll(keepingCapacity: true) }
        return latencies
    }

    /// Sends this operation's changes to the journal; returns the sequence number to wait for.
    mutating func commitChanges() -> UInt64 {
        defer { changesAreCompletion = false }
        guard let journal, !changes.isEmpty else { return 0 }
        let sequence = journal.append(changes, isCompletion: changesAreCompletion)
        changes.removeAll(keepingCapacity: true)
        return sequence
    }

    /// The id of the queue called `name`, creating the queue on first use.
    mutating func queueID(named name: String) throws(QueueError) -> Int {
        if let id = queueIDs[name] { return id }
        try Self.validate(name: name, limits: limits)
        guard queues.count < limits.maxQueues else {
            throw QueueError(
                .tooManyQueues,
                queue: name,
                "can't create queue '\(name)': \(limits.maxQueues) queues exist already (raise max_queues)"
            )
        }
        queues.append(NamedQueue(name: name, maxSize: limits.maxSize(of: name)))
        queueIDs[name] = queues.count - 1
        return queues.count - 1
    }

    /// The id of an existing queue.
    func existingQueueID(_ name: String) -> Int? { queueIDs[name] }

    static func validate(name: String, limits: QueueLimits) throws(QueueError) {
        let length = name.utf8.count
        guard length > 0, length <= limits.maxNameLength else {
            throw QueueError(
                .invalidQueueName,
                queue: name,
                "invalid queue name: it must be 1 to \(limits.maxNameLength) bytes of UTF-8, not \(length)"
            )
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            throw QueueError(.invalidQueueName, queue: name, "invalid queue name: it holds control characters")
        }
    }

    func shuttingDownError(_ queue: String?) -> QueueError {
        QueueError(.shuttingDown, queue: queue, "the master is shutting down")
    }

    // MARK: Put

    /// Appends tasks, ignoring capacity. Returns their ids.
    private mutating func append<S: Sequence<NewTask>>(_ tasks: S, to q: Int) -> [TaskID] {
        var ids: [TaskID] = []
        ids.reserveCapacity(tasks.underestimatedCount)
        var next = nextTaskID
        let journaling = journal != nil
        for task in tasks {
            var queued = QueuedTask(id: next, reference: task.reference, attempt: 0, payload: task.payload)
            queued.enqueuedAt = clockNow
            queues[q].items.append(queued)
            if journaling {
                changes.append(
                    .insert(
                        StoredTask(
                            id: next,
                            queue: queues[q].name,
                            reference: task.reference,
                            attempt: 0,
                            payload: task.payload
                        )
                    )
                )
            }
            ids.append(next)
            next += 1
        }
        nextTaskID = next
        queues[q].totalPut += UInt64(ids.count)
        queues[q].unfinished += ids.count
        return ids
    }

    /// A put: takes what fits (behind earlier waiting putters), then waits for room or fails.
    mutating func put(
        _ tasks: [NewTask],
        into name: String,
        wait: WaitLimit,
        waiterID: UInt64,
        continuation: CheckedContinuation<[TaskID], any Error>,
        makeTimer: (Duration) -> Task<Void, Never>,
        resumptions: inout [Resumption]
    ) {
        guard !isShutDown else {
            resumptions.append(.putFailed(continuation, shuttingDownError(name), timer: nil))
            return
        }
        let q: Int
        do {
            q = try queueID(named: name)
        } catch {
            resumptions.append(.putFailed(continuation, error, timer: nil))
            return
        }
        var rest = tasks[...]
        var accepted: [TaskID] = []
        if queues[q].putters.isEmpty {
            let fitting = min(queues[q].room, rest.count)
            accepted = append(rest.prefix(fitting), to: q)
            rest = rest.dropFirst(fitting)
        }
        if rest.isEmpty {
            resumptions.append(.accepted(continuation, accepted, timer: nil))
        } else if wait == .none {
            resumptions.append(.putFailed(continuation, fullError(q, accepted: accepted), timer: nil))
        } else {
            let timer: Task<Void, Never>?
            if case .upTo(let duration) = wait { timer = makeTimer(duration) } else { timer = nil }
            queues[q].putters.append(
                NamedQueue.PutWaiter(
                    id: waiterID,
                    remaining: rest,
                    accepted: accepted,
                    continuation: continuation,
                    timer: timer
                )
            )
        }
        settle(q, resumptions: &resumptions)
    }

    /// A put that never waits: all of `tasks` go in, or none and nil (no room, or earlier
    /// putters waiting for room).
    mutating func putIfRoom(
        _ tasks: [NewTask],
        into name: String,
        resumptions: inout [Resumption]
    ) throws(QueueError)
        -> [TaskID]?
    {
        guard !isShutDown else { throw shuttingDownError(name) }
        let q = try queueID(named: name)
        guard queues[q].putters.isEmpty, queues[q].room >= tasks.count else { return nil }
        let ids = append(tasks, to: q)
        settle(q, resumptions: &resumptions)
        return ids
    }

    private func fullError(_ q: Int, accepted: [TaskID]) -> QueueError {
        let queue = queues[q]
        return QueueError(
            .queueFull,
            queue: queue.name,
            "queue '\(queue.name)' is full (maxsize \(queue.maxSize)); \(accepted.count) item(s) were put before giving up",
            acceptedIDs: accepted
        )
    }

    // MARK: Get

    /// Leases up to `maxItems` tasks from the front of queue `q` to `consumer`.
    private mutating func take(from q: Int, maxItems: Int, consumer: ConsumerID) -> [QueuedTask] {
        let count = min(maxItems, queues[q].items.count)
        var tasks: [QueuedTask] = []
        tasks.reserveCapacity(count)
        var redelivered: UInt64 = 0
        let expires = clockNow + limits.leaseTimeout(of: queues[q].name)
        for _ in 0..<count {
            var task = queues[q].items.removeFirst()
            task.attempt += 1
            if task.attempt > 1 { redelivered += 1 }
            leases.add(task, queue: q, consumer: consumer, expires: expires)
            tasks.append(task)
        }
        queues[q].totalRedelivered += redelivered
        queues[q].inFlight += count
        queues[q].totalDelivered += UInt64(count)
        return tasks
    }

    /// A get: takes what is there, or waits for the first item, or answers empty at once.
    mutating func get(
        from name: String,
        maxItems: Int,
        consumer: ConsumerID,
        wait: WaitLimit,
        waiterID: UInt64,
        continuation: CheckedContinuation<[QueuedTask], any Error>,
        makeTimer: (Duration) -> Task<Void, Never>,
        resumptions: inout [Resumption]
    ) {
        guard !isShutDown else {
            resumptions.append(.getFailed(continuation, shuttingDownError(name), timer: nil))
            return
        }
        let q: Int
        do {
            q = try queueID(named: name)
        } catch {
            resumptions.append(.getFailed(continuation, error, timer: nil))
            return
        }
        // Earlier waiters come first; only an empty wait line may take directly.
        if queues[q].getters.isEmpty, !queues[q].items.isEmpty {
            let tasks = take(from: q, maxItems: max(1, maxItems), consumer: consumer)
            resumptions.append(.delivered(continuation, tasks, timer: nil))
            settle(q, resumptions: &resumptions)
        } else if wait == .none {
            resumptions.append(.delivered(continuation, [], timer: nil))
        } else {
            let timer: Task<Void, Never>?
            if case .upTo(let duration) = wait { timer = makeTimer(duration) } else { timer = nil }
            queues[q].getters.append(
                NamedQueue.GetWaiter(
                    id: waiterID,
                    consumer: consumer,
                    maxItems: max(1, maxItems),
                    continuation: continuation,
                    timer: timer
                )
            )
        }
    }

    /// A get that never waits: leases what is there (behind earlier waiting getters), maybe nothing.
    mutating func getIfThere(
        from name: String,
        maxItems: Int,
        consumer: ConsumerID,
        resumptions: inout [Resumption]
    ) throws(QueueError) -> [QueuedTask] {
        guard !isShutDown else { throw shuttingDownError(name) }
        let q = try queueID(named: name)
        guard queues[q].getters.isEmpty, !queues[q].items.isEmpty else { return [] }
        let tasks = take(from: q, maxItems: max(1, maxItems), consumer: consumer)
        settle(q, resumptions: &resumptions)
        return tasks
    }

    /// Tasks at the front of a queue, left where they are (for inspecting dead letters).
    func peek(_ name: String, maxItems: Int) -> [QueuedTask] {
        guard let q = queueIDs[name] else { return [] }
        return Array(queues[q].items.prefix(maxItems))
    }

    // MARK: Settling waiters

    /// Moves waiting putters' items in while there is room and hands items to waiting getters,
    /// until neither can progress; wakes joiners once nothing is unfinished.
    mutating func settle(_ q: Int, resumptions: inout [Resumption]) {
        var progressed = true
        while progressed {
            progressed = false
            while var putter = queues[q].putters.first, queues[q].room > 0 {
                let fitting = min(queues[q].room, putter.remaining.count)
                putter.accepted += append(putter.remaining.prefix(fitting), to: q)
                putter.remaining = putter.remaining.dropFirst(fitting)
                progressed = true
                if putter.remaining.isEmpty {
                    queues[q].putters.removeFirst()
                    resumptions.append(.accepted(putter.continuation, putter.accepted, timer: putter.timer))
                } else {
                    queues[q].putters[queues[q].putters.startIndex] = putter
                    break
                }
            }
            while !queues[q].items.isEmpty, let getter = queues[q].getters.popFirst() {
                let tasks = take(from: q, maxItems: getter.maxItems, consumer: getter.consumer)
                resumptions.append(.delivered(getter.continuation, tasks, timer: getter.timer))
                progressed = true
            }
        }
        if queues[q].unfinished == 0, !queues[q].joiners.isEmpty {
            resumptions += queues[q].joiners.map { .joined($0.continuation) }
            queues[q].joiners = []
        }
    }

    /// Ends a waiter: on timeout a getter gets nothing and a putter "queue full";
    /// on cancellation both get `CancellationError`.
    mutating func endWaiter(
        _ waiterID: UInt64,
        in name: String,
        cancelled: Bool,
        resumptions: inout [Resumption]
    ) {
        guard let q = queueIDs[name] else { return }
        if let index = queues[q].getters.firstIndex(where: { $0.id == waiterID }) {
            let getter = queues[q].getters.remove(at: index)
            resumptions.append(
                cancelled
                    ? .getFailed(getter.continuation, CancellationError(), timer: getter.timer)
                    : .delivered(getter.continuation, [], timer: getter.timer)
            )
        } else if let index = queues[q].putters.firstIndex(where: { $0.id == waiterID }) {
            let putter = queues[q].putters.remove(at: index)
            let error: any Error = cancelled ? CancellationError() : fullError(q, accepted: putter.accepted)
            resumptions.append(.putFailed(putter.continuation, error, timer: putter.timer))
            // The putter may have blocked others behind it.
            settle(q, resumptions: &resumptions)
        }
    }

    // MARK: Ack, nack, release, expiry

    /// Settles leased tasks: acknowledged (done), or given back to the front of the queue.
    /// Returns the outcome and, per id, whether it was settled.
    mutating func settleLeases(
        _ ids: [TaskID],
        in name: String,
        consumer: ConsumerID,
        requeue: Bool,
        markDone: Bool,
        reason: String = "given back by its consumer",
        resumptions: inout [Resumption]
    ) -> (AckResult, settled: [Bool]) {
        guard let q = queueIDs[name] else {
            return (AckResult(count: 0, unknown: ids), Array(repeating: false, count: ids.count))
        }
        var unknown: [TaskID] = []
        var returned: [QueuedTask] = []
        var settled: [Bool] = []
        settled.reserveCapacity(ids.count)
        var count = 0
        let journaling = journal != nil
        for id in ids {
            guard let lease = leases.remove(id, queue: q, consumer: consumer) else {
                unknown.append(id)
                settled.append(false)
                continue
            }
            count += 1
            settled.append(true)
            if requeue {
                returned.append(lease.task)
            } else {
                if journaling { changes.append(.delete(id)) }
                if collectsLatencies { latencies.append((queues[q].name, clockNow - lease.task.enqueuedAt)) }
            }
        }
        if requeue {
            queues[q].inFlight -= count
            queues[q].totalNacked += UInt64(count)
            giveBack(returned, to: q, reason: reason, resumptions: &resumptions)
        } else {
            queues[q].inFlight -= count
            queues[q].totalAcked += UInt64(count)
            if markDone { queues[q].unfinished = max(0, queues[q].unfinished - count) }
            settle(q, resumptions: &resumptions)
        }
        return (AckResult(count: count, unknown: unknown), settled)
    }

    /// Puts tasks whose delivery failed back at the front of queue `q` — or, past the
    /// delivery limit, on its dead-letter queue. The caller has already counted them out of
    /// the queue's in-flight number.
    private mutating func giveBack(_ tasks: [QueuedTask], to q: Int, reason: String, resumptions: inout [Resumption]) {
        guard !tasks.isEmpty else { return }
        let maxDeliveries = limits.maxDeliveries
        var again: [QueuedTask] = []
        var dead: [QueuedTask] = []
        for var task in tasks {
            task.error = reason
            if maxDeliveries > 0, task.attempt >= UInt32(clamping: maxDeliveries) {
                task.error = "\(reason) (delivery \(task.attempt) of \(maxDeliveries); gave up)"
                dead.append(task)
            } else {
                again.append(task)
            }
        }
        queues[q].requeueAtFront(again)
        if !dead.isEmpty, !queues[q].name.hasSuffix(".dead") {
            let deadName = QueueLimits.deadLetterQueue(of: queues[q].name)
            if let d = try? queueID(named: deadName) {
                queues[q].totalDead += UInt64(dead.count)
                for task in dead {
                    queues[d].items.append(task)
                    queues[d].totalPut += 1
                    if journal != nil {
                        changes.append(.move(task.id, queue: deadName, attempt: task.attempt, error: task.error))
                    }
                }
                // Dead letters are not waited for by join(): they are done with, badly.
                queues[q].unfinished = max(0, queues[q].unfinished - dead.count)
                settle(d, resumptions: &resumptions)
            } else {
                queues[q].requeueAtFront(dead)  // no room for another queue: keep them where they were
            }
        } else if !dead.isEmpty {
            queues[q].requeueAtFront(dead)
        }
        settle(q, resumptions: &resumptions)
    }

    /// Atomically acknowledges tasks and appends the results that answer them. Results for
    /// tasks not leased to `consumer` are dropped, so a task never gets two results. Results
    /// are appended past a full queue: a finished task's result is never refused.
    mutating func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        consumer: ConsumerID,
        results: [NewTask],
        into resultQueue: String,
        resumptions: inout [Resumption]
    ) throws(QueueError) -> (AckResult, [TaskID]) {
        guard !isShutDown else { throw shuttingDownError(taskQueue) }
        let target = try queueID(named: resultQueue)
        changesAreCompletion = changes.isEmpty  // only when nothing else is in the same append
        let (ack, settled) = settleLeases(
            ids,
            in: taskQueue,
            consumer: consumer,
            requeue: false,
            markDone: true,
            resumptions: &resumptions
        )
        let kept: [NewTask]
        if ack.unknown.isEmpty, results.count == ids.count, zip(results, ids).allSatisfy({ $0.reference == $1 }) {
            kept = results  // the usual case: one result per task, in order, all still ours
        } else {
            var ours = Set<TaskID>()
            for (id, isSettled) in zip(ids, settled) where isSettled { ours.insert(id) }
            kept = results.filter { ours.contains($0.reference) }
        }
        let resultIDs = append(kept, to: target)
        settle(target, resumptions: &resumptions)
        return (ack, resultIDs)
    }

    /// Gives every task leased to `consumer` back to the front of its queue.
    mutating func release(_ consumer: ConsumerID, resumptions: inout [Resumption]) -> Int {
        returnLeases(leases.removeAll(of: consumer), reason: "its consumer disconnected", resumptions: &resumptions)
    }

    /// Ends the leases that ran out: their consumers neither acknowledged nor sent a heartbeat.
    mutating func expireLeases(resumptions: inout [Resumption]) -> Int {
        returnLeases(leases.removeExpired(before: clockNow), reason: "its lease expired", resumptions: &resumptions)
    }

    /// Extends every lease `consumer` holds, from now.
    mutating func extendLeases(of consumer: ConsumerID) -> Int {
        let now = clockNow
        let names = queues.map(\.name)
        return leases.extend(of: consumer) { q in now + limits.leaseTimeout(of: names[q]) }
    }

    private mutating func returnLeases(
        _ returned: [LeaseTable.Lease],
        reason: String,
        resumptions: inout [Resumption]
    ) -> Int {
        let byQueue = Dictionary(grouping: returned, by: \.queue)
        for (q, leases) in byQueue {
            queues[q].inFlight -= leases.count
            giveBack(leases.map(\.task), to: q, reason: reason, resumptions: &resumptions)
        }
        return returned.count
    }

    // MARK: Dead letters

    /// Moves every task of `deadQueue` back to the queue it came from, with fresh attempts.
    mutating func requeueDead(_ deadQueue: String, resumptions: inout [Resumption]) throws(QueueError) -> Int {
        guard deadQueue.hasSuffix(".dead"), let d = queueIDs[deadQueue] else { return 0 }
        let origin = String(deadQueue.dropLast(".dead".count))
        let q = try queueID(named: origin)
        var moved = 0
        while var task = queues[d].items.popFirst() {
            task.attempt = 0
            task.error = nil
            queues[q].items.append(task)
            queues[q].unfinished += 1
            if journal != nil { changes.append(.move(task.id, queue: origin, attempt: 0, error: nil)) }
            moved += 1
        }
        settle(q, resumptions: &resumptions)
        return moved
    }

    /// Deletes every queued (not leased) task of a queue.
    mutating func purge(_ name: String, resumptions: inout [Resumption]) -> Int {
        guard let q = queueIDs[name] else { return 0 }
        let purged = queues[q].items.count
        if journal != nil {
            for task in queues[q].items { changes.append(.delete(task.id)) }
        }
        queues[q].items.removeAll()
        queues[q].unfinished = max(0, queues[q].unfinished - purged)
        settle(q, resumptions: &resumptions)
        return purged
    }

    // MARK: Python's task_done / join

    mutating func taskDone(_ name: String, resumptions: inout [Resumption]) throws(QueueError) {
        let q = try queueID(named: name)
        guard queues[q].unfinished > 0 else {
            throw QueueError(.taskDoneTooManyTimes, queue: name, "task_done() called too many times")
        }
        queues[q].unfinished -= 1
        settle(q, resumptions: &resumptions)
    }

    mutating func join(
        _ name: String,
        waiterID: UInt64,
        continuation: CheckedContinuation<Void, any Error>,
        resumptions: inout [Resumption]
    ) {
        guard !isShutDown else {
            resumptions.append(.joinFailed(continuation, shuttingDownError(name)))
            return
        }
        do {
            let q = try queueID(named: name)
            if queues[q].unfinished == 0 {
                resumptions.append(.joined(continuation))
            } else {
                queues[q].joiners.append((waiterID, continuation))
            }
        } catch {
            resumptions.append(.joinFailed(continuation, error))
        }
    }

    /// Ends a waiting join with `CancellationError` (its caller was cancelled).
    mutating func cancelJoin(_ waiterID: UInt64, in name: String, resumptions: inout [Resumption]) {
        guard let q = queueIDs[name], let index = queues[q].joiners.firstIndex(where: { $0.id == waiterID }) else {
            return
        }
        let joiner = queues[q].joiners.remove(at: index)
        resumptions.append(.joinFailed(joiner.continuation, CancellationError()))
    }

    // MARK: Shutdown

    /// Fails every waiter and refuses new work. Leased tasks go back to their queues.
    mutating func shutDown(resumptions: inout [Resumption]) {
        guard !isShutDown else { return }
        isShutDown = true
        for q in queues.indices {
            let error = shuttingDownError(queues[q].name)
            resumptions += queues[q].getters.map { .getFailed($0.continuation, error, timer: $0.timer) }
            resumptions += queues[q].putters.map { .putFailed($0.continuation, error, timer: $0.timer) }
            resumptions += queues[q].joiners.map { .joinFailed($0.continuation, error) }
            queues[q].getters = []
            queues[q].putters = []
            queues[q].joiners = []
        }
        // With the waiters gone, returned tasks stay queued instead of being handed out again.
        // Shutting down is not the tasks' fault: their attempts don't count against them.
        for lease in leases.removeAll() {
            var task = lease.task
            task.attempt = max(0, task.attempt - 1)
            queues[lease.queue].inFlight -= 1
            queues[lease.queue].requeueAtFront([task])
        }
    }
}
