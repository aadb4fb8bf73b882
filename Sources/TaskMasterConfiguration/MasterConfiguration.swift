import Logging
import TaskMasterStatus

/// Everything `task-master` can be configured with, and the defaults.
///
/// Filled by ``load(flags:environment:configFile:)`` from, in order of precedence:
/// command-line flags, environment variables, the JSON config file (`--config`), defaults.
/// See Config/README.md for every key.
public struct MasterConfiguration: Sendable {
    /// Interface to listen on. Default `0.0.0.0` (all IPv4 interfaces), since workers run on
    /// other machines.
    public var host = "0.0.0.0"
    /// TCP port. Default 5000.
    public var port = 5000
    /// The shared authkey. Required: the master refuses to start without one.
    public var authKey: Secret
    /// Largest frame accepted after the handshake, in bytes. Default 16 MiB.
    public var maxFrameBytes = 16 << 20
    /// Time a new connection has to finish the handshake. Default 5 s.
    public var handshakeTimeout: Duration = .seconds(5)
    /// Connections served at once; further ones are closed at once. Default 1024.
    public var maxConnections = 1024
    /// Event-loop threads serving connections. Default 1: a task handed from a producer's
    /// connection to a consumer's then crosses no thread, and connections never wait for each
    /// other's lock on the queues, which all go through one lock anyway; more help only when
    /// many connections move large payloads at once.
    public var threads = 1
    /// Connections still in their handshake, at once: below ``maxConnections``, so that
    /// clients without the key can't take the room of those with it. Default 256 (at most a
    /// quarter of ``maxConnections``).
    public var maxUnauthenticated = 256
    /// Connections still in their handshake from one address. Default 32.
    public var maxUnauthenticatedPerAddress = 32
    /// Requests that may wait for other clients (gets and puts with a wait, Python's join),
    /// unanswered at once on one connection; more are refused with an error. Default 1024.
    public var maxWaitingRequests = 1024
    /// What the master may hold in memory: queued and leased payloads with their bookkeeping,
    /// and bytes buffered for clients. At the limit puts wait for room, then fail; gets, acks
    /// and completions always go through. Default: half the memory of the machine (or of its
    /// cgroup, if that is less).
    public var maxMemory = MemorySize.defaultLimit()
    /// Items allowed in one put, get or complete request. Default 10,000.
    public var maxItemsPerRequest = 10_000
    /// Bytes that may wait to be sent to one client before the master stops reading its
    /// requests (backpressure). Default 4 MiB.
    public var maxBufferedBytes = 4 << 20
    /// How long a client may leave that buffer full, reading nothing, before it is closed.
    /// Default 30 s.
    public var stallTimeout: Duration = .seconds(30)
    /// Capacity of queues without their own entry in ``queueMaxSizes``; 0 = unbounded (default).
    public var defaultMaxSize = 0
    /// Capacity per queue name.
    public var queueMaxSizes: [String: Int] = [:]
    /// Capacity in payload bytes per queue name; queues not named are bounded by
    /// ``maxMemory`` only.
    public var queueMaxBytes: [String: ByteCount] = [:]
    /// How many queues may exist. Default 10,000.
    public var maxQueues = 10_000
    /// Accept raw HMAC-MD5 handshake answers, which Python 3.11 and older send. Default true.
    public var acceptLegacyDigests = true
    /// Python manager typeids and the queue each one serves, besides the built-in rule
    /// `get_<name>_queue` → `<name>`.
    public var pythonTypeIDs: [String: String] = [:]
    /// Let a Python client's `shutdown` request stop the daemon. Default false.
    public var allowRemoteShutdown = false
    /// Log level. Default info.
    public var logLevel = Logger.Level.info
    /// Log output. Default human.
    public var logFormat = LogFormat.human
    /// Where queued tasks are kept on disk; nil (the default) keeps them in memory only, and
    /// they are lost when the master stops.
    public var dataDirectory: String?
    /// Where the queues live when several masters share them: a `postgres://` URL (see
    /// docs/POSTGRES.md); nil (the default) keeps them in this master (memory, or SQLite with
    /// ``dataDirectory``). Not together with ``dataDirectory``.
    public var backend: String?
    /// A password file in `.pgpass` form for ``backend`` (after the URL's own password and
    /// `PGPASSWORD`).
    public var backendPasswordFile: String?
    /// With a data directory: when a change counts as durable. Default batch.
    public var syncPolicy = SyncPolicy.batch
    /// Under `batch`, the least time from the end of one commit to the start of the next, so
    /// that writes arriving meanwhile share one. Default 2 ms.
    public var syncDelay: Duration = .milliseconds(2)
    /// How long a delivered task stays leased without an ack or heartbeat. Default 60 s.
    public var leaseTimeout: Duration = .seconds(60)
    /// Lease timeout per queue, in seconds.
    public var queueLeaseTimeouts: [String: Duration] = [:]
    /// Deliveries after which a task goes to `<queue>.dead`; 0 = never. Default 5.
    public var maxDeliveries = 5
    /// Close connections silent for this long (no request, no heartbeat); nil (default) never.
    public var idleTimeout: Duration?
    /// Port of the admin HTTP endpoint (metrics, status page); nil (default) serves none,
    /// 0 picks a free port.
    public var adminPort: Int?
    /// Interface of the admin endpoint. Default 127.0.0.1: it has no authentication.
    public var adminHost = "127.0.0.1"
    /// PEM certificate chain: with ``tlsKey``, the port speaks TLS (the HMAC handshake then
    /// runs inside it). Python manager clients can't use TLS.
    public var tlsCertificate: String?
    /// PEM private key of ``tlsCertificate``.
    public var tlsKey: String?
    /// PEM CA bundle: with it, clients must present a certificate it signed.
    public var tlsClientCA: String?

    public init(authKey: Secret) {
        self.authKey = authKey
    }

    /// The settings, with their file keys, environment variables and flags.
    public enum Keys {
        public static let host = Setting("host", environment: "TASK_MASTER_HOST", flag: "--host")
        public static let port = Setting("port", environment: "TASK_MASTER_PORT", flag: "--port")
        public static let maxFrameBytes = Setting(
            "max_frame_bytes",
            environment: "TASK_MASTER_MAX_FRAME_BYTES",
            flag: "--max-frame-bytes"
        )
        public static let handshakeTimeout = Setting(
            "handshake_timeout",
            environment: "TASK_MASTER_HANDSHAKE_TIMEOUT",
            flag: "--handshake-timeout"
        )
        public static let maxConnections = Setting(
            "max_connections",
            environment: "TASK_MASTER_MAX_CONNECTIONS",
            flag: "--max-connections"
        )
        public static let maxUnauthenticated = Setting(
            "max_unauthenticated",
            environment: "TASK_MASTER_MAX_UNAUTHENTICATED",
            flag: nil
        )
        public static let maxUnauthenticatedPerAddress = Setting(
            "max_unauthenticated_per_address",
            environment: "TASK_MASTER_MAX_UNAUTHENTICATED_PER_ADDRESS",
            flag: nil
        )
        public static let maxWaitingRequests = Setting(
            "max_waiting_requests",
            environment: "TASK_MASTER_MAX_WAITING_REQUESTS",
            flag: nil
        )
        public static let maxMemory = Setting("max_memory", environment: "TASK_MASTER_MAX_MEMORY", flag: "--max-memory")
        public static let threads = Setting("threads", environment: "TASK_MASTER_THREADS", flag: "--threads")
        public static let queueMaxBytes = Setting("queue_max_bytes", environment: nil, flag: nil)
        public static let maxBufferedBytes = Setting(
            "max_buffered_bytes",
            environment: "TASK_MASTER_MAX_BUFFERED_BYTES",
            flag: nil
        )
        public static let stallTimeout = Setting("stall_timeout", environment: "TASK_MASTER_STALL_TIMEOUT", flag: nil)
        public static let maxItemsPerRequest = Setting(
            "max_items_per_request",
            environment: "TASK_MASTER_MAX_ITEMS_PER_REQUEST",
            flag: nil
        )
        public static let defaultMaxSize = Setting(
            "default_maxsize",
            environment: "TASK_MASTER_DEFAULT_MAXSIZE",
            flag: "--default-maxsize"
        )
        public static let queueMaxSizes = Setting("queue_maxsize", environment: nil, flag: nil)
        public static let maxQueues = Setting("max_queues", environment: "TASK_MASTER_MAX_QUEUES", flag: nil)
        public static let acceptLegacyDigests = Setting(
            "accept_legacy_digests",
            environment: "TASK_MASTER_ACCEPT_LEGACY_DIGESTS",
            flag: nil
        )
        public static let pythonTypeIDs = Setting("python_typeids", environment: nil, flag: nil)
        public static let allowRemoteShutdown = Setting(
            "allow_remote_shutdown",
            environment: "TASK_MASTER_ALLOW_REMOTE_SHUTDOWN",
            flag: "--allow-remote-shutdown"
        )
        public static let logLevel = Setting("log_level", environment: "TASK_MASTER_LOG_LEVEL", flag: "--log-level")
        public static let logFormat = Setting(
            "log_format",
            environment: "TASK_MASTER_LOG_FORMAT",
            flag: "--log-format"
        )
        public static let dataDirectory = Setting("data_dir", environment: "TASK_MASTER_DATA_DIR", flag: "--data-dir")
        public static let backend = Setting("backend", environment: "TASK_MASTER_BACKEND", flag: "--backend")
        public static let backendPasswordFile = Setting(
            "backend_password_file",
            environment: "TASK_MASTER_BACKEND_PASSWORD_FILE",
            flag: "--backend-password-file"
        )
        public static let syncPolicy = Setting("sync", environment: "TASK_MASTER_SYNC", flag: "--sync")
        public static let syncDelay = Setting("sync_delay", environment: "TASK_MASTER_SYNC_DELAY", flag: nil)
        public static let leaseTimeout = Setting(
            "lease_timeout",
            environment: "TASK_MASTER_LEASE_TIMEOUT",
            flag: "--lease-timeout"
        )
        public static let queueLeaseTimeouts = Setting("queue_lease_timeout", environment: nil, flag: nil)
        public static let maxDeliveries = Setting(
            "max_deliveries",
            environment: "TASK_MASTER_MAX_DELIVERIES",
            flag: "--max-deliveries"
        )
        public static let idleTimeout = Setting(
            "idle_timeout",
            environment: "TASK_MASTER_IDLE_TIMEOUT",
            flag: "--idle-timeout"
        )
        public static let tlsCertificate = Setting("tls_cert", environment: "TASK_MASTER_TLS_CERT", flag: "--tls-cert")
        public static let tlsKey = Setting("tls_key", environment: "TASK_MASTER_TLS_KEY", flag: "--tls-key")
        public static let tlsClientCA = Setting(
            "tls_client_ca",
            environment: "TASK_MASTER_TLS_CLIENT_CA",
            flag: "--tls-client-ca"
        )
        public static let adminPort = Setting("admin_port", environment: "TASK_MASTER_ADMIN_PORT", flag: "--admin-port")
        public static let adminHost = Setting("admin_host", environment: "TASK_MASTER_ADMIN_HOST", flag: "--admin-host")

        public static let all: [Setting] = [
            host, port, AuthKeySettings.file, maxFrameBytes, handshakeTimeout, maxConnections, threads,
            maxUnauthenticated,
            maxUnauthenticatedPerAddress, maxWaitingRequests, maxMemory, queueMaxBytes,
            maxItemsPerRequest, maxBufferedBytes, stallTimeout, defaultMaxSize, queueMaxSizes, maxQueues,
            acceptLegacyDigests,
            pythonTypeIDs, allowRemoteShutdown, logLevel, logFormat, dataDirectory, backend, backendPasswordFile,
            syncPolicy, syncDelay, leaseTimeout,
            queueLeaseTimeouts, maxDeliveries, idleTimeout, adminPort, adminHost, tlsCertificate, tlsKey, tlsClientCA,
        ]
    }

    /// Builds the configuration from flags (by setting key, only those given), the environment
    /// and an optional JSON file. Returns warnings worth logging (e.g. an authkey file others
    /// can read).
    public static func load(
        flags: [String: String],
        environment: [String: String],
        configFile: String?
    ) throws(ConfigurationError) -> (MasterConfiguration, warnings: [String]) {
        let reader = try SettingsReader(
            flags: flags,
            environment: environment,
            filePath: configFile,
            knownKeys: Set(Keys.all.map(\.key))
        )
        var warnings: [String] = []
        var config = MasterConfiguration(
            authKey: try AuthKeySettings.load(from: reader, environment: environment, warnings: &warnings)
        )
        if let host = try reader.string(Keys.host) { config.host = host }
        if let port = try reader.int(Keys.port, in: 0...65535) { config.port = port }
        if let bytes = try reader.int(Keys.maxFrameBytes, in: 1024...(1 << 30)) { config.maxFrameBytes = bytes }
        if let seconds = try reader.double(Keys.handshakeTimeout, in: 0.1...300) {
            config.handshakeTimeout = .milliseconds(Int64(seconds * 1000))
        }
        if let count = try reader.int(Keys.maxConnections, in: 1...1_000_000) { config.maxConnections = count }
        if let count = try reader.int(Keys.threads, in: 1...256) { config.threads = count }
        config.maxUnauthenticated = min(config.maxUnauthenticated, max(1, config.maxConnections / 4))
        if let count = try reader.int(Keys.maxUnauthenticated, in: 1...1_000_000) {
            guard count < config.maxConnections || config.maxConnections == 1 else {
                throw ConfigurationError(
                    .invalidValue,
                    setting: Keys.maxUnauthenticated.key,
                    "max_unauthenticated (\(count)) must be below max_connections (\(config.maxConnections)), so that clients with the key always find room"
                )
            }
            config.maxUnauthenticated = count
        }
        if let count = try reader.int(Keys.maxUnauthenticatedPerAddress, in: 1...1_000_000) {
            config.maxUnauthenticatedPerAddress = count
        }
        if let count = try reader.int(Keys.maxWaitingRequests, in: 1...1_000_000) { config.maxWaitingRequests = count }
        if let size = try reader.memorySize(Keys.maxMemory) { config.maxMemory = size }
        config.queueMaxBytes = try reader.byteCountTable(Keys.queueMaxBytes)
        if let count = try reader.int(Keys.maxItemsPerRequest, in: 1...1_000_000) { config.maxItemsPerRequest = count }
        if let bytes = try reader.int(Keys.maxBufferedBytes, in: 4096...(1 << 30)) { config.maxBufferedBytes = bytes }
        if let seconds = try reader.double(Keys.stallTimeout, in: 0.1...86_400) {
            config.stallTimeout = .milliseconds(Int64(seconds * 1000))
        }
        if let size = try reader.int(Keys.defaultMaxSize, in: 0...Int(Int32.max)) { config.defaultMaxSize = size }
        config.queueMaxSizes = try reader.integerTable(Keys.queueMaxSizes, in: 0...Int(Int32.max))
        if let count = try reader.int(Keys.maxQueues, in: 1...10_000_000) { config.maxQueues = count }
        if let accept = try reader.bool(Keys.acceptLegacyDigests) { config.acceptLegacyDigests = accept }
        config.pythonTypeIDs = try reader.stringTable(Keys.pythonTypeIDs)
        if let allow = try reader.bool(Keys.allowRemoteShutdown) { config.allowRemoteShutdown = allow }
        if let level = try reader.choice(Keys.logLevel, as: Logger.Level.self) { config.logLevel = level }
        if let format = try reader.choice(Keys.logFormat, as: LogFormat.self) { config.logFormat = format }
        config.dataDirectory = try reader.string(Keys.dataDirectory)
        config.backend = try reader.string(Keys.backend)
        config.backendPasswordFile = try reader.string(Keys.backendPasswordFile)
        if let backend = config.backend {
            guard config.dataDirectory == nil else {
                throw ConfigurationError(
                    .invalidValue,
                    setting: Keys.backend.key,
                    "give either --backend (queues in PostgreSQL) or --data-dir (queues in this master's SQLite), not both"
                )
            }
            guard backend.hasPrefix("postgres://") || backend.hasPrefix("postgresql://") else {
                throw ConfigurationError(
                    .invalidValue,
                    setting: Keys.backend.key,
                    "the backend must be a postgres:// URL, e.g. postgres://taskmaster@db1:5432,db2:5432/tasks"
                )
            }
        }
        if let policy = try reader.choice(Keys.syncPolicy, as: SyncPolicy.self) { config.syncPolicy = policy }
        if let ms = try reader.double(Keys.syncDelay, in: 0...1000) { config.syncDelay = .milliseconds(Int64(ms)) }
        if let seconds = try reader.double(Keys.leaseTimeout, in: 0.05...86_400) {
            config.leaseTimeout = .milliseconds(Int64(seconds * 1000))
        }
        config.queueLeaseTimeouts = try reader.integerTable(Keys.queueLeaseTimeouts, in: 1...86_400)
            .mapValues { .seconds($0) }
        if let count = try reader.int(Keys.maxDeliveries, in: 0...1_000_000) { config.maxDeliveries = count }
        config.tlsCertificate = try reader.string(Keys.tlsCertificate)
        config.tlsKey = try reader.string(Keys.tlsKey)
        config.tlsClientCA = try reader.string(Keys.tlsClientCA)
        guard (config.tlsCertificate == nil) == (config.tlsKey == nil) else {
            throw ConfigurationError(
                .missing,
                setting: Keys.tlsKey.key,
                "TLS needs both a certificate (--tls-cert) and its key (--tls-key)"
            )
        }
        if config.tlsClientCA != nil, config.tlsCertificate == nil {
            throw ConfigurationError(
                .missing,
                setting: Keys.tlsCertificate.key,
                "--tls-client-ca needs TLS on: give --tls-cert and --tls-key too"
            )
        }
        config.adminPort = try reader.int(Keys.adminPort, in: 0...65535)
        if let host = try reader.string(Keys.adminHost) { config.adminHost = host }
        if let seconds = try reader.double(Keys.idleTimeout, in: 1...86_400 * 30) {
            config.idleTimeout = .milliseconds(Int64(seconds * 1000))
        }
        return (config, warnings)
    }
}
