import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SquaringJobs
import TaskMasterClient
import TaskMasterConfiguration
import TaskMasterLogging

@main
struct TaskWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task-worker",
        abstract: "Take numbers from a task-master's task queue, square them, put the results back.",
        discussion: """
            Each task is a number (a pickled Python int of any size); its result is the str
            "n * n = r" with the task's id, put on the result queue in the same step that
            acknowledges the task. A task that is not a number gets an error result.

            The authkey comes from --authkey-file, TASK_AUTHKEY or TASK_AUTHKEY_FILE. Flags
            override environment variables, which override the config file.

            Examples:
              TASK_AUTHKEY=secret task-worker --connect 10.0.0.5:5000
              task-worker --config /etc/taskmaster/worker.json --concurrency 4
              task-worker --connect master:5000 --exit-when-idle 5     # exit once idle for 5 s

            SIGTERM/SIGINT: stop taking work, finish and acknowledge what is in hand, exit 0.
            While the master is unreachable the worker retries with backoff and says so.
            """
    )

    static func main() async {
        // Run Swift concurrency on NIO's event loops: no thread hop between socket I/O and
        // the tasks that serve it.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }

    @Option(help: "The master, HOST:PORT (default 127.0.0.1:5000).")
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

    func run() async throws {
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

        let configuration: WorkerConfiguration
        let warnings: [String]
        do {
            (configuration, warnings) = try WorkerConfiguration.load(
                flags: flags,
                environment: ProcessInfo.processInfo.environment,
                configFile: config
            )
        } catch {
            FileHandle.standardError.write(Data("task-worker: \(error.message)\n".utf8))
            throw ExitCode(2)
        }

        LoggingSystem.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "task-worker")
        for warning in warnings { logger.warning("\(warning)") }

        let worker: any Service =
            configuration.pythonManager
            ? PythonManagerWorker(configuration: configuration, logger: logger)
            : SquaringWorker(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch let error as ClientError where error.code == .authenticationFailed {
            throw ExitCode(1)
        }
    }
}
