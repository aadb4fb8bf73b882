import Logging

/// Everything `task-worker` can be configured with, and the defaults.
///
/// Filled by ``load(flags:environment:configFile:)`` from, in order of precedence:
/// command-line flags, environment variables, the JSON config file (`--config`), defaults.
public struct WorkerConfiguration: Sendable {
    /// How to reach the master.
    public var connection: ConnectionSettings
    /// Queue tasks are taken from. Default `task`.
    public var taskQueue = "task"
    /// Queue results are put on. Default `result`.
    public var resultQueue = "result"
    /// Batches in progress at once on the worker's connection (pipelined gets). Default 3.
    public var concurrency = 3
    /// Tasks fetched per request. Default 512.
    public var prefetch = 512
    /// Exit once the task queue stayed empty this long; nil (default) to run until stopped.
    public var exitWhenIdle: Duration?
    /// Talk to a Python `BaseManager` master instead of a TaskMaster one. Default false.
    public var pythonManager = false
    /// Longest pause between reconnection attempts. Default 30 s.
    public var maxBackoff: Duration = .seconds(30)
    /// Log level. Default info.
    public var logLevel = Logger.Level.info
    /// Log output. Default human.
    public var logFormat = LogFormat.human
    /// How often the worker reports to the master; each report extends its leases. Keep it
    /// well under the master's lease timeout. Default 5 s.
    public var heartbeatInterval: Duration = .seconds(5)

    public init(connection: ConnectionSettings) {
        self.connection = connection
    }

    /// The settings, with their file keys, environment variables and flags.
    public enum Keys {
        public static let taskQueue = Setting("task_queue", environment: "TASK_WORKER_TASK_QUEUE", flag: "--task-queue")
        public static let resultQueue = Setting(
            "result_queue",
            environment: "TASK_WORKER_RESULT_QUEUE",
            flag: "--result-queue"
        )
        public static let concurrency = Setting(
            "concurrency",
            environment: "TASK_WORKER_CONCURRENCY",
            flag: "--concurrency"
        )
        public static let prefetch = Setting("prefetch", environment: "TASK_WORKER_PREFETCH", flag: "--prefetch")
        public static let exitWhenIdle = Setting(
            "exit_when_idle",
            environment: "TASK_WORKER_EXIT_WHEN_IDLE",
            flag: "--exit-when-idle"
        )
        public static let pythonManager = Setting(
            "python_manager",
            environment: "TASK_WORKER_PYTHON_MANAGER",
            flag: "--python-manager"
        )
        public static let maxBackoff = Setting(
            "max_backoff",
            environment: "TASK_WORKER_MAX_BACKOFF",
            flag: "--max-backoff"
        )
        public static let logLevel = Setting("log_level", environment: "TASK_WORKER_LOG_LEVEL", flag: "--log-level")
        public static let logFormat = Setting(
            "log_format",
            environment: "TASK_WORKER_LOG_FORMAT",
            flag: "--log-format"
        )
        public static let heartbeatInterval = Setting(
            "heartbeat_interval",
            environment: "TASK_WORKER_HEARTBEAT_INTERVAL",
            flag: "--heartbeat-interval"
        )

        public static let all: [Setting] =
            ConnectionSettings.Keys.all + [
                taskQueue, resultQueue, concurrency, prefetch, exitWhenIdle, pythonManager, maxBackoff, logLevel,
                logFormat, heartbeatInterval,
            ]
    }

    /// Builds the configuration from flags (by setting key, only those given), the environment
    /// and an optional JSON file. Returns warnings worth logging.
    public static func load(
        flags: [String: String],
        environment: [String: String],
        configFile: String?
    ) throws(ConfigurationError) -> (WorkerConfiguration, warnings: [String]) {
        let reader = try SettingsReader(
            flags: flags,
            environment: environment,
            filePath: configFile,
            knownKeys: Set(Keys.all.map(\.key))
        )
        var warnings: [String] = []
        var config = WorkerConfiguration(
            connection: try ConnectionSettings.load(from: reader, environment: environment, warnings: &warnings)
        )
        if let name = try reader.string(Keys.taskQueue) { config.taskQueue = name }
        if let name = try reader.string(Keys.resultQueue) { config.resultQueue = name }
        if let count = try reader.int(Keys.concurrency, in: 1...1024) { config.concurrency = count }
        if let count = try reader.int(Keys.prefetch, in: 1...100_000) { config.prefetch = count }
        if let seconds = try reader.double(Keys.exitWhenIdle, in: 0...1_000_000) {
            config.exitWhenIdle = .milliseconds(Int64(seconds * 1000))
        }
        if let python = try reader.bool(Keys.pythonManager) { config.pythonManager = python }
        if let seconds = try reader.double(Keys.maxBackoff, in: 0.01...3600) {
            config.maxBackoff = .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = try reader.double(Keys.heartbeatInterval, in: 0.05...3600) {
            config.heartbeatInterval = .milliseconds(Int64(seconds * 1000))
        }
        if let level = try reader.choice(Keys.logLevel, as: Logger.Level.self) { config.logLevel = level }
        if let format = try reader.choice(Keys.logFormat, as: LogFormat.self) { config.logFormat = format }
        return (config, warnings)
    }
}
