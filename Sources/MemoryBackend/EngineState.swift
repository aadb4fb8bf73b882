import DequeModule
import HeapModule
import OrderedCollections
import QueueBackend
import TaskMasterStatus

/// Everything the memory backend holds, changed only under its lock. Operations record the
/// waiters they answer in `resumptions`, which the backend runs after unlocking, and the
/// changes a store must make in the journal, in order.
///
/// Queues live in slots (index = queue id, reused once a queue is reclaimed). A queue that is
/// empty and unused is reclaimed: at once if it never held anything (it was made by a waiting
/// get), otherwise when room is needed for a new queue (its counters go with it).
struct EngineState {
    /// A timed wait's end.
    struct Deadline: Comparable {
        var at: Duration
        var waiter: UInt64
        var queue: Int

        static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at < rhs.at }
    }

    let limits: QueueLimits
    let budget: MemoryBudget
    private(set) var slots: [NamedQueue?] = []
    private var freeSlots: [Int] = []
    private var slotByName: [String: Int] = [:]
    /// Idle queues that keep their counters until a new queue needs their room, oldest first.
    private var idleWithHistory: OrderedSet<Int> = []
    private(set) var leases = LeaseTable()
    private var nextTaskID: TaskID = 1
    private var nextWaiterID: UInt64 = 1
    private(set) var isShutDown = false
    /// Changes for the store, appended in the order they happen; nil without a store.
    let journal: Journal?
    /// Mutations of the current operation, appended to the journal in one go.
    private var changes: [StoreMutation] = []
    /// Whether the current operation's changes are one completion.
    private var changesAreCompletion = false
    /// The engine's time (elapsed since it started), set as each operation begins.
    var now: Duration = .zero
    /// Put-to-done times of tasks finished by the current operation, when someone listens.
    var collectsLatencies = false
    var latencies: [(queue: String, latency: Duration)] = []
    /// Ends of timed waits, earliest first. Entries of waiters already gone are skipped.
    private var deadlines = Heap<Deadline>()
    /// Set when a wait's end came before every earlier one: the timer must look again.
    var deadlinesMovedEarlier = false
    /// The queues each consumer waits on.
    private var waitingOn: [ConsumerID: Set<Int>] = [:]
    /// Queues whose first waiting put is held back by the memory limit.
    private(set) var memoryBlocked: Set<Int> = []

    init(limits: QueueLimits, budget: MemoryBudget, journal: Journal?) {
        self.limits = limits
        self.budget = budget
        self.journal = journal
    }

    // MARK: Queues

    /// The slot of queue `name`, if it exists.
    func existing(_ name: String) -> Int? { slotByName[name] }

    /// The slot of queue `name`, creating the queue if needed.
    /// - Parameter anyway: create it even past `maxQueues` (dead-letter and result queues,
    ///   restored tasks: refusing them would lose tasks).
    private mutating func slot(_ name: String, creatingAnyway anyway: Bool = false) throws(QueueError) -> Int {
        if let q = slotByName[name] { return q }
        try limits.validate(queueName: name)
        if !anyway, slotByName.count >= limits.maxQueues {
            guard let oldest = idleWithHistory.first else {
                throw QueueError(
                    .tooManyQueues,
                    queue: name,
                    "can't create queue '\(name)': \(limits.maxQueues) queues hold tasks or are in use (raise max_queues)"
                )
            }
            remove(oldest)
        }
        let queue = NamedQueue(name: name, maxSize: limits.maxSize(of: name), maxBytes: limits.maxBytes(of: name))
        let q: Int
        if let free = freeSlots.popLast() {
            q = free
            slots[q] = queue
        } else {
            q = slots.count
            slots.append(queue)
        }
        slotByName[name] = q
        return q
    }

    private mutating func remove(_ q: Int) {
        guard let queue = slots[q] else { return }
        slotByName[queue.name] = nil
        slots[q] = nil
        freeSlots.append(q)
        idleWithHistory.remove(q)
    }

    /// Called at the end of every operation on queue `q`: reclaims it, or marks it reclaimable,
    /// if it is idle.
    mutating func review(_ q: Int) {
        guard let queue = slots[q] else { return }
        if !queue.isIdle {
            idleWithHistory.remove(q)
        } else if queue.hasHistory {
            idleWithHistory.append(q)
        } else {
            remove(q)
        }
    }

    /// How many queues exist.
    var queueCount: Int { slotByName.count }

    // MARK: Restoring and journaling

    /// Puts tasks read back from a store into their queues, in id order, as queued (leases
    /// end with the process that held them).
    mutating func restore(_ tasks: [StoredTask]) throws(QueueError) {
        for task in tasks.sorted(by: { $0.id < $1.id }) {
            let q = try slot(task.queue, creatingAnyway: true)
            let entry = NamedQueue.Entry(
                task: QueuedTask(
                    id: task.id,
                    reference: task.reference,
                    attempt: task.attempt,
                    payload: task.payload,
                    error: task.error
                ),
                enqueuedAt: now
            )
            slots[q]!.append(entry)
            slots[q]!.unfinished += 1
            budget.charge(entry.cost)
            nextTaskID = max(nextTaskID, task.id + 1)
        }
        for q in slots.indices { review(q) }
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
        guard let journal else { return 0 }
        guard !changes.isEmpty else { return journal.lastAppended }
        let sequence = journal.append(changes, isCompletion: changesAreCompletion)
        changes.removeAll(keepingCapacity: true)
        return sequence
    }

    private mutating func makeWaiterID(_ consumer: ConsumerID, on q: Int, until limit: WaitLimit) -> UInt64 {
        let id = nextWaiterID
        nextWaiterID += 1
        waitingOn[consumer, default: []].insert(q)
        if case .upTo(let duration) = limit {
            let deadline = Deadline(at: now + duration, waiter: id, queue: q)
            if deadlines.min.map({ deadline.at < $0.at }) ?? true { deadlinesMovedEarlier = true }
            deadlines.insert(deadline)
        }
        return id
    }

    // MARK: Put

    /// Appends tasks, ignoring capacity. Returns their ids.
    private mutating func append<S: Sequence<NewTask>>(_ tasks: S, to q: Int) -> [TaskID] {
        var ids: [TaskID] = []
        ids.reserveCapacity(tasks.underestimatedCount)
        var next = nextTaskID
        let journaling = journal != nil
        let name = slots[q]!.name
        var cost = 0
        for task in tasks {
            let entry = NamedQueue.Entry(
                task: QueuedTask(id: next, reference: task.reference, attempt: 0, payload: task.payload),
                enqueuedAt: now
            )
            cost += entry.cost
            slots[q]!.append(entry)
            if journaling {
                changes.append(
                    .insert(
                        StoredTask(id: next, queue: name, reference: task.reference, attempt: 0, payload: task.payload)
                    )
                )
            }
            ids.append(next)
            next += 1
        }
        nextTaskID = next
        budget.charge(cost)
        slots[q]!.totalPut += UInt64(ids.count)
        slots[q]!.unfinished += ids.count
        return ids
    }

    /// How many of `tasks` (from the front) may go into queue `q` now: its capacities, then
    /// the memory limit.
    private func admissible(_ tasks: ArraySlice<NewTask>, to q: Int) -> (count: Int, blockedByMemory: Bool) {
        let fitting = slots[q]!.fitting(tasks)
        guard budget.limit != .max else { return (fitting, false) }
        var cost = 0
        var count = 0
        for task in tasks.prefix(fitting) {
            cost += task.payload.readableBytes + NamedQueue.entryOverhead
            guard budget.fits(cost) else { return (count, true) }
            count += 1
        }
        return (count, false)
    }

    /// A put: takes what fits (behind earlier waiting putters), then waits for room or fails.
    /// Returns the outcome, or nil when the put waits (its reply is then answered later).
    mutating func put(
        _ tasks: [NewTask],
        into name: String,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[TaskID]>,
        resumptions: inout [Resumption]
    ) -> Result<[TaskID], QueueError>? {
        guard !isShutDown else { return .failure(.shuttingDown(name)) }
        let q: Int
        do {
            q = try slot(name)
        } catch {
            return .failure(error)
        }
        defer { review(q) }
        var rest = tasks[...]
        var accepted: [TaskID] = []
        var blockedByMemory = false
        if slots[q]!.putters.isEmpty {
            let (count, memory) = admissible(rest, to: q)
            accepted = append(rest.prefix(count), to: q)
            rest = rest.dropFirst(count)
            blockedByMemory = memory
        }
        defer { settle(q, resumptions: &resumptions) }
        if rest.isEmpty { return .success(accepted) }
        guard wait != .none else { return .failure(fullError(q, accepted: accepted, memory: blockedByMemory)) }
        let id = makeWaiterID(consumer, on: q, until: wait)
        slots[q]!.putters.append(
            NamedQueue.PutWaiter(id: id, consumer: consumer, remaining: rest, accepted: accepted, reply: reply)
        )
        if blockedByMemory {
            // The wait timer retries puts held back by memory: make sure it is looking.
            if memoryBlocked.isEmpty { deadlinesMovedEarlier = true }
            memoryBlocked.insert(q)
        }
        return nil
    }

    private func fullError(_ q: Int, accepted: [TaskID], memory: Bool) -> QueueError {
        let queue = slots[q]!
        let put = "\(accepted.count) item(s) were put before giving up"
        if memory {
            return QueueError(
                .memoryLimit,
                queue: queue.name,
                "master memory limit \(ByteCount(budget.limit)) reached; \(put) (raise max_memory, or take tasks out)",
                acceptedIDs: accepted
            )
        }
        let limit =
            queue.maxSize > 0 && queue.items.count >= queue.maxSize
            ? "maxsize \(queue.maxSize)" : "max_bytes \(ByteCount(queue.maxBytes))"
        return QueueError(
            .queueFull,
            queue: queue.name,
            "queue '\(queue.name)' is full (\(limit)); \(put)",
            acceptedIDs: accepted
        )
    }

    // MARK: Get

    /// Leases up to `maxItems` tasks from the front of queue `q` to `consumer`.
    private mutating func take(from q: Int, maxItems: Int, consumer: ConsumerID) -> [QueuedTask] {
        // Moved out of its slot while it changes, so that it is changed in place.
        var queue = slots[q]!
        slots[q] = nil
        defer { slots[q] = queue }
        let count = min(maxItems, queue.items.count)
        var leased: [NamedQueue.Entry?] = []
        leased.reserveCapacity(count)
        var tasks: [QueuedTask] = []
        tasks.reserveCapacity(count)
        var redelivered: UInt64 = 0
        for _ in 0..<count {
            var entry = queue.removeFirst()
            entry.task.attempt += 1
            if entry.task.attempt > 1 { redelivered += 1 }
            tasks.append(entry.task)
            leased.append(consume entry)
        }
        leases.add(leased, queue: q, consumer: consumer, expires: now + limits.leaseTimeout(of: queue.name))
        queue.totalRedelivered += redelivered
        queue.inFlight += count
        queue.totalDelivered += UInt64(count)
        return tasks
    }

    /// A get: takes what is there, or waits for the first item, or answers empty at once.
    /// Returns the outcome, or nil when the get waits. A get that does not wait never creates
    /// its queue.
    mutating func get(
        from name: String,
        maxItems: Int,
        wait: WaitLimit,
        consumer: ConsumerID,
        reply: @escaping QueueReply<[QueuedTask]>,
        resumptions: inout [Resumption]
    ) -> Result<[QueuedTask], QueueError>? {
        guard !isShutDown else { return .failure(.shuttingDown(name)) }
        let q: Int
        if let existing = slotByName[name] {
            q = existing
        } else {
            do {
                try limits.validate(queueName: name)
                if wait == .none { return .success([]) }
                q = try slot(name)
            } catch {
                return .failure(error)
            }
        }
        defer { review(q) }
        // Earlier waiters come first; only an empty wait line may take directly.
        if slots[q]!.getters.isEmpty, !slots[q]!.items.isEmpty {
            let tasks = take(from: q, maxItems: max(1, maxItems), consumer: consumer)
            settle(q, resumptions: &resumptions)
            return .success(tasks)
        }
        guard wait != .none else { return .success([]) }
        let id = makeWaiterID(consumer, on: q, until: wait)
        slots[q]!.getters.append(
            NamedQueue.GetWaiter(id: id, consumer: consumer, maxItems: max(1, maxItems), reply: reply)
        )
        return nil
    }

    /// Tasks at the front of a queue, left where they are (for inspecting dead letters).
    func peek(_ name: String, maxItems: Int) -> [QueuedTask] {
        guard let q = slotByName[name] else { return [] }
        return slots[q]!.items.prefix(maxItems).map(\.task)
    }

    // MARK: Settling waiters

    /// Moves waiting putters' items in while there is room and hands items to waiting getters,
    /// until neither can progress; wakes joiners once nothing is unfinished.
    mutating func settle(_ q: Int, resumptions: inout [Resumption]) {
        guard slots[q] != nil else { return }
        var progressed = true
        while progressed {
            progressed = false
            while var putter = slots[q]!.putters.first {
                let (count, memory) = admissible(putter.remaining, to: q)
                if memory { memoryBlocked.insert(q) } else { memoryBlocked.remove(q) }
                guard count > 0 else { break }
                putter.accepted += append(putter.remaining.prefix(count), to: q)
                putter.remaining = putter.remaining.dropFirst(count)
                progressed = true
                if putter.remaining.isEmpty {
                    slots[q]!.putters.removeFirst()
                    resumptions.append(.accepted(putter.reply, .success(putter.accepted)))
                } else {
                    slots[q]!.putters[slots[q]!.putters.startIndex] = putter
                    break
                }
            }
            while !slots[q]!.items.isEmpty, let getter = slots[q]!.getters.popFirst() {
                let tasks = take(from: q, maxItems: getter.maxItems, consumer: getter.consumer)
                resumptions.append(.delivered(getter.reply, .success(tasks)))
                progressed = true
            }
        }
        if slots[q]!.putters.isEmpty { memoryBlocked.remove(q) }
        if slots[q]!.unfinished == 0, !slots[q]!.joiners.isEmpty {
            resumptions += slots[q]!.joiners.map { .joined($0.reply, .success(())) }
            slots[q]!.joiners = []
        }
    }

    /// Gives waiting putters held back by the memory limit another chance (memory was freed).
    mutating func settleMemoryBlocked(resumptions: inout [Resumption]) {
        guard !memoryBlocked.isEmpty else { return }
        for q in memoryBlocked {
            settle(q, resumptions: &resumptions)
            review(q)
        }
    }

    /// The end of the earliest timed wait still pending, if any.
    mutating func nextDeadline() -> Duration? {
        while let first = deadlines.min, !isWaiting(first.waiter, in: first.queue) {
            _ = deadlines.removeMin()
        }
        return deadlines.min?.at
    }

    private func isWaiting(_ waiter: UInt64, in q: Int) -> Bool {
        guard q < slots.count, let queue = slots[q] else { return false }
        return queue.getters.contains { $0.id == waiter } || queue.putters.contains { $0.id == waiter }
    }

    /// Ends every timed wait whose time has come: a getter gets nothing, a putter "full".
    mutating func expireWaits(resumptions: inout [Resumption]) {
        while let first = deadlines.min, first.at <= now {
            _ = deadlines.removeMin()
            guard first.queue < slots.count, slots[first.queue] != nil else { continue }
            endWaiter(first.waiter, in: first.queue, with: nil, resumptions: &resumptions)
            review(first.queue)
        }
    }

    /// Ends a waiter: with `error`, or (nil) as its wait running out: a getter gets nothing and
    /// a putter "queue full" with what went in.
    private mutating func endWaiter(
        _ waiter: UInt64,
        in q: Int,
        with error: QueueError?,
        resumptions: inout [Resumption]
    ) {
        if let index = slots[q]!.getters.firstIndex(where: { $0.id == waiter }) {
            let getter = slots[q]!.getters.remove(at: index)
            resumptions.append(.delivered(getter.reply, error.map { .failure($0) } ?? .success([])))
        } else if let index = slots[q]!.putters.firstIndex(where: { $0.id == waiter }) {
            let putter = slots[q]!.putters.remove(at: index)
            var failure =
                error ?? fullError(q, accepted: putter.accepted, memory: index == 0 && memoryBlocked.contains(q))
            failure.acceptedIDs = putter.accepted
            resumptions.append(.accepted(putter.reply, .failure(failure)))
            // The putter may have held others back.
            settle(q, resumptions: &resumptions)
        } else if let index = slots[q]!.joiners.firstIndex(where: { $0.id == waiter }) {
            let joiner = slots[q]!.joiners.remove(at: index)
            resumptions.append(.joined(joiner.reply, .failure(error ?? .cancelled(slots[q]!.name))))
        }
    }

    /// Ends every wait of `consumer` with `.cancelled`.
    mutating func cancelWaits(of consumer: ConsumerID, resumptions: inout [Resumption]) {
        guard let queues = waitingOn.removeValue(forKey: consumer) else { return }
        for q in queues where q < slots.count && slots[q] != nil {
            let error = QueueError.cancelled(slots[q]!.name)
            let waiters =
                slots[q]!.getters.filter { $0.consumer == consumer }.map(\.id)
                + slots[q]!.putters.filter { $0.consumer == consumer }.map(\.id)
                + slots[q]!.joiners.filter { $0.consumer == consumer }.map(\.id)
            for waiter in waiters { endWaiter(waiter, in: q, with: error, resumptions: &resumptions) }
            review(q)
        }
    }

    // MARK: Ack, nack, complete, release, expiry

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
        guard let q = slotByName[name] else {
            return (AckResult(count: 0, unknown: ids), Array(repeating: false, count: ids.count))
        }
        defer { review(q) }
        var unknown: [TaskID] = []
        var returned: [NamedQueue.Entry] = []
        var settled: [Bool] = []
        settled.reserveCapacity(ids.count)
        var freed = 0
        let journaling = journal != nil
        let collectsLatencies = self.collectsLatencies
        let now = self.now
        var changes: [StoreMutation] = []
        var latencies: [(queue: String, latency: Duration)] = []
        let count = leases.remove(ids, queue: q, consumer: consumer) { id, lease in
            guard let lease else {
                unknown.append(id)
                settled.append(false)
                return
            }
            settled.append(true)
            if requeue {
                returned.append(lease.entry)
            } else {
                freed += lease.entry.cost
                if journaling { changes.append(.delete(id)) }
                if collectsLatencies { latencies.append((name, now - lease.entry.enqueuedAt)) }
            }
        }
        if !changes.isEmpty { self.changes += changes }
        if !latencies.isEmpty { self.latencies += latencies }
        slots[q]!.inFlight -= count
        if requeue {
            slots[q]!.totalNacked += UInt64(count)
            giveBack(returned, to: q, reason: reason, resumptions: &resumptions)
        } else {
            slots[q]!.totalAcked += UInt64(count)
            if markDone { slots[q]!.unfinished = max(0, slots[q]!.unfinished - count) }
            budget.charge(-freed)
            settle(q, resumptions: &resumptions)
            if freed > 0 { settleMemoryBlocked(resumptions: &resumptions) }
        }
        return (AckResult(count: count, unknown: unknown), settled)
    }

    /// Puts tasks whose delivery failed back at the front of queue `q`, or, past the delivery
    /// limit, on its dead-letter queue. The caller has already counted them out of the queue's
    /// in-flight number.
    private mutating func giveBack(
        _ entries: [NamedQueue.Entry],
        to q: Int,
        reason: String,
        resumptions: inout [Resumption]
    ) {
        guard !entries.isEmpty else { return }
        let maxDeliveries = limits.maxDeliveries
        let name = slots[q]!.name
        var again: [NamedQueue.Entry] = []
        var dead: [NamedQueue.Entry] = []
        for var entry in entries {
            entry.task.error = reason
            if maxDeliveries > 0, entry.task.attempt >= UInt32(clamping: maxDeliveries),
                !QueueLimits.isDeadLetterQueue(name)
            {
                entry.task.error = "\(reason) (delivery \(entry.task.attempt) of \(maxDeliveries); gave up)"
                dead.append(entry)
            } else {
                again.append(entry)
            }
        }
        slots[q]!.requeueAtFront(again)
        if !dead.isEmpty {
            let deadName = QueueLimits.deadLetterQueue(of: name)
            // A dead-letter queue is never refused for lack of room: its name is valid whenever
            // its queue's is, short of the length limit.
            if let d = try? slot(deadName, creatingAnyway: true) {
                slots[q]!.totalDead += UInt64(dead.count)
                for entry in dead {
                    slots[d]!.append(entry)
                    slots[d]!.totalPut += 1
                    if journal != nil {
                        changes.append(
                            .move(entry.task.id, queue: deadName, attempt: entry.task.attempt, error: entry.task.error)
                        )
                    }
                }
                // Dead letters are not waited for by join(): they are done with, badly.
                slots[q]!.unfinished = max(0, slots[q]!.unfinished - dead.count)
                settle(d, resumptions: &resumptions)
                review(d)
            } else {
                slots[q]!.requeueAtFront(dead)  // a name too long for ".dead": keep them where they were
            }
        }
        settle(q, resumptions: &resumptions)
    }

    /// Atomically acknowledges tasks and appends the results that answer them. Results for
    /// tasks not leased to `consumer` are dropped, so a task never gets two results. Results
    /// are appended past every capacity: a finished task's result is never refused.
    mutating func complete(
        _ ids: [TaskID],
        in taskQueue: String,
        consumer: ConsumerID,
        results: [NewTask],
        into resultQueue: String,
        resumptions: inout [Resumption]
    ) -> Result<Completion, QueueError> {
        guard !isShutDown else { return .failure(.shuttingDown(taskQueue)) }
        let target: Int
        do {
            target = try slot(resultQueue, creatingAnyway: true)
        } catch {
            return .failure(error)
        }
        defer { review(target) }
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
        return .success(Completion(ack: ack, resultIDs: resultIDs))
    }

    /// Ends the waits of `consumer` and gives every task leased to it back to its queue.
    mutating func release(_ consumer: ConsumerID, resumptions: inout [Resumption]) -> Int {
        cancelWaits(of: consumer, resumptions: &resumptions)
        return returnLeases(
            leases.removeAll(of: consumer),
            reason: "its consumer disconnected",
            resumptions: &resumptions
        )
    }

    /// Ends the leases that ran out: their consumers neither acknowledged nor sent a heartbeat.
    mutating func expireLeases(resumptions: inout [Resumption]) -> Int {
        returnLeases(leases.removeExpired(before: now), reason: "its lease expired", resumptions: &resumptions)
    }

    /// Extends every lease `consumer` holds, from now.
    mutating func extendLeases(of consumer: ConsumerID) -> Int {
        let now = self.now
        let slots = self.slots
        let limits = self.limits
        return leases.extend(of: consumer) { q in now + limits.leaseTimeout(of: slots[q]?.name ?? "") }
    }

    private mutating func returnLeases(
        _ returned: [LeaseTable.Lease],
        reason: String,
        resumptions: inout [Resumption]
    ) -> Int {
        let byQueue = Dictionary(grouping: returned, by: \.queue)
        for (q, leases) in byQueue {
            slots[q]!.inFlight -= leases.count
            giveBack(leases.map(\.entry), to: q, reason: reason, resumptions: &resumptions)
            review(q)
        }
        return returned.count
    }

    // MARK: Dead letters

    /// Moves every task of `deadQueue` back to the queue it came from, with fresh attempts.
    mutating func requeueDead(_ deadQueue: String, resumptions: inout [Resumption]) -> Result<Int, QueueError> {
        guard QueueLimits.isDeadLetterQueue(deadQueue), let d = slotByName[deadQueue] else { return .success(0) }
        let origin = String(deadQueue.dropLast(".dead".count))
        let q: Int
        do {
            q = try slot(origin, creatingAnyway: true)
        } catch {
            return .failure(error)
        }
        var moved = 0
        for var entry in slots[d]!.removeAll() {
            entry.task.attempt = 0
            entry.task.error = nil
            slots[q]!.append(entry)
            slots[q]!.unfinished += 1
            if journal != nil { changes.append(.move(entry.task.id, queue: origin, attempt: 0, error: nil)) }
            moved += 1
        }
        settle(q, resumptions: &resumptions)
        review(q)
        review(d)
        return .success(moved)
    }

    /// Deletes every queued (not leased) task of a queue.
    mutating func purge(_ name: String, resumptions: inout [Resumption]) -> Int {
        guard let q = slotByName[name] else { return 0 }
        let removed = slots[q]!.removeAll()
        var freed = 0
        for entry in removed {
            freed += entry.cost
            if journal != nil { changes.append(.delete(entry.task.id)) }
        }
        budget.charge(-freed)
        slots[q]!.unfinished = max(0, slots[q]!.unfinished - removed.count)
        settle(q, resumptions: &resumptions)
        review(q)
        settleMemoryBlocked(resumptions: &resumptions)
        return removed.count
    }

    // MARK: Python's task_done / join

    mutating func taskDone(_ name: String, resumptions: inout [Resumption]) -> Result<Void, QueueError> {
        guard let q = slotByName[name], slots[q]!.unfinished > 0 else {
            return .failure(QueueError(.taskDoneTooManyTimes, queue: name, "task_done() called too many times"))
        }
        slots[q]!.unfinished -= 1
        settle(q, resumptions: &resumptions)
        review(q)
        return .success(())
    }

    /// Returns the outcome, or nil when the join waits.
    mutating func join(
        _ name: String,
        consumer: ConsumerID,
        reply: @escaping QueueReply<Void>
    ) -> Result<Void, QueueError>? {
        guard !isShutDown else { return .failure(.shuttingDown(name)) }
        do {
            try limits.validate(queueName: name)
        } catch {
            return .failure(error)
        }
        guard let q = slotByName[name], slots[q]!.unfinished > 0 else { return .success(()) }
        let id = makeWaiterID(consumer, on: q, until: .forever)
        slots[q]!.joiners.append(NamedQueue.Joiner(id: id, consumer: consumer, reply: reply))
        return nil
    }

    // MARK: Inspecting

    /// Counters of one queue; zeros for one that does not exist.
    func status(of name: String) -> QueueStatus {
        guard let q = slotByName[name] else {
            return QueueStatus(name: name, maxSize: limits.maxSize(of: name), maxBytes: limits.maxBytes(of: name))
        }
        return slots[q]!.status
    }

    /// Counters of every queue, by name.
    func statuses() -> [QueueStatus] {
        slots.compactMap { $0?.status }.sorted { $0.name < $1.name }
    }

    // MARK: Shutdown

    /// Fails every waiter and refuses new work. Leased tasks go back to their queues.
    mutating func shutDown(resumptions: inout [Resumption]) {
        guard !isShutDown else { return }
        isShutDown = true
        for q in slots.indices where slots[q] != nil {
            let error = QueueError.shuttingDown(slots[q]!.name)
            resumptions += slots[q]!.getters.map { .delivered($0.reply, .failure(error)) }
            resumptions += slots[q]!.putters.map { putter in
                var failure = error
                failure.acceptedIDs = putter.accepted
                return .accepted(putter.reply, .failure(failure))
            }
            resumptions += slots[q]!.joiners.map { .joined($0.reply, .failure(error)) }
            slots[q]!.getters = []
            slots[q]!.putters = []
            slots[q]!.joiners = []
        }
        waitingOn = [:]
        memoryBlocked = []
        // With the waiters gone, returned tasks stay queued instead of being handed out again.
        // Shutting down is not the tasks' fault: their attempts don't count against them.
        for lease in leases.removeAll() {
            var entry = lease.entry
            entry.task.attempt = max(0, entry.task.attempt - 1)
            slots[lease.queue]!.inFlight -= 1
            slots[lease.queue]!.requeueAtFront([entry])
        }
    }
}
