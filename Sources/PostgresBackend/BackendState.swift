import QueueBackend
import TaskMasterStatus

/// A reply to run once the backend's lock is released.
typealias Answer = @Sendable () -> Void

/// An operation waiting for its lane's next group.
enum Operation: Sendable {
    case put([NewTask], queue: String, reply: QueueReply<[TaskID]>)
    case ack([TaskID], queue: String, consumer: ConsumerID, markDone: Bool, reply: QueueReply<AckResult>)
    case nack([TaskID], queue: String, consumer: ConsumerID, reply: QueueReply<AckResult>)
    case complete(
        [TaskID],
        taskQueue: String,
        results: [NewTask],
        resultQueue: String,
        consumer: ConsumerID,
        reply: QueueReply<Completion>
    )
    /// The leases `consumer` holds in `queues`, all on one lane (``BackendState/heartbeats(of:)``).
    case extend(ConsumerID, queues: [String], reply: QueueReply<Int>)
    case release(ConsumerID, reply: QueueReply<Int>)
    /// Tasks leased to a getter that will not get them (its wait was cancelled while its take
    /// or hand-off ran, or the group failed after a `COMMIT` that may have happened): back,
    /// their delivery uncounted. `counted`: this master counts them among the consumer's leases.
    case unlease([TaskID], consumer: ConsumerID, counted: Bool)
    /// Shutting down: every lease of this master back, uncounted.
    case returnAll(reply: QueueReply<Void>)
    case expire(reply: QueueReply<Int>)
    case peek(String, maxItems: Int, reply: QueueReply<[QueuedTask]>)
    case requeueDead(String, reply: QueueReply<Int>)
    case purge(String, reply: QueueReply<Int>)
    case taskDone(String, reply: QueueReply<Void>)
    case status(String, reply: QueueReply<QueueStatus>)
    case statuses(reply: QueueReply<[String: QueueCounts]>)

    /// Whether it changes the database (and so needs a transaction and a commit token).
    var mutates: Bool {
        switch self {
        case .peek, .status, .statuses: return false
        default: return true
        }
    }

    /// Whether it is refused once the backend is shut down (releases and expiry still run:
    /// they only return tasks).
    var refusedAfterShutdown: Bool {
        switch self {
        case .release, .expire, .extend, .unlease, .returnAll: return false
        default: return mutates
        }
    }

    /// Fails the operation (for the lane that can't reach the database).
    func fail(_ error: QueueError) {
        switch self {
        case .put(_, _, let reply): reply(.failure(error))
        case .ack(_, _, _, _, let reply), .nack(_, _, _, let reply): reply(.failure(error))
        case .complete(_, _, _, _, _, let reply): reply(.failure(error))
        case .extend(_, _, let reply), .release(_, let reply), .expire(let reply), .requeueDead(_, let reply),
            .purge(_, let reply):
            reply(.failure(error))
        case .unlease: break
        case .returnAll(let reply), .taskDone(_, let reply): reply(.failure(error))
        case .peek(_, _, let reply): reply(.failure(error))
        case .status(_, let reply): reply(.failure(error))
        case .statuses(let reply): reply(.failure(error))
        }
    }
}

/// What the database holds for one queue: queued and leased tasks.
struct QueueCounts: Sendable, Hashable {
    var depth = 0
    var inFlight = 0
}

/// This master's counters of one queue (every master counts what it did: no row in the
/// database that every master would update).
struct Counters: Sendable {
    var totalPut: UInt64 = 0
    var totalDelivered: UInt64 = 0
    var totalAcked: UInt64 = 0
    var totalNacked: UInt64 = 0
    var totalRedelivered: UInt64 = 0
    var totalDead: UInt64 = 0
    /// Of the delivered, those inserted already leased to a waiting getter (no take).
    var totalHandedOff: UInt64 = 0
}

/// A get waiting for tasks (or about to take them).
struct Getter: Sendable {
    var id: UInt64
    var consumer: ConsumerID
    var maxItems: Int
    /// When its wait ends (backend time); nil waits forever.
    var deadline: Duration?
    var waits: Bool
    var reply: QueueReply<[QueuedTask]>
    /// Part of a take or a hand-off that runs now: neither the timer nor a cancellation
    /// removes it.
    var inFlight = false
    /// Set when its wait was ended while it was in flight: what it got goes back.
    var cancelled: QueueError?
    /// It has looked at its queue at least once (a take or hand-off gave it nothing), and
    /// waits: new items may go straight to it while nothing else has arrived.
    var looked = false
}

/// A put on a queue with a capacity, waiting for room (or about to be admitted).
struct Putter: Sendable {
    var id: UInt64
    var consumer: ConsumerID
    var remaining: ArraySlice<NewTask>
    var accepted: [TaskID] = []
    var deadline: Duration?
    var waits: Bool
    var reply: QueueReply<[TaskID]>
    var inFlight = false
    var cancelled: QueueError?
}

struct Joiner: Sendable {
    var id: UInt64
    var consumer: ConsumerID
    var reply: QueueReply<Void>
}

/// The waiters of one queue on this master, in arrival order, and what may have changed for
/// them since they last looked.
struct QueueLine: Sendable {
    var getters: [Getter] = []
    var putters: [Putter] = []
    var joiners: [Joiner] = []
    /// Items may have arrived: the waiting getters should look.
    var maybeItems = false
    /// Room may have appeared: the waiting putters should look.
    var maybeRoom = false
    /// The queue's unfinished count may have dropped: joiners should look.
    var checkJoin = false
    /// Counts the times items may have arrived, so that a getter back from a hand-off that
    /// gave it nothing looks again if any did meanwhile.
    var arrivals: UInt64 = 0

    var isEmpty: Bool { getters.isEmpty && putters.isEmpty && joiners.isEmpty }
}

/// What an operation on a queue does, which decides the lane it runs on
/// (``BackendState/lane(of:for:)``).
enum LaneRole {
    /// Takes, nacks, and everything else that reads or changes the queued tasks in their order:
    /// the queue's own lane, so that a nack followed by a get finds the task first.
    case serving
    /// Acks and completions, which change leased rows only: the queue's settle lane.
    case settling
    /// Puts into a queue without a capacity, which only add rows behind the queued ones: the
    /// lane before the queue's (with four lanes, one that serves or settles other queues; with
    /// two, its settle lane; with one, its own), beside its takes. Puts keep their order among
    /// themselves; a get sees a put once it is answered, and a take that found the queue empty
    /// while a put committed has its getter look again (the line's arrivals changed).
    case putting
}

/// A lane: operations on its queues waiting for its next group, and the groups it has run.
struct LaneState: Sendable {
    var pending: [Operation] = []
    var started: UInt64 = 0
    var finished: UInt64 = 0
    /// Callers waiting until `finished` reaches a number.
    var barriers: [(target: UInt64, done: Answer)] = []
}

/// Kinds of change to a queue that waiters care about.
struct Change: OptionSet, Sendable, Hashable {
    let rawValue: UInt8
    static let items = Change(rawValue: 1)
    static let room = Change(rawValue: 2)
    static let join = Change(rawValue: 4)
}

/// Everything the backend holds in memory, behind its lock.
struct BackendState: Sendable {
    var isShutDown = false
    var lanes: [LaneState]
    /// Lines of queues with waiters.
    var lines: [String: QueueLine] = [:]
    /// The lane of each queue this master has seen, assigned in turn.
    var laneOf: [String: Int] = [:]
    var nextLane = 0
    var counters: [String: Counters] = [:]
    /// The tasks each consumer of this master holds, each with the row it was at when this
    /// master last leased or extended it (or `RowID.unknown`): acks and completions look
    /// there first (see `SQL.ack`).
    var leases: [ConsumerID: [TaskID: RowID]] = [:]
    /// The queues each consumer holding leases got tasks from since it last held none. Its
    /// heartbeats extend its leases of each queue on the lane that settles that queue, one
    /// after another with the queue's acks and completions (an extend and a settle of the same
    /// rows at once lock them in different orders, and PostgreSQL breaks the deadlock only
    /// after a second).
    var heartbeatQueues: [ConsumerID: Set<String>] = [:]
    var nextWaiterID: UInt64 = 1
    /// Queues a take of this master found empty (fewer tasks than its getters wanted), with
    /// nothing arrived since as far as this master knows: a getter that comes waits without a
    /// take of its own, and new items go straight to it (a hand-off).
    var drainedQueues: Set<String> = []
    /// Lanes that have new work.
    var lanesToSignal: Set<Int> = []
    /// A timed wait is back in its line (from a take or hand-off): the timer looks again.
    var timerToSignal = false
    /// Every queue's counts as last read, and when (``PostgresBackend/statuses(reply:)``).
    var statusCache: (at: Duration, counts: [String: QueueCounts])?

    init(lanes: Int) {
        self.lanes = Array(repeating: LaneState(), count: max(1, lanes))
    }

    /// The lane that settles the leases of `queue` (acks and completions): another lane than its
    /// takes and nacks (when there are two or more), so that settling a batch and taking
    /// the next run at once on two connections; they touch different rows (leased ones, queued
    /// ones), and a settle changes nothing a take, put or nack of the queue sees.
    mutating func settleLane(of queue: String) -> Int {
        (lane(of: queue) + max(1, lanes.count / 2)) % lanes.count
    }

    /// The lane of an operation on `queue` that does `role`.
    mutating func lane(of queue: String, for role: LaneRole) -> Int {
        switch role {
        case .serving: lane(of: queue)
        case .settling: settleLane(of: queue)
        case .putting: (lane(of: queue) + lanes.count - 1) % lanes.count
        }
    }

    /// The lane serving `queue`, assigning one on first sight.
    mutating func lane(of queue: String) -> Int {
        if let lane = laneOf[queue] { return lane }
        let lane = nextLane % lanes.count
        nextLane += 1
        laneOf[queue] = lane
        return lane
    }

    mutating func enqueue(_ operation: Operation, lane: Int) {
        lanes[lane].pending.append(operation)
        lanesToSignal.insert(lane)
    }

    /// Tasks `ids` are no longer leased to `consumer` (settled, given back, or never its).
    mutating func dropLeases(_ ids: some Sequence<TaskID>, of consumer: ConsumerID) {
        guard var held = leases.removeValue(forKey: consumer) else { return }
        for id in ids { held[id] = nil }
        if held.isEmpty { heartbeatQueues[consumer] = nil } else { leases[consumer] = held }
    }

    /// The heartbeat of `consumer` as one extend per lane: each lane that settles a queue it
    /// holds leases in, with those queues (sorted, lanes in order). None if it holds nothing.
    mutating func heartbeats(of consumer: ConsumerID) -> [(lane: Int, queues: [String])] {
        guard leases[consumer]?.isEmpty == false, let queues = heartbeatQueues[consumer] else { return [] }
        var byLane: [Int: [String]] = [:]
        for queue in queues.sorted() { byLane[settleLane(of: queue), default: []].append(queue) }
        return byLane.sorted { $0.key < $1.key }.map { (lane: $0.key, queues: $0.value) }
    }

    /// The rows known for the tasks `ids` leased to `consumer` (see `leases`).
    func rows(of ids: [TaskID], leasedTo consumer: ConsumerID, into rows: inout [RowID]) {
        guard let held = leases[consumer] else { return }
        for id in ids {
            if let row = held[id], row != .unknown { rows.append(row) }
        }
    }

    mutating func makeWaiterID() -> UInt64 {
        defer { nextWaiterID += 1 }
        return nextWaiterID
    }

    /// Records a change to `queue`: its waiters look again in their lane's next group.
    mutating func touch(_ queue: String, _ change: Change) {
        if change.contains(.items) { drainedQueues.remove(queue) }
        guard var line = lines[queue] else { return }
        var work = false
        if change.contains(.items) { line.arrivals &+= 1 }
        if change.contains(.items), !line.getters.isEmpty {
            line.maybeItems = true
            work = true
        }
        if change.contains(.room), !line.putters.isEmpty {
            line.maybeRoom = true
            work = true
        }
        if change.contains(.join), !line.joiners.isEmpty {
            line.checkJoin = true
            work = true
        }
        lines[queue] = line
        if work { lanesToSignal.insert(lane(of: queue)) }
    }

    /// Every waiter looks again (the poll that covers notifications lost across reconnects).
    mutating func touchAll() {
        drainedQueues.removeAll()
        for name in Array(lines.keys) { touch(name, [.items, .room, .join]) }
    }

    /// Removes a line that has no waiters left.
    mutating func tidy(_ queue: String) {
        if lines[queue]?.isEmpty == true { lines[queue] = nil }
    }

    /// The lane numbers a barrier waits for: each lane's group running now, or the one its
    /// pending operations will make.
    func barrierTargets() -> [UInt64] {
        lanes.map { lane in lane.pending.isEmpty ? lane.started : lane.started + 1 }
    }
}
