/// Chosen by the client for each request and echoed in the response, so requests can be
/// pipelined on one connection and their answers matched.
public typealias RequestID = UInt32

/// A task's server-assigned identifier: unique for the life of the master.
public typealias TaskID = UInt64

/// How long an operation may wait: for items to arrive (get) or for room (put).
public enum WaitTime: Hashable, Sendable {
    /// Don't wait: answer with what is possible now.
    case none
    /// Wait up to this many milliseconds.
    case milliseconds(UInt32)
    /// Wait until it can be done.
    case forever

    /// The wire form: 0 is no wait, `UInt32.max` forever, anything else milliseconds.
    var wireValue: UInt32 {
        switch self {
        case .none: return 0
        case .milliseconds(let ms): return min(ms, UInt32.max - 1)
        case .forever: return UInt32.max
        }
    }

    init(wireValue: UInt32) {
        switch wireValue {
        case 0: self = .none
        case UInt32.max: self = .forever
        default: self = .milliseconds(wireValue)
        }
    }

    /// A wait of `seconds`, rounded to milliseconds; negative means no wait.
    public static func seconds(_ seconds: Double) -> WaitTime {
        guard seconds > 0 else { return .none }
        let ms = (seconds * 1000).rounded(.up)
        return ms >= Double(UInt32.max - 1) ? .forever : .milliseconds(UInt32(ms))
    }
}

/// An item to put on a queue.
public struct NewItem: Hashable, Sendable {
    /// The id of the task this item answers (a result's task), or 0 for none.
    public var reference: TaskID
    /// The value, as a pickle (see docs/PROTOCOL.md, "Values").
    public var payload: [UInt8]

    public init(payload: [UInt8], reference: TaskID = 0) {
        self.reference = reference
        self.payload = payload
    }
}

/// A task handed to a consumer, leased to its connection until acknowledged.
public struct Delivery: Hashable, Sendable {
    /// The server-assigned task id.
    public var id: TaskID
    /// How many times this task has been handed out, this time included.
    public var attempt: UInt32
    /// The id of the task this item answers, or 0.
    public var reference: TaskID
    /// The value, as a pickle.
    public var payload: [UInt8]

    public init(id: TaskID, attempt: UInt32, reference: TaskID, payload: [UInt8]) {
        self.id = id
        self.attempt = attempt
        self.reference = reference
        self.payload = payload
    }
}

/// Counters of one queue, as `stats` reports them.
public struct QueueStatistics: Hashable, Sendable {
    public var name: String
    /// Items waiting to be delivered.
    public var depth: UInt64
    /// Items delivered and not yet acknowledged.
    public var inFlight: UInt64
    /// The queue's capacity, or 0 for unbounded.
    public var maxSize: UInt64
    /// Consumers currently waiting for an item.
    public var waitingConsumers: UInt64
    public var totalPut: UInt64
    public var totalDelivered: UInt64
    public var totalAcked: UInt64
    public var totalNacked: UInt64
    /// Deliveries of an item that had been delivered before.
    public var totalRedelivered: UInt64
    /// Items moved to `<name>.dead` after too many deliveries.
    public var totalDead: UInt64 = 0

    public init(
        name: String,
        depth: UInt64 = 0,
        inFlight: UInt64 = 0,
        maxSize: UInt64 = 0,
        waitingConsumers: UInt64 = 0,
        totalPut: UInt64 = 0,
        totalDelivered: UInt64 = 0,
        totalAcked: UInt64 = 0,
        totalNacked: UInt64 = 0,
        totalRedelivered: UInt64 = 0
    ) {
        self.name = name
        self.depth = depth
        self.inFlight = inFlight
        self.maxSize = maxSize
        self.waitingConsumers = waitingConsumers
        self.totalPut = totalPut
        self.totalDelivered = totalDelivered
        self.totalAcked = totalAcked
        self.totalNacked = totalNacked
        self.totalRedelivered = totalRedelivered
    }
}

/// A connected client, as `stats` reports it.
public struct ClientStatistics: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable {
        case native = 1
        case python = 2
    }
    public var kind: Kind
    /// The remote address.
    public var address: String
    /// The name the client gave in its hello (empty for Python clients).
    public var name: String
    /// Tasks currently leased to this connection.
    public var leased: UInt64
    /// Seconds since the connection was accepted.
    public var connectedSeconds: UInt64 = 0
    /// The worker's last heartbeat, if it sent one.
    public var lastReport: WorkerReport?
    /// Seconds since that heartbeat.
    public var secondsSinceReport: UInt64 = 0

    public init(kind: Kind, address: String, name: String, leased: UInt64) {
        self.kind = kind
        self.address = address
        self.name = name
        self.leased = leased
    }
}

/// The whole answer to a `stats` request.
public struct ServerStatistics: Hashable, Sendable {
    public var queues: [QueueStatistics]
    public var clients: [ClientStatistics]
    public var uptimeSeconds: UInt64

    public init(queues: [QueueStatistics], clients: [ClientStatistics], uptimeSeconds: UInt64) {
        self.queues = queues
        self.clients = clients
        self.uptimeSeconds = uptimeSeconds
    }
}
