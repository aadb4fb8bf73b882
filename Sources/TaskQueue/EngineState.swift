/// Everything the engine holds, mutated only under its lock. Operations record the waiters
/// they wake in `resumptions`, which the engine runs after unlocking.
struct EngineState {
    let limits: QueueLimits
    private(set) var queues: [String: NamedQueue] = [:]
    private(set) var leases = LeaseTable()
    private var nextTaskID: TaskID = 1
    private(set) var isShutDown = false

    init(limits: QueueLimits) {
        self.limits = limits
    }

    /// The queue called `name`, created on first use.
    mutating func queue(named name: String) throws(QueueError) -> NamedQueue {
        if let queue = queues[name] { return queue }
        try Self.validate(name: name, limits: limits)
        guard queues.count < limits.maxQueues else {
            throw QueueError(
                .tooManyQueues, queue: name,
                "can't create queue '\(name)': \(limits.maxQueues) queues exist already (raise max_queues)")
        }
        let queue = NamedQueue(name: name, maxSize: limits.maxSize(of: name))
        queues[name] = queue
        return queue
    }

    static func validate(name: String, limits: QueueLimits) throws(QueueError) {
        let length = name.utf8.count
        guard length > 0, length <= limits.maxNameLength else {
            throw QueueError(
                .invalidQueueName, queue: name,
                "invalid queue name: it must be 1 to \(limits.maxNameLength) bytes of UTF-8, not \(length)")
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
    private mutating func append<S: Sequence<NewTask>>(_ tasks: S, to queue: NamedQueue) -> [TaskID] {
        var ids: [TaskID] = []
        ids.reserveCapacity(tasks.underestimatedCount)
        for task in tasks {
            let id = nextTaskID
            nextTaskID += 1
            queue.items.append(QueuedTask(id: id, reference: task.reference, attempt: 0, payload: task.payload))
            ids.append(id)
        }
        queue.totalPut += UInt64(ids.count)
        queue.unfinished += ids.count
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
        let queue: NamedQueue
        do {
            queue = try self.queue(named: name)
        } catch {
            resumptions.append(.putFailed(continuation, error, timer: nil))
            return
        }
        var rest = tasks[...]
        var accepted: [TaskID] = []
        if queue.putters.isEmpty {
            let fitting = min(queue.room, rest.count)
            accepted = append(rest.prefix(fitting), to: queue)
            rest = rest.dropFirst(fitting)
        }
        if rest.isEmpty {
            resumptions.append(.accepted(continuation, accepted, timer: nil))
        } else if wait == .none {
            resumptions.append(.putFailed(continuation, Self.fullError(queue, accepted: accepted), timer: nil))
        } else {
            let timer: Task<Void, Never>?
            if case .upTo(let duration) = wait { timer = makeTimer(duration) } else { timer = nil }
            queue.putters.append(
                NamedQueue.PutWaiter(
                    id: waiterID, remaining: rest, accepted: accepted, continuation: continuation, timer: timer))
        }
        settle(queue, resumptions: &resumptions)
    }

    private static func fullError(_ queue: NamedQueue, accepted: [TaskID]) -> QueueError {
        QueueError(
            .queueFull, queue: queue.name,
            "queue '\(queue.name)' is full (maxsize \(queue.maxSize)); \(accepted.count) item(s) were put before giving up",
            acceptedIDs: accepted)
    }

    // MARK: Get

    /// Leases up to `maxItems` tasks from the front of `queue` to `consumer`.
    private mutating func take(from queue: NamedQueue, maxItems: Int, consumer: ConsumerID) -> [QueuedTask] {
        let count = min(maxItems, queue.items.count)
        var tasks: [QueuedTask] = []
        tasks.reserveCapacity(count)
        for _ in 0..<count {
            var task = queue.items.removeFirst()
            task.attempt += 1
            if task.attempt > 1 { queue.totalRedelivered += 1 }
            leases.add(task, queue: queue.name, consumer: consumer)
            tasks.append(task)
        }
        queue.inFlight += count
        queue.totalDelivered += UInt64(count)
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
        let queue: NamedQueue
        do {
            queue = try self.queue(named: name)
        } catch {
            resumptions.append(.getFailed(continuation, error, timer: nil))
            return
        }
        // Earlier waiters come first; only an empty wait line may take directly.
        if queue.getters.isEmpty, !queue.items.isEmpty {
            let tasks = take(from: queue, maxItems: max(1, maxItems), consumer: consumer)
            resumptions.append(.delivered(continuation, tasks, timer: nil))
            settle(queue, resumptions: &resumptions)
        } else if wait == .none {
            resumptions.append(.delivered(continuation, [], timer: nil))
        } else {
            let timer: Task<Void, Never>?
            if case .upTo(let duration) = wait { timer = makeTimer(duration) } else { timer = nil }
            queue.getters.append(
                NamedQueue.GetWaiter(
                    id: waiterID, consumer: consumer, maxItems: max(1, maxItems), continuation: continuation,
                    timer: timer))
        }
    }

    // MARK: Settling waiters

    /// Moves waiting putters' items in while there is room and hands items to waiting getters,
    /// until neither can progress; wakes joiners once nothing is unfinished.
    mutating func settle(_ queue: NamedQueue, resumptions: inout [Resumption]) {
        var progressed = true
        while progressed {
            progressed = false
            while var putter = queue.putters.first, queue.room > 0 {
                let fitting = min(queue.room, putter.remaining.count)
                putter.accepted += append(putter.remaining.prefix(fitting), to: queue)
                putter.remaining = putter.remaining.dropFirst(fitting)
                progressed = true
                if putter.remaining.isEmpty {
                    queue.putters.removeFirst()
                    resumptions.append(.accepted(putter.continuation, putter.accepted, timer: putter.timer))
                } else {
                    queue.putters[queue.putters.startIndex] = putter
                    break
                }
            }
            while !queue.items.isEmpty, let getter = queue.getters.popFirst() {
                let tasks = take(from: queue, maxItems: getter.maxItems, consumer: getter.consumer)
                resumptions.append(.delivered(getter.continuation, tasks, timer: getter.timer))
                progressed = true
            }
        }
        if queue.unfinished == 0, !queue.joiners.isEmpty {
            resumptions += queue.joiners.map(Resumption.joined)
            queue.joiners = []
        }
    }

    /// Ends a waiter: on timeout a getter gets nothing and a putter "queue full";
    /// on cancellation both get `error`.
    mutating func endWaiter(
        _ waiterID: UInt64, in name: String, cancelled: Bool, resumptions: inout [Resumption]
    ) {
        guard let queue = queues[name] else { return }
        if let index = queue.getters.firstIndex(where: { $0.id == waiterID }) {
            let getter = queue.getters.remove(at: index)
            resumptions.append(
                cancelled
                    ? .getFailed(getter.continuation, CancellationError(), timer: getter.timer)
                    : .delivered(getter.continuation, [], timer: getter.timer))
        } else if let index = queue.putters.firstIndex(where: { $0.id == waiterID }) {
            let putter = queue.putters.remove(at: index)
            let error: any Error = cancelled ? CancellationError() : Self.fullError(queue, accepted: putter.accepted)
            resumptions.append(.putFailed(putter.continuation, error, timer: putter.timer))
            // The putter may have blocked others behind it.
            settle(queue, resumptions: &resumptions)
        }
    }

    // MARK: Ack, nack, release

    /// Settles leased tasks: acknowledged (done), or given back to the front of the queue.
    mutating func settleLeases(
        _ ids: [TaskID], in name: String, consumer: ConsumerID, requeue: Bool, markDone: Bool,
        resumptions: inout [Resumption]
    ) -> (AckResult, Set<TaskID>) {
        guard let queue = queues[name] else { return (AckResult(count: 0, unknown: ids), []) }
        var unknown: [TaskID] = []
        var returned: [QueuedTask] = []
        var settled = Set<TaskID>()
        for id in ids {
            guard let lease = leases.remove(id, queue: name, consumer: consumer) else {
                unknown.append(id)
                continue
            }
            settled.insert(id)
            if requeue { returned.append(lease.task) }
        }
        queue.inFlight -= settled.count
        if requeue {
            queue.totalNacked += UInt64(settled.count)
            queue.requeueAtFront(returned)
        } else {
            queue.totalAcked += UInt64(settled.count)
            if markDone { queue.unfinished = max(0, queue.unfinished - settled.count) }
        }
        settle(queue, resumptions: &resumptions)
        return (AckResult(count: settled.count, unknown: unknown), settled)
    }

    /// Atomically acknowledges tasks and appends the results that answer them. Results for
    /// tasks not leased to `consumer` are dropped, so a task never gets two results. Results
    /// are appended past a full queue: a finished task's result is never refused.
    mutating func complete(
        _ ids: [TaskID], in taskQueue: String, consumer: ConsumerID,
        results: [NewTask], into resultQueue: String,
        resumptions: inout [Resumption]
    ) throws(QueueError) -> (AckResult, [TaskID]) {
        guard !isShutDown else { throw shuttingDownError(taskQueue) }
        let target = try queue(named: resultQueue)
        let (ack, settled) = settleLeases(
            ids, in: taskQueue, consumer: consumer, requeue: false, markDone: true, resumptions: &resumptions)
        let kept = results.filter { settled.contains($0.reference) }
        let resultIDs = append(kept, to: target)
        settle(target, resumptions: &resumptions)
        return (ack, resultIDs)
    }

    /// Gives every task leased to `consumer` back to the front of its queue.
    mutating func release(_ consumer: ConsumerID, resumptions: inout [Resumption]) -> Int {
        returnLeases(leases.removeAll(of: consumer), resumptions: &resumptions)
    }

    private mutating func returnLeases(_ returned: [LeaseTable.Lease], resumptions: inout [Resumption]) -> Int {
        let byQueue = Dictionary(grouping: returned, by: \.queue)
        for (name, leases) in byQueue {
            guard let queue = queues[name] else { continue }
            queue.inFlight -= leases.count
            queue.requeueAtFront(leases.map(\.task))
            settle(queue, resumptions: &resumptions)
        }
        return returned.count
    }

    // MARK: Python's task_done / join

    mutating func taskDone(_ name: String, resumptions: inout [Resumption]) throws(QueueError) {
        let queue = try self.queue(named: name)
        guard queue.unfinished > 0 else {
            throw QueueError(.taskDoneTooManyTimes, queue: name, "task_done() called too many times")
        }
        queue.unfinished -= 1
        settle(queue, resumptions: &resumptions)
    }

    mutating func join(
        _ name: String, continuation: CheckedContinuation<Void, any Error>, resumptions: inout [Resumption]
    ) {
        guard !isShutDown else {
            resumptions.append(.joinFailed(continuation, shuttingDownError(name)))
            return
        }
        do {
            let queue = try self.queue(named: name)
            if queue.unfinished == 0 {
                resumptions.append(.joined(continuation))
            } else {
                queue.joiners.append(continuation)
            }
        } catch {
            resumptions.append(.joinFailed(continuation, error))
        }
    }

    // MARK: Shutdown

    /// Fails every waiter and refuses new work. Leased tasks go back to their queues.
    mutating func shutDown(resumptions: inout [Resumption]) {
        guard !isShutDown else { return }
        isShutDown = true
        for queue in queues.values {
            let error = shuttingDownError(queue.name)
            resumptions += queue.getters.map { .getFailed($0.continuation, error, timer: $0.timer) }
            resumptions += queue.putters.map { .putFailed($0.continuation, error, timer: $0.timer) }
            resumptions += queue.joiners.map { .joinFailed($0, error) }
            queue.getters = []
            queue.putters = []
            queue.joiners = []
        }
        // With the waiters gone, returned tasks stay queued instead of being handed out again.
        _ = returnLeases(leases.removeAll(), resumptions: &resumptions)
    }
}
