import Logging
import NIOCore
import PostgresNIO
import QueueBackend
import TaskMasterStatus

/// The statements of one group and the effects they call for, phase by phase: puts, admitted
/// puts, acks and completions and nacks, the rest, takes, join checks, notifications.
struct GroupWork {
    let backend: PostgresBackend
    let connection: PostgresConnection
    var effects: [Effect] = []
    /// Messages for the other masters: `<master> i <queue>` (items arrived), `<master> r <queue>`
    /// (room appeared).
    var notices: Set<String> = []
    /// The getters this group's new items go to first (see `HandOffJob`).
    var handOuts: HandOuts
    /// The tasks the group leases to getters (takes and hand-offs): if the group fails after
    /// a `COMMIT` that may have happened, they go back (see `CommitInDoubt`).
    var leasedOut: [(consumer: ConsumerID, ids: [TaskID])] = []
    /// The rows of the tasks the group leases (see `BackendState.leases`).
    var rows: [TaskID: RowID] = [:]

    init(backend: PostgresBackend, connection: PostgresConnection, handOffs: [HandOffJob] = []) {
        self.backend = backend
        self.connection = connection
        self.handOuts = HandOuts(handOffs, backend: backend)
    }

    var logger: Logger { backend.logger }
    var limits: QueueLimits { backend.limits }

    func run(_ sql: String, _ bindings: PostgresBindings = PostgresBindings()) async throws -> PostgresRowSequence {
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
    }

    /// Runs a statement whose rows don't matter, reading them all (a row sequence left unread
    /// is not a safe way to end a statement).
    func perform(_ sql: String, _ bindings: PostgresBindings = PostgresBindings()) async throws {
        for try await _ in try await run(sql, bindings) {}
    }

    /// Items arrived in `queue`: waiters here look again, other masters are told.
    mutating func itemsArrived(_ queue: String) {
        notices.insert("\(backend.masterID) i \(queue)")
        effects.append { state, _ in state.touch(queue, .items) }
    }

    // MARK: Puts

    /// Every put on a queue without a capacity, in one statement.
    mutating func puts(_ operations: [Operation]) async throws {
        var queues: [String] = []
        var payloads: [ByteBuffer] = []
        var references: [Int64] = []
        var slots: [Int32] = []
        for case .put(let tasks, let queue, _) in operations {
            for task in tasks {
                queues.append(queue)
                payloads.append(task.payload)
                references.append(Int64(bitPattern: task.reference))
                slots.append(handOuts.slot(for: queue))
            }
        }
        guard !queues.isEmpty else { return }
        let inserted = try await insert(queues, payloads, references, slots: slots)
        var ids = inserted.map(\.id)
        var queued = Set<String>()
        for (i, (id, row)) in inserted.enumerated() {
            if slots[i] == 0 {
                queued.insert(queues[i])
            } else {
                handOut(slot: slots[i], id: id, row: row, reference: references[i], payload: payloads[i])
            }
        }
        for case .put(let tasks, let queue, let reply) in operations {
            let mine = Array(ids.prefix(tasks.count))
            ids.removeFirst(mine.count)
            effects.append { state, answers in
                state.counters[queue, default: Counters()].totalPut += UInt64(mine.count)
                answers.append { reply(.success(mine)) }
            }
        }
        for queue in queued { itemsArrived(queue) }
    }

    /// Inserts tasks (in order; ids increasing in that order), those with a slot leased to its
    /// getter (with their rows).
    private func insert(
        _ queues: [String],
        _ payloads: [ByteBuffer],
        _ references: [Int64],
        slots: [Int32]? = nil
    ) async throws -> [(id: TaskID, row: RowID?)] {
        var ids: [(id: TaskID, row: RowID?)] = []
        ids.reserveCapacity(queues.count)
        let bindings = binds(
            queues,
            payloads,
            references,
            slots ?? Array(repeating: 0, count: queues.count),
            handOuts.owners,
            handOuts.leaseMilliseconds
        )
        for try await row in try await run(SQL.insert, bindings) {
            var columns = Columns(row)
            ids.append((TaskID(bitPattern: try columns.next(Int64.self)), try columns.next(RowID?.self)))
        }
        ids.sort { $0.id < $1.id }
        return ids
    }

    /// Waiting putters of queues with a capacity: each queue locked (in name order) and
    /// counted, then as many tasks admitted, in line order, as there is room.
    mutating func admits(_ jobs: [AdmitJob]) async throws {
        for job in jobs.sorted(by: { $0.queue < $1.queue }) {
            try await perform(SQL.lockQueue, binds("\(backend.settings.url.schema)/\(job.queue)"))
            var queued = 0
            for try await count in try await run(SQL.countQueued, binds(job.queue, Int64(job.capacity)))
                .decode(Int64.self)
            {
                queued = Int(count)
            }
            var room = max(0, job.capacity - queued)
            var admitted: [(id: UInt64, count: Int)] = []
            var payloads: [ByteBuffer] = []
            var references: [Int64] = []
            for putter in job.putters {
                let count = min(room, putter.remaining.count)
                room -= count
                admitted.append((putter.id, count))
                for task in putter.remaining.prefix(count) {
                    payloads.append(task.payload)
                    references.append(Int64(bitPattern: task.reference))
                }
                if count < putter.remaining.count { break }  // later putters wait behind it
            }
            var ids =
                payloads.isEmpty
                ? []
                : try await insert(Array(repeating: job.queue, count: payloads.count), payloads, references).map(\.id)
            var byPutter: [UInt64: [TaskID]] = [:]
            for (id, count) in admitted {
                byPutter[id] = Array(ids.prefix(count))
                ids.removeFirst(count)
            }
            let queue = job.queue
            let now = backend.now
            let all = Set(job.putters.map(\.id))
            let capacity = job.capacity
            let admittedIDs = byPutter
            effects.append { state, answers in
                guard var line = state.lines[queue] else { return }
                var put = 0
                line.putters = line.putters.compactMap { putter in
                    guard all.contains(putter.id) else { return putter }
                    var putter = putter
                    putter.inFlight = false
                    let ids = admittedIDs[putter.id] ?? []
                    put += ids.count
                    putter.accepted += ids
                    putter.remaining = putter.remaining.dropFirst(ids.count)
                    let reply = putter.reply
                    let accepted = putter.accepted
                    if let error = putter.cancelled {
                        var failure = error
                        failure.acceptedIDs = accepted
                        answers.append { [failure] in reply(.failure(failure)) }
                        return nil
                    }
                    if putter.remaining.isEmpty {
                        answers.append { reply(.success(accepted)) }
                        return nil
                    }
                    let over = putter.deadline.map { $0 <= now } ?? false
                    if !putter.waits || over {
                        let failure = QueueError(
                            .queueFull,
                            queue: queue,
                            "queue '\(queue)' is full (maxsize \(capacity)); \(putter.accepted.count) item(s) were put before giving up",
                            acceptedIDs: putter.accepted
                        )
                        answers.append { reply(.failure(failure)) }
                        return nil
                    }
                    return putter
                }
                state.counters[queue, default: Counters()].totalPut += UInt64(put)
                state.lines[queue] = line
                state.tidy(queue)
            }
            if admitted.contains(where: { $0.count > 0 }) { itemsArrived(job.queue) }
        }
    }

    // MARK: Acks, completions, nacks

    mutating func settle(_ operations: [Operation]) async throws {
        try await acks(operations)
        try await completions(operations)
        try await nacks(operations)
    }

    private mutating func acks(_ operations: [Operation]) async throws {
        var tasks = LeasedTasks()
        for case .ack(let taskIDs, let queue, let consumer, _, _) in operations {
            tasks.append(taskIDs, queue: queue, consumer: consumer, owner: backend.owner(consumer))
        }
        guard !tasks.ids.isEmpty else { return }
        let places = knownRows(of: tasks)
        var settled = Set<Settled>()
        for try await row in try await run(SQL.ack, binds(tasks.ids, tasks.owners, tasks.queues, places)) {
            var columns = Columns(row)
            settled.insert(tasks.settled(at: try columns.next(Int64.self)))
        }
        var undone: [String: Int64] = [:]
        for case .ack(let taskIDs, let queue, let consumer, let markDone, let reply) in operations {
            let result = settled.takeOut(taskIDs, consumer: consumer)
            let count = result.count
            if !markDone, count > 0 { undone[queue, default: 0] += Int64(count) }
            effects.append { [count] state, answers in
                state.counters[queue, default: Counters()].totalAcked += UInt64(count)
                state.dropLeases(taskIDs, of: consumer)
                if markDone, count > 0 { state.touch(queue, .join) }
                answers.append { reply(.success(result)) }
            }
        }
        if !undone.isEmpty {
            let names = undone.keys.sorted()
            try await perform(SQL.addUndone, binds(names, names.map { undone[$0]! }))
        }
    }

    /// The rows the backend's state knows for `tasks` (see `BackendState.leases`).
    private func knownRows(of tasks: LeasedTasks) -> [RowID] {
        backend.state.withLock { state in
            var rows: [RowID] = []
            for (taskIDs, consumer) in tasks.operations { state.rows(of: taskIDs, leasedTo: consumer, into: &rows) }
            return rows
        }
    }

    private mutating func completions(_ operations: [Operation]) async throws {
        var tasks = LeasedTasks()
        var references: [Int64] = []
        var resultOwners: [String] = []
        var resultQueues: [String] = []
        var payloads: [ByteBuffer] = []
        var slots: [Int32] = []
        for case .complete(let taskIDs, let taskQueue, let results, let resultQueue, let consumer, _) in operations {
            let owner = backend.owner(consumer)
            tasks.append(taskIDs, queue: taskQueue, consumer: consumer, owner: owner)
            for result in results {
                references.append(Int64(bitPattern: result.reference))
                resultOwners.append(owner)
                resultQueues.append(resultQueue)
                payloads.append(result.payload)
                slots.append(handOuts.slot(for: resultQueue))
            }
        }
        guard !tasks.ids.isEmpty || !references.isEmpty else {
            for case .complete(let taskIDs, _, _, _, _, let reply) in operations {
                effects.append { _, answers in
                    answers.append {
                        reply(.success(Completion(ack: AckResult(count: 0, unknown: taskIDs), resultIDs: [])))
                    }
                }
            }
            return
        }
        let places = knownRows(of: tasks)
        var done = Set<Settled>()
        var kept: [(id: TaskID, row: RowID?)] = []
        for try await row in try await run(
            SQL.complete,
            binds(
                tasks.ids,
                tasks.owners,
                tasks.queues,
                places,
                references,
                resultOwners,
                resultQueues,
                payloads,
                slots,
                handOuts.owners,
                handOuts.leaseMilliseconds
            )
        ) {
            var columns = Columns(row)
            let isTask = try columns.next(Bool.self)
            let number = try columns.next(Int64.self)  // a task's position, or a result's id
            if isTask {
                done.insert(tasks.settled(at: number))
            } else {
                kept.append((TaskID(bitPattern: number), try columns.next(RowID?.self)))
            }
        }
        kept.sort { $0.id > $1.id }  // taken from the end, in increasing order
        let allDone = done
        var touched = Set<String>()
        var position = 0  // of the first result of the operation in `slots`
        for case .complete(let taskIDs, let taskQueue, let results, let resultQueue, let consumer, let reply)
            in operations
        {
            let ack = done.takeOut(taskIDs, consumer: consumer)
            let count = ack.count
            var resultIDs: [TaskID] = []
            for (i, result) in results.enumerated()
            where allDone.contains(Settled(id: Int64(bitPattern: result.reference), consumer: consumer)) {
                guard let (id, row) = kept.popLast() else { break }
                resultIDs.append(id)
                let slot = slots[position + i]
                if slot == 0 {
                    touched.insert(resultQueue)
                } else {
                    handOut(
                        slot: slot,
                        id: id,
                        row: row,
                        reference: Int64(bitPattern: result.reference),
                        payload: result.payload
                    )
                }
            }
            position += results.count
            let completion = Completion(ack: ack, resultIDs: resultIDs)
            effects.append { [count, resultIDs] state, answers in
                state.counters[taskQueue, default: Counters()].totalAcked += UInt64(count)
                if !resultIDs.isEmpty {
                    state.counters[resultQueue, default: Counters()].totalPut += UInt64(resultIDs.count)
                }
                state.dropLeases(taskIDs, of: consumer)
                if count > 0 { state.touch(taskQueue, .join) }
                answers.append { reply(.success(completion)) }
            }
        }
        for queue in touched { itemsArrived(queue) }
    }

    private mutating func nacks(_ operations: [Operation]) async throws {
        var ids: [Int64] = []
        var owners: [String] = []
        var queues: [String] = []
        for case .nack(let taskIDs, let queue, let consumer, _) in operations {
            let owner = backend.owner(consumer)
            for id in taskIDs {
                ids.append(Int64(bitPattern: id))
                owners.append(owner)
                queues.append(queue)
            }
        }
        guard !ids.isEmpty else { return }
        let returned = try await giveBack(
            SQL.nack,
            reason: "given back by its consumer",
            extra: [ids, owners, queues]
        )
        var consumerOf: [String: ConsumerID] = [:]
        for case .nack(_, _, let consumer, _) in operations { consumerOf[backend.owner(consumer)] = consumer }
        var settled = Set(
            returned.compactMap { task in
                consumerOf[task.owner].map { Settled(id: Int64(bitPattern: task.id), consumer: $0) }
            }
        )
        for case .nack(let taskIDs, let queue, let consumer, let reply) in operations {
            let result = settled.takeOut(taskIDs, consumer: consumer)
            let count = result.count
            effects.append { [count] state, answers in
                state.counters[queue, default: Counters()].totalNacked += UInt64(count)
                state.dropLeases(taskIDs, of: consumer)
                answers.append { reply(.success(result)) }
            }
        }
    }

    /// A task given back: where it went, and whose it was.
    struct Returned {
        var id: TaskID
        var queue: String
        var owner: String
        var dead: Bool
    }

    /// Runs a give-back statement and records its effects on counters and waiters (not on
    /// leases: the caller knows whose they were).
    private mutating func giveBack(
        _ sql: String,
        reason: String,
        extra: [any PostgresThrowingDynamicTypeEncodable]
    ) async throws -> [Returned] {
        var bindings = PostgresBindings()
        bindings.append(Int32(clamping: limits.maxDeliveries))
        bindings.append(Int32(clamping: limits.maxNameLength))
        bindings.append(reason)
        for value in extra { try bindings.append(value) }
        var returned: [Returned] = []
        for try await (id, queue, owner, dead) in try await run(sql, bindings).decode(
            (Int64, String, String, Bool).self
        ) {
            returned.append(Returned(id: TaskID(bitPattern: id), queue: queue, owner: owner, dead: dead))
        }
        var deadByQueue: [String: Int] = [:]
        var queues = Set<String>()
        for task in returned {
            if task.dead {
                deadByQueue[task.queue, default: 0] += 1
            } else {
                queues.insert(task.queue)
            }
        }
        for queue in queues { itemsArrived(queue) }
        for (queue, count) in deadByQueue {
            let deadQueue = QueueLimits.deadLetterQueue(of: queue)
            itemsArrived(deadQueue)
            effects.append { state, _ in
                state.counters[queue, default: Counters()].totalDead += UInt64(count)
                state.counters[deadQueue, default: Counters()].totalPut += UInt64(count)
                state.touch(queue, .join)
            }
        }
        return returned
    }

    // MARK: The rest

    mutating func others(_ operations: [Operation]) async throws {
        try await extends(operations)
        for operation in operations {
            switch operation {
            case .release(let consumer, let reply):
                let returned = try await giveBack(
                    SQL.release,
                    reason: "its consumer disconnected",
                    extra: [backend.owner(consumer)]
                )
                effects.append { state, answers in
                    state.leases[consumer] = nil
                    state.heartbeatQueues[consumer] = nil
                    answers.append { reply(.success(returned.count)) }
                }
            case .expire(let reply):
                var all: [Returned] = []
                let batch = 10_000
                while true {
                    let some = try await giveBack(SQL.expire, reason: "its lease expired", extra: [Int64(batch)])
                    all += some
                    if some.count < batch { break }
                }
                if UInt64.random(in: 0..<100) == 0 { try await perform(SQL.forgetOldTokens) }
                let prefix = backend.masterID + "/"
                var mine: [ConsumerID: [TaskID]] = [:]
                let returned = all.count
                for task in all where task.owner.hasPrefix(prefix) {
                    if let consumer = ConsumerID(task.owner.dropFirst(prefix.count)) {
                        mine[consumer, default: []].append(task.id)
                    }
                }
                effects.append { [mine] state, answers in
                    for (consumer, ids) in mine { state.dropLeases(ids, of: consumer) }
                    answers.append { reply(.success(returned)) }
                }
            case .unlease(let ids, let consumer, let counted):
                var queues = Set<String>()
                for try await queue in try await run(
                    SQL.unlease,
                    binds(ids.map { Int64(bitPattern: $0) }, backend.owner(consumer))
                ).decode(String.self) {
                    queues.insert(queue)
                }
                for queue in queues { itemsArrived(queue) }
                if counted { effects.append { state, _ in state.dropLeases(ids, of: consumer) } }
            case .returnAll(let reply):
                var queues = Set<String>()
                for try await queue in try await run(SQL.returnAll, binds(backend.masterID + "/%")).decode(String.self)
                {
                    queues.insert(queue)
                }
                for queue in queues { itemsArrived(queue) }
                effects.append { state, answers in
                    state.leases = [:]
                    state.heartbeatQueues = [:]
                    answers.append { reply(.success(())) }
                }
            case .peek(let queue, let maxItems, let reply):
                var tasks: [QueuedTask] = []
                for try await row in try await run(SQL.peek, binds(queue, Int64(maxItems))) {
                    var columns = Columns(row)
                    tasks.append(try columns.task())
                }
                effects.append { [tasks] _, answers in answers.append { reply(.success(tasks)) } }
            case .requeueDead(let deadQueue, let reply):
                let origin = String(deadQueue.dropLast(".dead".count))
                let moved = try await count(SQL.requeueDead, binds(deadQueue, origin))
                if moved > 0 { itemsArrived(origin) }
                effects.append { state, answers in
                    if moved > 0 {
                        state.counters[origin, default: Counters()].totalPut += UInt64(moved)
                        state.touch(deadQueue, .room)
                    }
                    answers.append { reply(.success(moved)) }
                }
            case .purge(let queue, let reply):
                let purged = try await count(SQL.purge, binds(queue))
                if purged > 0 { notices.insert("\(backend.masterID) r \(queue)") }
                effects.append { state, answers in
                    state.touch(queue, [.room, .join])
                    answers.append { reply(.success(purged)) }
                }
            case .taskDone(let queue, let reply):
                var done = false
                for try await _ in try await run(SQL.taskDone, binds(queue)) { done = true }
                effects.append { [done] state, answers in
                    if done {
                        state.touch(queue, .join)
                        answers.append { reply(.success(())) }
                    } else {
                        let error = QueueError(.taskDoneTooManyTimes, queue: queue, "task_done() called too many times")
                        answers.append { reply(.failure(error)) }
                    }
                }
            case .status(let queue, let reply):
                var counts = QueueCounts()
                for try await (depth, inFlight) in try await run(SQL.queueCounts, binds(queue)).decode(
                    (Int64, Int64).self
                ) {
                    counts = QueueCounts(depth: Int(depth), inFlight: Int(inFlight))
                }
                let backend = self.backend
                effects.append { [counts] state, answers in
                    let status = backend.queueStatus(queue, counts, state: state)
                    answers.append { reply(.success(status)) }
                }
            case .statuses(let reply):
                var all: [String: QueueCounts] = [:]
                for try await (queue, depth, inFlight) in try await run(SQL.allCounts).decode(
                    (String, Int64, Int64).self
                ) {
                    all[queue] = QueueCounts(depth: Int(depth), inFlight: Int(inFlight))
                }
                effects.append { [all] _, answers in answers.append { reply(.success(all)) } }
            case .put, .ack, .nack, .complete, .extend:
                break  // done in their phases
            }
        }
    }

    private func count(_ sql: String, _ bindings: PostgresBindings) async throws -> Int {
        var result = 0
        for try await value in try await run(sql, bindings).decode(Int64.self) { result = Int(value) }
        return result
    }

    /// Every heartbeat of the group in one statement: the leases of each consumer in the
    /// queues its extend names (those this lane settles).
    private mutating func extends(_ operations: [Operation]) async throws {
        var owners: [String] = []
        var queues: [String] = []
        for case .extend(let consumer, let named, _) in operations {
            let owner = backend.owner(consumer)
            for queue in named {
                owners.append(owner)
                queues.append(queue)
            }
        }
        guard !owners.isEmpty else { return }
        let overrides = limits.leaseTimeouts.sorted { $0.key < $1.key }
        var held: [String: [TaskID: RowID]] = [:]
        for try await row in try await run(
            SQL.extend,
            binds(
                owners,
                overrides.map(\.key),
                overrides.map { $0.value.milliseconds },
                limits.leaseTimeout.milliseconds,
                queues
            )
        ) {
            var columns = Columns(row)
            let owner = try columns.next(String.self)
            let id = try columns.next(Int64.self)
            held[owner, default: [:]][TaskID(bitPattern: id)] = try columns.next(RowID.self)
        }
        for case .extend(let consumer, _, let reply) in operations {
            let extended = held[backend.owner(consumer)] ?? [:]
            effects.append { state, answers in
                // The rows of the leases it moved. Leases it did not find stay: made meanwhile by
                // a take or hand-off on another lane, they are new (the extend did not see them);
                // ended meanwhile, the effect that ended them drops them.
                if var leases = state.leases[consumer] {
                    for (id, row) in extended where leases[id] != nil { leases[id] = row }
                    state.leases[consumer] = leases
                }
                answers.append { reply(.success(extended.count)) }
            }
        }
    }

    // MARK: Takes

    /// The takes of the waiting getters of each queue, handed out in line order: one statement
    /// for a lone getter, one for several (by position).
    mutating func takes(_ jobs: [TakeJob]) async throws {
        for job in jobs {
            var byGetter: [UInt64: [QueuedTask]] = [:]
            let lease = limits.leaseTimeout(of: job.queue).milliseconds
            if job.getters.count == 1, let getter = job.getters.first {
                var tasks: [QueuedTask] = []
                for try await row in try await run(
                    SQL.take,
                    binds(job.queue, Int64(getter.maxItems), backend.owner(getter.consumer), lease)
                ) {
                    var columns = Columns(row)
                    let task = try columns.task()
                    tasks.append(task)
                    rows[task.id] = try columns.next(RowID.self)
                }
                tasks.sort { $0.id < $1.id }
                byGetter[getter.id] = tasks
            } else {
                var owners: [String] = []
                var firsts: [Int32] = []
                var total = 0
                for getter in job.getters {
                    owners.append(backend.owner(getter.consumer))
                    firsts.append(Int32(total + 1))
                    total += getter.maxItems
                }
                var tasks = Array(repeating: [QueuedTask](), count: job.getters.count)
                for try await row in try await run(
                    SQL.takeForMany,
                    binds(job.queue, Int64(total), owners, lease, firsts)
                ) {
                    var columns = Columns(row)
                    let index = Int(try columns.next(Int32.self)) - 1
                    let task = try columns.task()
                    tasks[index].append(task)
                    rows[task.id] = try columns.next(RowID.self)
                }
                for (getter, got) in zip(job.getters, tasks) { byGetter[getter.id] = got.sorted { $0.id < $1.id } }
            }
            if byGetter.values.contains(where: { !$0.isEmpty }), limits.maxSize(of: job.queue) > 0 {
                notices.insert("\(backend.masterID) r \(job.queue)")
            }
            let wanted = job.getters.reduce(0) { $0 + $1.maxItems }
            let found = byGetter.values.reduce(0) { $0 + $1.count }
            hand(byGetter, to: job.getters, of: job.queue, drainedSince: found < wanted ? job.arrivals : nil)
        }
    }

    /// A new item inserted already leased to the claimed getter of `slot`: its row (where acks
    /// look first) and its place among that getter's items.
    private mutating func handOut(slot: Int32, id: TaskID, row: RowID?, reference: Int64, payload: ByteBuffer) {
        rows[id] = row ?? .unknown
        handOuts.give(slot: slot, id: id, reference: reference, payload: payload)
    }

    /// Answers the hand-offs of the group: each claimed getter gets the items given to it, or
    /// waits on (it is in flight no more).
    mutating func deliverHandOuts() {
        for job in handOuts.jobs {
            var byGetter: [UInt64: [QueuedTask]] = [:]
            for slot in handOuts.byQueue[job.queue] ?? [] {
                byGetter[handOuts.slots[slot].getter] = handOuts.slots[slot].tasks
            }
            hand(byGetter, to: job.getters, of: job.queue, handOffSince: job.arrivals)
        }
    }

    /// Records what a take or hand-off leased to `getters` (it goes back if the group is given
    /// up with its commit in doubt) and the effect that answers them (`deliver`).
    private mutating func hand(
        _ byGetter: [UInt64: [QueuedTask]],
        to getters: [(id: UInt64, consumer: ConsumerID, maxItems: Int)],
        of queue: String,
        handOffSince: UInt64? = nil,
        drainedSince: UInt64? = nil
    ) {
        for getter in getters {
            if let tasks = byGetter[getter.id], !tasks.isEmpty { leasedOut.append((getter.consumer, tasks.map(\.id))) }
        }
        let ids = Set(getters.map(\.id))
        effects.append(
            Self.deliver(
                byGetter,
                rows: rows,
                to: ids,
                of: queue,
                now: backend.now,
                handOffSince: handOffSince,
                drainedSince: drainedSince
            )
        )
    }

    /// What getters `ids` of `queue` (in flight for a take, or for a hand-off claimed when the
    /// line's arrivals were `handOffSince`) get: each is answered with its tasks (leased to
    /// it, at their `rows`), or, with none, when it doesn't wait or its time has come, and
    /// otherwise waits on; a getter whose wait ended meanwhile is answered with its error and
    /// its tasks go back. A take that found fewer tasks than its getters wanted passes the
    /// arrivals it was made at (`drainedSince`): if none came since, the queue is drained.
    static func deliver(
        _ byGetter: [UInt64: [QueuedTask]],
        rows: [TaskID: RowID] = [:],
        to ids: Set<UInt64>,
        of queue: String,
        now: Duration,
        handOffSince: UInt64? = nil,
        drainedSince: UInt64? = nil
    ) -> Effect {
        { state, answers in
            var counters = state.counters[queue] ?? Counters()
            var unleases: [(ConsumerID, [TaskID])] = []
            var line = state.lines[queue] ?? QueueLine()
            var waitOn = false
            line.getters = line.getters.compactMap { getter in
                guard ids.contains(getter.id) else { return getter }
                var getter = getter
                getter.inFlight = false
                let tasks = byGetter[getter.id] ?? []
                if !tasks.isEmpty {
                    counters.totalDelivered += UInt64(tasks.count)
                    if handOffSince != nil { counters.totalHandedOff += UInt64(tasks.count) }
                    counters.totalRedelivered += UInt64(tasks.count { $0.attempt > 1 })
                    for task in tasks {
                        state.leases[getter.consumer, default: [:]][task.id] = rows[task.id] ?? .unknown
                    }
                    state.heartbeatQueues[getter.consumer, default: []].insert(queue)
                }
                let reply = getter.reply
                if let error = getter.cancelled {
                    if !tasks.isEmpty { unleases.append((getter.consumer, tasks.map(\.id))) }
                    answers.append { reply(.failure(error)) }
                    return nil
                }
                if !tasks.isEmpty || !getter.waits || getter.deadline.map({ $0 <= now }) == true {
                    answers.append { reply(.success(tasks)) }
                    return nil
                }
                getter.looked = true
                waitOn = true
                // The timer skipped it while it was in flight.
                if getter.deadline != nil { state.timerToSignal = true }
                return getter
            }
            let gotAny = byGetter.values.contains { !$0.isEmpty }
            if gotAny { state.counters[queue] = counters }
            // Items that arrived while getters were in a hand-off (which a take of the queue's
            // lane left to them): they look now.
            if waitOn, let since = handOffSince, line.arrivals != since { line.maybeItems = true }
            if let since = drainedSince, line.arrivals == since { state.drainedQueues.insert(queue) }
            state.lines[queue] = line
            if waitOn, line.maybeItems { state.lanesToSignal.insert(state.lane(of: queue)) }
            if gotAny, handOffSince == nil { state.touch(queue, .room) }
            state.tidy(queue)
            for (consumer, ids) in unleases {
                state.enqueue(.unlease(ids, consumer: consumer, counted: true), lane: state.lane(of: queue))
            }
        }
    }

    // MARK: Joins and notifications

    mutating func joins(_ queues: [String]) async throws {
        for queue in queues {
            let unfinished = try await count(SQL.countUnfinished, binds(queue))
            effects.append { state, answers in
                guard unfinished <= 0, var line = state.lines[queue] else { return }
                for joiner in line.joiners { answers.append { joiner.reply(.success(())) } }
                line.joiners = []
                state.lines[queue] = line
                state.tidy(queue)
            }
        }
    }

    /// The commit token (in a transaction) and one `NOTIFY` per queue changed, for the other
    /// masters' waiters.
    func finish(token: (owner: String, number: Int64)?) async throws {
        if let token {
            try await perform(
                SQL.finish,
                binds(token.owner, token.number, token.number - 64, backend.channel, notices.sorted())
            )
        } else if !notices.isEmpty {
            try await perform(SQL.notify, binds(backend.channel, notices.sorted()))
        }
    }
}

/// The getters a group's new items go to first, and what each got: items are given in line
/// order, each getter up to the number it asked for. A slot (1-based; 0: none) names a getter
/// in the statements' arrays of owners and lease times. Slots are given before the database
/// settles the completions: a result dropped (its task no longer the worker's) leaves its
/// slot unused, and that getter may get fewer than a later one (nothing is lost: it waits on).
struct HandOuts {
    struct Slot {
        var getter: UInt64
        var room: Int
        var tasks: [QueuedTask] = []
    }

    let jobs: [HandOffJob]
    var slots: [Slot] = []
    /// The slot indexes of each queue's getters, in line order.
    var byQueue: [String: [Int]] = [:]
    /// Per queue, how many of its getters, from the first, are full.
    private var full: [String: Int] = [:]
    /// Bound as arrays: the owner and the lease time of each slot.
    let owners: [String]
    let leaseMilliseconds: [Int64]

    init(_ jobs: [HandOffJob], backend: PostgresBackend) {
        self.jobs = jobs
        var owners: [String] = []
        var leases: [Int64] = []
        for job in jobs {
            for getter in job.getters {
                byQueue[job.queue, default: []].append(slots.count)
                slots.append(Slot(getter: getter.id, room: getter.maxItems))
                owners.append(backend.owner(getter.consumer))
                leases.append(backend.limits.leaseTimeout(of: job.queue).milliseconds)
            }
        }
        self.owners = owners
        self.leaseMilliseconds = leases
    }

    /// The slot of the next item of `queue`: the first of its getters with room (taking one
    /// place), or 0 when the item is queued.
    mutating func slot(for queue: String) -> Int32 {
        guard !byQueue.isEmpty, let indexes = byQueue[queue] else { return 0 }
        var skip = full[queue, default: 0]
        while skip < indexes.count, slots[indexes[skip]].room == 0 { skip += 1 }
        full[queue] = skip
        guard skip < indexes.count else { return 0 }
        slots[indexes[skip]].room -= 1
        return Int32(indexes[skip] + 1)
    }

    /// An item inserted leased to the getter of `slot` (its first delivery).
    mutating func give(slot: Int32, id: TaskID, reference: Int64, payload: ByteBuffer) {
        slots[Int(slot) - 1].tasks.append(
            QueuedTask(id: id, reference: TaskID(bitPattern: reference), attempt: 1, payload: payload, error: nil)
        )
    }
}

/// The leased tasks a group's acks or completions settle, one element per task in the arrays
/// `SQL.settle` binds, and each operation's tasks with their consumer (for their known rows).
struct LeasedTasks {
    var ids: [Int64] = []
    var owners: [String] = []
    var queues: [String] = []
    var consumers: [ConsumerID] = []
    var operations: [(ids: [TaskID], consumer: ConsumerID)] = []

    mutating func append(_ taskIDs: [TaskID], queue: String, consumer: ConsumerID, owner: String) {
        operations.append((taskIDs, consumer))
        for id in taskIDs {
            ids.append(Int64(bitPattern: id))
            owners.append(owner)
            queues.append(queue)
            consumers.append(consumer)
        }
    }

    /// The task at `position` (1-based, as `SQL.settle` answers) of the arrays.
    func settled(at position: Int64) -> Settled {
        Settled(id: ids[Int(position) - 1], consumer: consumers[Int(position) - 1])
    }
}

/// A task settled for a consumer.
struct Settled: Hashable {
    var id: Int64
    var consumer: ConsumerID
}

extension Set<Settled> {
    /// Takes the tasks `ids` settled for `consumer` out of the set: how many were, and the ids
    /// that were not.
    mutating func takeOut(_ ids: [TaskID], consumer: ConsumerID) -> AckResult {
        var unknown: [TaskID] = []
        var count = 0
        for id in ids {
            if remove(Settled(id: Int64(bitPattern: id), consumer: consumer)) != nil {
                count += 1
            } else {
                unknown.append(id)
            }
        }
        return AckResult(count: count, unknown: unknown)
    }
}
