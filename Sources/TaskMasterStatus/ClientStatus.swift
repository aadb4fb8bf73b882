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

    enum CodingKeys: String, CodingKey, CaseIterable {
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
