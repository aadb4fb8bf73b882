/// Where the admin endpoint gets its numbers: the daemon implements this.
///
/// Called on every scrape of `/metrics` and every `/api/stats` request (the status page polls
/// once a second), from a Swift concurrency thread, so it should be cheap and must not block on
/// I/O: take a lock, copy counters, return.
public protocol StatusSource: Sendable {
    /// The daemon's state at this moment. Totals are cumulative since the daemon started.
    func statusSnapshot() -> StatusSnapshot
}

/// The daemon's state at one moment: what `/api/stats` returns, and what `/metrics` is
/// made from.
///
/// JSON form (`/api/stats`), with stable snake_case keys (written in sorted order); every key
/// is always present, optional values are `null` when unknown:
///
/// ```json
/// {
///   "uptime_seconds": 3600.5,
///   "queues": [
///     {"name": "task", "depth": 42, "in_flight": 3, "max_size": 0,
///      "waiting_consumers": 0, "waiting_producers": 0,
///      "total_put": 1000, "total_delivered": 958, "total_acked": 950,
///      "total_nacked": 5, "total_redelivered": 5, "total_dead": 0}
///   ],
///   "clients": [
///     {"id": 7, "kind": "native", "address": "10.0.0.2:51234",
///      "name": "task-worker 1234@host-b", "leased": 3, "connected_seconds": 120.0,
///      "tasks_done": 950, "tasks_failed": 2, "worker_uptime_seconds": 125.0,
///      "last_heartbeat_seconds_ago": 0.4}
///   ],
///   "authentication_failures": 0,
///   "bytes_in": 123456,
///   "bytes_out": 654321
/// }
/// ```
public struct StatusSnapshot: Sendable, Codable, Hashable {
    /// Seconds since the daemon started.
    public var uptimeSeconds: Double
    /// Every queue, in the order the page should list them.
    public var queues: [QueueStatus]
    /// Every identified client connection.
    public var clients: [ClientStatus]
    /// Failed handshakes since the daemon started.
    public var authenticationFailures: UInt64
    /// Bytes read from client connections since the daemon started.
    public var bytesIn: UInt64
    /// Bytes written to client connections since the daemon started.
    public var bytesOut: UInt64

    public init(
        uptimeSeconds: Double,
        queues: [QueueStatus] = [],
        clients: [ClientStatus] = [],
        authenticationFailures: UInt64 = 0,
        bytesIn: UInt64 = 0,
        bytesOut: UInt64 = 0
    ) {
        self.uptimeSeconds = uptimeSeconds
        self.queues = queues
        self.clients = clients
        self.authenticationFailures = authenticationFailures
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
    }

    enum CodingKeys: String, CodingKey {
        case uptimeSeconds = "uptime_seconds"
        case queues
        case clients
        case authenticationFailures = "authentication_failures"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
    }
}

/// One queue's counters. The `total…` values only grow while the daemon runs.
public struct QueueStatus: Sendable, Codable, Hashable {
    public var name: String
    /// Items waiting to be delivered.
    public var depth: Int
    /// Items delivered and not yet acknowledged.
    public var inFlight: Int
    /// Capacity; 0 means unbounded.
    public var maxSize: Int
    /// Gets waiting for an item.
    public var waitingConsumers: Int
    /// Puts waiting for room.
    public var waitingProducers: Int
    public var totalPut: UInt64
    public var totalDelivered: UInt64
    public var totalAcked: UInt64
    public var totalNacked: UInt64
    /// Deliveries of items that had been delivered before.
    public var totalRedelivered: UInt64
    /// Items given up on (e.g. too many delivery attempts).
    public var totalDead: UInt64

    public init(
        name: String,
        depth: Int = 0,
        inFlight: Int = 0,
        maxSize: Int = 0,
        waitingConsumers: Int = 0,
        waitingProducers: Int = 0,
        totalPut: UInt64 = 0,
        totalDelivered: UInt64 = 0,
        totalAcked: UInt64 = 0,
        totalNacked: UInt64 = 0,
        totalRedelivered: UInt64 = 0,
        totalDead: UInt64 = 0
    ) {
        self.name = name
        self.depth = depth
        self.inFlight = inFlight
        self.maxSize = maxSize
        self.waitingConsumers = waitingConsumers
        self.waitingProducers = waitingProducers
        self.totalPut = totalPut
        self.totalDelivered = totalDelivered
        self.totalAcked = totalAcked
        self.totalNacked = totalNacked
        self.totalRedelivered = totalRedelivered
        self.totalDead = totalDead
    }

    enum CodingKeys: String, CodingKey {
        case name
        case depth
        case inFlight = "in_flight"
        case maxSize = "max_size"
        case waitingConsumers = "waiting_consumers"
        case waitingProducers = "waiting_producers"
        case totalPut = "total_put"
        case totalDelivered = "total_delivered"
        case totalAcked = "total_acked"
        case totalNacked = "total_nacked"
        case totalRedelivered = "total_redelivered"
        case totalDead = "total_dead"
    }
}

/// What kind of client a connection is: `native` (TaskMaster protocol) or `python`
/// (`multiprocessing.managers`). Extensible; encoded as its raw string.
public struct ClientKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// A client speaking the native TaskMaster protocol (`task-worker`, `task-ctl`, the library).
    public static let native = ClientKind(rawValue: "native")
    /// A Python `multiprocessing.managers` client.
    public static let python = ClientKind(rawValue: "python")

    public var description: String { rawValue }
}

/// One client connection. The worker-reported values are `nil` for clients that don't report
/// them (e.g. Python clients, `task-ctl`).
public struct ClientStatus: Sendable, Codable, Hashable {
    /// The daemon's connection id.
    public var id: UInt64
    public var kind: ClientKind
    /// Peer address, e.g. `10.0.0.2:51234` or `[::1]:51234`.
    public var address: String
    /// The name the client gave in its hello; may be empty.
    public var name: String
    /// Tasks delivered to this connection and not yet acknowledged.
    public var leased: Int
    /// Seconds since the connection was accepted.
    public var connectedSeconds: Double
    /// Tasks the worker finished successfully, as it reported.
    public var tasksDone: UInt64?
    /// Tasks the worker failed, as it reported.
    public var tasksFailed: UInt64?
    /// How long the worker process has been running, as it reported.
    public var workerUptimeSeconds: Double?
    /// Seconds since the worker's last heartbeat.
    public var lastHeartbeatSecondsAgo: Double?

    public init(
        id: UInt64,
        kind: ClientKind,
        address: String,
        name: String = "",
        leased: Int = 0,
        connectedSeconds: Double = 0,
        tasksDone: UInt64? = nil,
        tasksFailed: UInt64? = nil,
        workerUptimeSeconds: Double? = nil,
        lastHeartbeatSecondsAgo: Double? = nil
    ) {
        self.id = id
        self.kind = kind
        self.address = address
        self.name = name
        self.leased = leased
        self.connectedSeconds = connectedSeconds
        self.tasksDone = tasksDone
        self.tasksFailed = tasksFailed
        self.workerUptimeSeconds = workerUptimeSeconds
        self.lastHeartbeatSecondsAgo = lastHeartbeatSecondsAgo
    }

    enum CodingKeys: String, CodingKey {
        case id
        case kind
        case address
        case name
        case leased
        case connectedSeconds = "connected_seconds"
        case tasksDone = "tasks_done"
        case tasksFailed = "tasks_failed"
        case workerUptimeSeconds = "worker_uptime_seconds"
        case lastHeartbeatSecondsAgo = "last_heartbeat_seconds_ago"
    }

    // Written by hand only so that unknown values appear as `null` instead of missing keys:
    // the JSON has the same keys in every object.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kind, forKey: .kind)
        try container.encode(address, forKey: .address)
        try container.encode(name, forKey: .name)
        try container.encode(leased, forKey: .leased)
        try container.encode(connectedSeconds, forKey: .connectedSeconds)
        try container.encode(tasksDone, forKey: .tasksDone)
        try container.encode(tasksFailed, forKey: .tasksFailed)
        try container.encode(workerUptimeSeconds, forKey: .workerUptimeSeconds)
        try container.encode(lastHeartbeatSecondsAgo, forKey: .lastHeartbeatSecondsAgo)
    }
}
