import ArgumentParser
import TaskMasterConfiguration

/// Every setting of a worker as command-line options: `@OptionGroup var worker: WorkerOptions`
/// in a program's command gives it task-worker's flags, and ``run(_:program:)`` runs it.
///
/// ```swift
/// @main struct WordCountWorker: AsyncParsableCommand {
///     @OptionGroup var worker: WorkerOptions
///
///     func run() async throws {
///         try await worker.run(program: "word-count-worker") { task in
///             guard let text = try task.value().stringValue else {
///                 throw WorkerError.taskFailed("the task is not a str")
///             }
///             return try PickleValue.int(text.split(separator: " ").count).pickled()
///         }
///     }
/// }
/// ```
///
/// Flags override environment variables, which override the `--config` file, which overrides
/// the defaults of ``WorkerConfiguration`` (Config/README.md lists them all).
public struct WorkerOptions: ParsableArguments {
    @Option(
        help:
            "The master, HOST:PORT, or several separated by commas: the worker works for the first that answers and moves to the next when it loses it (default 127.0.0.1:5000)."
    )
    var connect: String?

    @Option(name: .customLong("authkey-file"), help: "File holding the shared authkey.")
    var authkeyFile: String?

    @Option(help: "JSON config file (see Config/worker.example.json).")
    var config: String?

    @Option(help: "Queue to take tasks from (default task).")
    var taskQueue: String?

    @Option(help: "Queue to put results on (default result).")
    var resultQueue: String?

    @Option(help: "Batches in progress at once (default 3).")
    var concurrency: Int?

    @Option(help: "Tasks fetched per request (default 512).")
    var prefetch: Int?

    @Option(help: "Exit 0 once the task queue stayed empty this many seconds.")
    var exitWhenIdle: Double?

    @Flag(help: "The master is a Python multiprocessing BaseManager serving get_task_queue/get_result_queue.")
    var pythonManager = false

    @Option(help: "Longest pause between reconnection attempts, in seconds (default 30).")
    var maxBackoff: Double?

    @Option(help: "Seconds between heartbeats, which keep leases alive (default 5).")
    var heartbeatInterval: Double?

    @Option(help: "PEM CA bundle of a master that speaks TLS (turns TLS on).")
    var tlsCa: String?

    @Option(help: "PEM client certificate, for a master that requires one (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "The name the master's certificate must carry (default: the --connect host).")
    var tlsServerName: String?

    @Option(help: "Largest frame accepted from the master, in bytes (default 16 MiB).")
    var maxFrameBytes: Int?

    @Option(help: "Seconds for the TCP connect and for the handshake (default 5).")
    var handshakeTimeout: Double?

    @Option(help: "trace, debug, info (default), notice, warning, error or critical.")
    var logLevel: String?

    @Option(help: "human (default) or json: one JSON object per line, for log collectors.")
    var logFormat: String?

    public init() {}

    /// The config file named by `--config`, if any.
    public var configFile: String? { config }

    /// The flags that were given, by setting key, as ``WorkerConfiguration/load(flags:environment:configFile:)``
    /// takes them.
    public var flags: [String: String] {
        typealias Keys = WorkerConfiguration.Keys
        var flags: [String: String] = [:]
        flags[ConnectionSettings.Keys.connect.key] = connect
        flags[AuthKeySettings.file.key] = authkeyFile
        flags[Keys.taskQueue.key] = taskQueue
        flags[Keys.resultQueue.key] = resultQueue
        flags[Keys.concurrency.key] = concurrency.map(String.init)
        flags[Keys.prefetch.key] = prefetch.map(String.init)
        flags[Keys.exitWhenIdle.key] = exitWhenIdle.map { "\($0)" }
        flags[Keys.pythonManager.key] = pythonManager ? "true" : nil
        flags[Keys.maxBackoff.key] = maxBackoff.map { "\($0)" }
        flags[ConnectionSettings.Keys.maxFrameBytes.key] = maxFrameBytes.map(String.init)
        flags[ConnectionSettings.Keys.handshakeTimeout.key] = handshakeTimeout.map { "\($0)" }
        flags[Keys.logLevel.key] = logLevel
        flags[Keys.logFormat.key] = logFormat
        flags[ConnectionSettings.Keys.tlsCA.key] = tlsCa
        flags[ConnectionSettings.Keys.tlsCertificate.key] = tlsCert
        flags[ConnectionSettings.Keys.tlsKey.key] = tlsKey
        flags[ConnectionSettings.Keys.tlsServerName.key] = tlsServerName
        flags[Keys.heartbeatInterval.key] = heartbeatInterval.map { "\($0)" }
        return flags
    }

    /// The configuration from these flags, `environment` and the config file.
    public func configuration(
        environment: [String: String]
    ) throws(ConfigurationError) -> (WorkerConfiguration, warnings: [String]) {
        try WorkerConfiguration.load(flags: flags, environment: environment, configFile: config)
    }
}
