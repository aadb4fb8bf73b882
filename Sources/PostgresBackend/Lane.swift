import Logging
import NIOCore
import PostgresNIO
import QueueBackend
import Synchronization
import TaskMasterStatus

/// A change to the backend's state and the replies that go with it, made once a group's
/// transaction has committed.
typealias Effect = @Sendable (inout BackendState, inout [Answer]) -> Void

/// The getters of one queue whose take runs in a group, in line order.
struct TakeJob: Sendable {
    var queue: String
    var getters: [(id: UInt64, consumer: ConsumerID, maxItems: Int)]
    /// The line's arrivals when the take was made: if it finds fewer tasks than its getters
    /// want and none has arrived since, the queue is known to be drained.
    var arrivals: UInt64 = 0
}

/// The waiting getters of a queue that this group's new items (puts, results) go to first, in
/// line order: they have looked at the queue and found nothing, and nothing has arrived since,
/// so the items are inserted already leased to them and no take is needed (see
/// `PostgresBackend.claimGetters`).
struct HandOffJob: Sendable {
    var queue: String
    var getters: [(id: UInt64, consumer: ConsumerID, maxItems: Int)]
    /// The line's `arrivals` when they were claimed.
    var arrivals: UInt64
}

/// The putters of one queue with a capacity that a group tries to admit, in line order.
struct AdmitJob: Sendable {
    var queue: String
    var capacity: Int
    var putters: [(id: UInt64, remaining: ArraySlice<NewTask>)]
}

/// One transaction's worth of a lane's work.
struct Group: Sendable {
    var number: UInt64
    var operations: [Operation]
    var takes: [TakeJob]
    var handOffs: [HandOffJob]
    var admits: [AdmitJob]
    var joinChecks: [String]
    var startedAt: Duration
    var lane: Int

    var mutates: Bool { !takes.isEmpty || !admits.isEmpty || operations.contains(where: \.mutates) }
}

/// The connection broke while `COMMIT` was on its way: whether it happened is learned from the
/// commit token. `effects` are what to do if it did; `leasedOut`, the tasks it leased to
/// getters, go back if the group is given up before that is known.
struct CommitInDoubt: Error {
    var effects: [Effect]
    var leasedOut: [(consumer: ConsumerID, ids: [TaskID])]
}

extension PostgresBackend {
    // MARK: The lane loop

    /// Runs lane `index` until cancelled: waits for work, makes a group of it, runs the group
    /// (reconnecting as needed), and again.
    func runLane(_ index: Int) async {
        let executor = laneExecutors[index]
        await withTaskExecutorPreference(executor) { await laneLoop(index, on: executor) }
    }

    private func laneLoop(_ index: Int, on executor: EventLoopTaskExecutor) async {
        var connection: PostgresConnection?
        while !Task.isCancelled {
            await laneSignals[index].wait(upTo: settings.pollInterval, clock: clock)
            while !Task.isCancelled, let group = locked({ state, _ in makeGroup(&state, lane: index) }) {
                await run(group, lane: index, on: executor, connection: &connection)
                locked { state, answers in
                    state.lanes[index].finished += 1
                    let finished = state.lanes[index].finished
                    state.lanes[index].barriers.removeAll { barrier in
                        guard barrier.target <= finished else { return false }
                        answers.append(barrier.done)
                        return true
                    }
                }
            }
        }
        // Stopping: what is left can't be done any more.
        locked { state, answers in
            let pending = state.lanes[index].pending
            state.lanes[index].pending = []
            for operation in pending { answers.append { operation.fail(.shuttingDown(nil)) } }
            for (_, done) in state.lanes[index].barriers { answers.append(done) }
            state.lanes[index].barriers = []
        }
        try? await connection?.close()
    }

    /// Takes the lane's pending operations and the waiters that should look again; nil when
    /// there is nothing to do.
    private func makeGroup(_ state: inout BackendState, lane: Int) -> Group? {
        var group = Group(
            number: 0,
            operations: state.lanes[lane].pending,
            takes: [],
            handOffs: [],
            admits: [],
            joinChecks: [],
            startedAt: now,
            lane: lane
        )
        state.lanes[lane].pending = []
        for name in Array(state.lines.keys) where state.laneOf[name] == lane {
            var line = state.lines[name]!
            // Getters in flight are in another lane's hand-off: they look once it is done.
            if line.maybeItems, line.getters.contains(where: { !$0.inFlight }) {
                line.maybeItems = false
                var job = TakeJob(queue: name, getters: [], arrivals: line.arrivals)
                for i in line.getters.indices where !line.getters[i].inFlight {
                    line.getters[i].inFlight = true
                    job.getters.append((line.getters[i].id, line.getters[i].consumer, line.getters[i].maxItems))
                }
                group.takes.append(job)
            }
            if line.maybeRoom, !line.putters.isEmpty {
                line.maybeRoom = false
                var job = AdmitJob(queue: name, capacity: limits.maxSize(of: name), putters: [])
                for i in line.putters.indices {
                    line.putters[i].inFlight = true
                    job.putters.append((line.putters[i].id, line.putters[i].remaining))
                }
                group.admits.append(job)
            }
            if line.checkJoin, !line.joiners.isEmpty {
                line.checkJoin = false
                group.joinChecks.append(name)
            }
            state.lines[name] = line
        }
        group.handOffs = Self.claimGetters(&state, for: group.operations)
        guard !group.operations.isEmpty || !group.takes.isEmpty || !group.admits.isEmpty || !group.joinChecks.isEmpty
        else { return nil }
        state.lanes[lane].started += 1
        group.number = state.lanes[lane].started
        return group
    }

    /// The getters that the new items of `operations` go straight to: in each queue that gets
    /// items, the waiting getters that have looked at it, while nothing has arrived since
    /// (`maybeItems` is unset: no item waits before the new ones, as far as this master knows).
    /// The items are inserted leased to them, which saves the database a take per item (a row
    /// update with its index entries). Claimed getters are in flight: no take, timer or
    /// cancellation removes them until the group's effects answer or release them.
    static func claimGetters(_ state: inout BackendState, for operations: [Operation]) -> [HandOffJob] {
        var queues: [String] = []
        for operation in operations {
            switch operation {
            case .put(_, let queue, _): queues.append(queue)
            case .complete(_, _, let results, let queue, _, _) where !results.isEmpty: queues.append(queue)
            case .nack, .unlease, .requeueDead, .release, .expire, .returnAll:
                // Tasks given back in this group go before the new ones: getters take them.
                return []
            default: break
            }
        }
        var jobs: [HandOffJob] = []
        for queue in Set(queues) {
            guard var line = state.lines[queue], !line.maybeItems else { continue }
            var job = HandOffJob(queue: queue, getters: [], arrivals: line.arrivals)
            for i in line.getters.indices {
                let getter = line.getters[i]
                guard getter.looked, !getter.inFlight, getter.cancelled == nil else { continue }
                line.getters[i].inFlight = true
                job.getters.append((getter.id, getter.consumer, getter.maxItems))
            }
            guard !job.getters.isEmpty else { continue }
            state.lines[queue] = line
            jobs.append(job)
        }
        return jobs
    }

    /// Runs a group to its end: committed and answered, or failed after the unavailable timeout.
    private func run(
        _ group: Group,
        lane: Int,
        on executor: EventLoopTaskExecutor,
        connection: inout PostgresConnection?
    ) async {
        var backoff = Duration.milliseconds(20)
        var reported = false
        var doubt: CommitInDoubt?
        while true {
            if connection == nil || connection!.isClosed {
                do {
                    guard schemaReady.load(ordering: .acquiring) else { throw SchemaNotReady() }
                    connection = try await connector.connectToPrimary(on: executor.eventLoop)
                    if reported { logger.notice("reached the database again", metadata: ["lane": "\(lane)"]) }
                } catch {
                    connection = nil
                    if !reported, !(error is SchemaNotReady) {
                        logger.warning(
                            "can't reach the database; operations wait",
                            metadata: ["lane": "\(lane)", "error": "\(Connector.describe(error))"]
                        )
                        reported = true
                    }
                    if Task.isCancelled || now - group.startedAt > settings.unavailableTimeout {
                        fail(
                            group,
                            with: QueueError(.backendUnavailable, queue: nil, Self.unavailableMessage),
                            inDoubt: doubt
                        )
                        return
                    }
                    try? await clock.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(1))
                    continue
                }
            }
            let live = connection!
            if let pending = doubt {
                // Did the commit that broke happen? Its token says.
                do {
                    let number = Int64(bitPattern: group.number)
                    let owner = tokenOwner(lane)
                    let logger = self.logger
                    let found = try await withDeadline(settings.url.connectTimeout) {
                        var found = false
                        for try await count in try await live.query(
                            PostgresQuery(unsafeSQL: SQL.tokenFound, binds: binds(owner, number)),
                            logger: logger
                        ).decode(Int64.self) {
                            found = count > 0
                        }
                        return found
                    }
                    doubt = nil
                    logger.notice(
                        "a commit broke off; its token says whether it happened",
                        metadata: ["lane": "\(lane)", "group": "\(group.number)", "committed": "\(found)"]
                    )
                    if found {
                        apply(pending.effects)
                        return
                    }
                } catch {
                    logger.debug(
                        "looking up a commit token failed",
                        metadata: ["error": "\(Connector.describe(error))"]
                    )
                    connection = nil
                    try? await live.close()
                    continue
                }
            }
            let reachedCommit = ReachedCommit()
            do {
                let effects = try await untilClosed(live, on: executor) {
                    try await self.execute(group, on: live, reachedCommit)
                }
                apply(effects)
                if reported || doubt != nil || backoff > .milliseconds(20) {
                    logger.notice("a queue transaction went through after a failure", metadata: ["lane": "\(lane)"])
                }
                return
            } catch let inDoubt as CommitInDoubt {
                doubt = inDoubt
                connection = nil
                try? await live.close()
            } catch is ConnectionClosed {
                // Closed under the transaction: if its COMMIT was sent, the token tells.
                if let pending = reachedCommit.pending { doubt = pending }
                connection = nil
                backoff = .milliseconds(40)
                logger.debug("a queue transaction's connection closed", metadata: ["lane": "\(lane)"])
            } catch {
                logger.debug(
                    "a queue transaction failed",
                    metadata: ["lane": "\(lane)", "group": "\(group.number)", "error": "\(Connector.describe(error))"]
                )
                if Self.isConnectionFailure(error) {
                    connection = nil
                    backoff = .milliseconds(40)
                    try? await live.close()
                    if Task.isCancelled || now - group.startedAt > settings.unavailableTimeout {
                        fail(group, with: QueueError(.backendUnavailable, queue: nil, Self.unavailableMessage))
                        return
                    }
                    continue
                }
                _ = try? await live.query("ROLLBACK", logger: logger)
                if Self.isTransient(error), now - group.startedAt < settings.unavailableTimeout {
                    continue
                }
                logger.error("a queue transaction failed", metadata: ["error": "\(Connector.describe(error))"])
                fail(
                    group,
                    with: QueueError(
                        .storageFailed,
                        queue: nil,
                        "the database refused the change: \(Connector.describe(error))"
                    )
                )
                return
            }
        }
    }

    struct SchemaNotReady: Error, CustomStringConvertible {
        var description: String { "the queue schema is not ready yet" }
    }

    /// Whose commit tokens a lane writes: each lane forgets only its own old ones (another
    /// lane's may still be looked up after a broken `COMMIT`).
    func tokenOwner(_ lane: Int) -> String { "\(masterID)/lane\(lane)" }

    static let unavailableMessage = "the queue database can't be reached now (failing over?); try again"

    /// Whether the connection is gone or points at a server that can't take writes now.
    static func isConnectionFailure(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return !(error is PostgresDecodingError) }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            // connection exceptions, shutdowns, a read-only (standby) server
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "25006"
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown,
            .messageDecodingFailure, .unexpectedBackendMessage:
            return true
        default:
            return false
        }
    }

    /// Deadlocks and serialization failures: the transaction may simply run again.
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    private func apply(_ effects: [Effect]) {
        locked { state, answers in
            for effect in effects { effect(&state, &answers) }
        }
    }

    /// Answers everything of a group with `error`; with a commit in doubt, the tasks it may
    /// have leased go back.
    private func fail(_ group: Group, with error: QueueError, inDoubt: CommitInDoubt? = nil) {
        logger.warning(
            "gave up a queue transaction",
            metadata: [
                "group": "\(group.number)", "operations": "\(group.operations.count)", "error": "\(error.message)",
            ]
        )
        locked { state, answers in
            for operation in group.operations { answers.append { operation.fail(error) } }
            for (consumer, ids) in inDoubt?.leasedOut ?? [] {
                state.enqueue(.unlease(ids, consumer: consumer, counted: false), lane: group.lane)
            }
            for job in group.handOffs {
                // Not these getters' failure: as if the hand-off gave them nothing, they wait on
                // (and look when items arrive), unless their wait has ended.
                let ids = Set(job.getters.map(\.id))
                GroupWork.deliver([:], to: ids, of: job.queue, now: now, handOffSince: job.arrivals)(&state, &answers)
            }
            for job in group.takes {
                let ids = Set(job.getters.map(\.id))
                state.lines[job.queue]?.getters.removeAll { getter in
                    guard ids.contains(getter.id) else { return false }
                    answers.append { getter.reply(.failure(error)) }
                    return true
                }
                state.tidy(job.queue)
            }
            for job in group.admits {
                let ids = Set(job.putters.map(\.id))
                state.lines[job.queue]?.putters.removeAll { putter in
                    guard ids.contains(putter.id) else { return false }
                    var failure = error
                    failure.acceptedIDs = putter.accepted
                    answers.append { [failure] in putter.reply(.failure(failure)) }
                    return true
                }
                state.tidy(job.queue)
            }
            for name in group.joinChecks { state.lines[name]?.checkJoin = true }
        }
    }

    // MARK: One transaction

    /// Runs a group's statements in one transaction and returns what to do once it committed.
    private func execute(
        _ group: Group,
        on connection: PostgresConnection,
        _ reachedCommit: ReachedCommit
    ) async throws -> [Effect] {
        var work = GroupWork(backend: self, connection: connection, handOffs: group.handOffs)
        let transaction = group.mutates
        if transaction {
            try await work.perform("BEGIN")
        }
        try await work.puts(group.operations)
        try await work.admits(group.admits)
        try await work.settle(group.operations)
        try await work.others(group.operations)
        work.deliverHandOuts()
        try await work.takes(group.takes)
        try await work.joins(group.joinChecks)
        // The commit token and the notifications in one round trip, last.
        try await work.finish(
            token: transaction ? (tokenOwner(group.lane), Int64(bitPattern: group.number)) : nil
        )
        if transaction {
            let pending = CommitInDoubt(effects: work.effects, leasedOut: work.leasedOut)
            reachedCommit.set(pending)
            do {
                try await work.perform("COMMIT")
            } catch {
                if Self.isConnectionFailure(error) { throw pending }
                throw error
            }
        }
        return work.effects
    }
}

/// Builds bindings from values. The arrays a group binds are encoded through their concrete
/// types: through `any`, postgres-nio's array encoding ran as unspecialized generic code (an
/// eighth of the master's CPU in a PostgreSQL batch, `perf`).
func binds(_ values: any PostgresThrowingDynamicTypeEncodable...) -> PostgresBindings {
    var bindings = PostgresBindings(capacity: values.count)
    for value in values {
        // The type itself, not a cast: an empty array casts to an array of any type.
        switch ObjectIdentifier(type(of: value)) {
        case ObjectIdentifier([Int64].self): bindings.append(value as! [Int64])
        case ObjectIdentifier([String].self): bindings.append(value as! [String])
        case ObjectIdentifier([ByteBuffer].self): bindings.append(value as! [ByteBuffer])
        case ObjectIdentifier([Int32].self): bindings.append(value as! [Int32])
        case ObjectIdentifier([RowID].self): bindings.append(value as! [RowID])
        default: try? bindings.append(value)
        }
    }
    return bindings
}

/// What a group's effects are once its `COMMIT` is on its way (nil before).
final class ReachedCommit: Sendable {
    private let state = Mutex<CommitInDoubt?>(nil)
    func set(_ pending: CommitInDoubt) { state.withLock { $0 = pending } }
    var pending: CommitInDoubt? { state.withLock { $0 } }
}
