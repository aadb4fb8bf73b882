/// The master's state at one moment: what `/api/stats` and `task-ctl stats --json` print, what
/// the native `stats` request returns, and what `/metrics` is made from.
///
/// The JSON form has stable snake_case keys, written in sorted order; every key is always
/// present, and optional values are `null` when unknown. docs/STATUS.md lists every key.
public struct StatusSnapshot: Sendable, Codable, Hashable {
    /// Seconds since the master started.
    public var uptimeSeconds: Double
    /// Every queue, by name.
    public var queues: [QueueStatus]
    /// Every identified client connection, by connection id.
    public var clients: [ClientStatus]
    /// Failed handshakes since the master started.
    public var authenticationFailures: UInt64
    /// Bytes read from client connections since the master started.
    public var bytesIn: UInt64
    /// Bytes written to client connections since the master started.
    public var bytesOut: UInt64
    /// What the master holds against its memory limit now: queued and leased payloads with
    /// their bookkeeping.
    public var memoryUsedBytes: UInt64
    /// The master's memory limit (`max_memory`).
    public var memoryLimitBytes: UInt64

    public init(
        uptimeSeconds: Double,
        queues: [QueueStatus] = [],
        clients: [ClientStatus] = [],
        authenticationFailures: UInt64 = 0,
        bytesIn: UInt64 = 0,
        bytesOut: UInt64 = 0,
        memoryUsedBytes: UInt64 = 0,
        memoryLimitBytes: UInt64 = 0
    ) {
        self.uptimeSeconds = uptimeSeconds
        self.queues = queues
        self.clients = clients
        self.authenticationFailures = authenticationFailures
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.memoryUsedBytes = memoryUsedBytes
        self.memoryLimitBytes = memoryLimitBytes
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case uptimeSeconds = "uptime_seconds"
        case queues
        case clients
        case authenticationFailures = "authentication_failures"
        case bytesIn = "bytes_in"
        case bytesOut = "bytes_out"
        case memoryUsedBytes = "memory_used_bytes"
        case memoryLimitBytes = "memory_limit_bytes"
    }

    /// The JSON keys of the document, of each queue and of each client (for docs and tests).
    public static let jsonKeys: (document: [String], queue: [String], client: [String]) = (
        CodingKeys.allCases.map(\.rawValue).sorted(),
        QueueStatus.CodingKeys.allCases.map(\.rawValue).sorted(),
        ClientStatus.CodingKeys.allCases.map(\.rawValue).sorted()
    )
}
