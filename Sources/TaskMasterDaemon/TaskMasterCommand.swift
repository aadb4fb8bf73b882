import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TaskMasterConfiguration
import TaskMasterLogging
import TaskMasterServer

@main
struct TaskMasterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task-master",
        abstract: "Serve named task queues over TCP to task-worker, task-ctl and Python manager clients.",
        discussion: """
            The authkey is required: set TASK_AUTHKEY, or pass --authkey-file (or
            authkey_file in the config file). Flags override environment variables, which
            override the config file.

            Examples:
              task-master --port 5000 --authkey-file /etc/taskmaster/authkey
              task-master --config /etc/taskmaster/master.json   # Config/*.example.json
              task-master --host 127.0.0.1 --port 0      # any free port; printed on stdout

            On SIGTERM or SIGINT the master stops accepting, closes its connections (their
            leased tasks go back to their queues) and exits 0. Queues live in memory
            unless --data-dir is given; then every queued and leased task is kept on disk
            (SQLite, WAL) and restored at start. With --backend postgres://… the queues
            live in PostgreSQL and any number of masters given the same URL serve them:
              task-master --backend postgres://taskmaster@db1:5432,db2:5432/tasks
            """
    )

    static func main() async {
        // Run Swift concurrency on NIO's event loops: no thread hop between socket I/O and
        // the tasks that serve it.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }

    @Option(help: "Interface to listen on (default 0.0.0.0).")
    var host: String?

    @Option(help: "TCP port (default 5000; 0 picks a free one).")
    var port: Int?

    @Option(name: .customLong("authkey-file"), help: "File holding the shared authkey.")
    var authkeyFile: String?

    @Option(help: "JSON config file (see Config/master.example.json).")
    var config: String?

    @Option(help: "Largest frame accepted after the handshake, in bytes (default 16 MiB).")
    var maxFrameBytes: Int?

    @Option(help: "Seconds a connection has to finish the handshake (default 5).")
    var handshakeTimeout: Double?

    @Option(help: "Connections served at once (default 1024).")
    var maxConnections: Int?

    @Option(help: "Event-loop threads serving connections (default 1).")
    var threads: Int?

    @Option(name: .customLong("default-maxsize"), help: "Capacity of each queue; 0 = unbounded (default).")
    var defaultMaxSize: Int?

    @Option(help: "Memory the master may hold: a size (2GiB) or a share of memory (50%, the default).")
    var maxMemory: String?

    @Option(help: "Keep queued tasks on disk in this directory (default: memory only).")
    var dataDir: String?

    @Option(
        help:
            "Keep the queues in PostgreSQL, shared by every master given the same URL: postgres://USER@HOST[:PORT][,HOST2…]/DB (see docs/POSTGRES.md). Not with --data-dir."
    )
    var backend: String?

    @Option(help: "Password file for --backend, in .pgpass form (host:port:database:user:password).")
    var backendPasswordFile: String?

    @Option(help: "With --data-dir: always, batch (group commit, default) or off.")
    var sync: String?

    @Option(help: "Seconds a delivered task stays leased without an ack or heartbeat (default 60).")
    var leaseTimeout: Double?

    @Option(help: "Deliveries before a task goes to <queue>.dead; 0 = never (default 5).")
    var maxDeliveries: Int?

    @Option(help: "Close connections silent for this many seconds (default: never).")
    var idleTimeout: Double?

    @Option(help: "PEM certificate chain: the port speaks TLS (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "PEM CA bundle: require client certificates it signed.")
    var tlsClientCa: String?

    @Option(help: "Serve metrics (/metrics), the status page (/) and /api/stats on this port.")
    var adminPort: Int?

    @Option(help: "Interface of the admin endpoint (default 127.0.0.1; it has no authentication).")
    var adminHost: String?

    @Flag(help: "Let a Python client's shutdown() stop this daemon.")
    var allowRemoteShutdown = false

    @Option(help: "trace, debug, info (default), notice, warning, error or critical.")
    var logLevel: String?

    @Option(help: "human (default) or json: one JSON object per line, for log collectors.")
    var logFormat: String?

    func run() async throws {
        var flags: [String: String] = [:]
        flags[MasterConfiguration.Keys.host.key] = host
        flags[MasterConfiguration.Keys.port.key] = port.map(String.init)
        flags[AuthKeySettings.file.key] = authkeyFile
        flags[MasterConfiguration.Keys.maxFrameBytes.key] = maxFrameBytes.map(String.init)
        flags[MasterConfiguration.Keys.handshakeTimeout.key] = handshakeTimeout.map { "\($0)" }
        flags[MasterConfiguration.Keys.maxConnections.key] = maxConnections.map(String.init)
        flags[MasterConfiguration.Keys.threads.key] = threads.map(String.init)
        flags[MasterConfiguration.Keys.defaultMaxSize.key] = defaultMaxSize.map(String.init)
        flags[MasterConfiguration.Keys.maxMemory.key] = maxMemory
        flags[MasterConfiguration.Keys.allowRemoteShutdown.key] = allowRemoteShutdown ? "true" : nil
        flags[MasterConfiguration.Keys.logLevel.key] = logLevel
        flags[MasterConfiguration.Keys.logFormat.key] = logFormat
        flags[MasterConfiguration.Keys.dataDirectory.key] = dataDir
        flags[MasterConfiguration.Keys.syncPolicy.key] = sync
        flags[MasterConfiguration.Keys.backend.key] = backend
        flags[MasterConfiguration.Keys.backendPasswordFile.key] = backendPasswordFile
        flags[MasterConfiguration.Keys.leaseTimeout.key] = leaseTimeout.map { "\($0)" }
        flags[MasterConfiguration.Keys.maxDeliveries.key] = maxDeliveries.map(String.init)
        flags[MasterConfiguration.Keys.idleTimeout.key] = idleTimeout.map { "\($0)" }
        flags[MasterConfiguration.Keys.adminPort.key] = adminPort.map(String.init)
        flags[MasterConfiguration.Keys.tlsCertificate.key] = tlsCert
        flags[MasterConfiguration.Keys.tlsKey.key] = tlsKey
        flags[MasterConfiguration.Keys.tlsClientCA.key] = tlsClientCa
        flags[MasterConfiguration.Keys.adminHost.key] = adminHost

        let configuration: MasterConfiguration
        let warnings: [String]
        do {
            (configuration, warnings) = try MasterConfiguration.load(
                flags: flags,
                environment: ProcessInfo.processInfo.environment,
                configFile: config
            )
        } catch {
            FileHandle.standardError.write(Data("task-master: \(error.message)\n".utf8))
            throw ExitCode(2)
        }

        LoggingSystem.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: "task-master")
        for warning in warnings { logger.warning("\(warning)") }
        logger.info("memory limit \(configuration.maxMemory) (max_memory)")

        // Connections get loops of their own; Swift concurrency (the admin page, the reaper)
        // keeps the shared ones.
        let connectionLoops = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
        do {
            try await serve(configuration, on: connectionLoops, logger: logger)
        } catch {
            try? await connectionLoops.shutdownGracefully()
            throw error
        }
        try? await connectionLoops.shutdownGracefully()
        logger.info("task-master stopped")
    }

    /// Runs the master's services on `loops` until they stop.
    private func serve(
        _ configuration: MasterConfiguration,
        on loops: MultiThreadedEventLoopGroup,
        logger: Logger
    ) async throws {
        let master: TaskMaster
        do {
            master = try TaskMaster(
                configuration: configuration,
                logger: logger,
                eventLoopGroup: loops,
                onListening: { address in
                    // Scripts and tests read the port from this line (useful with --port 0).
                    Self.say("task-master listening on \(address.ipAddress ?? "?"):\(address.port ?? 0)")
                },
                onAdminListening: { address in
                    Self.say("task-master admin on \(address.ipAddress ?? "?"):\(address.port ?? 0)")
                }
            )
        } catch let error as ServerError {
            logger.critical("\(error.message)")
            throw ExitCode(1)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: master.services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch let error as ServerError {
            logger.critical("\(error.message)")
            throw ExitCode(1)
        } catch {
            logger.critical("task-master stopped: \(error)")
            throw ExitCode(1)
        }
    }

    /// A line on standard output, where scripts read it.
    private static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
