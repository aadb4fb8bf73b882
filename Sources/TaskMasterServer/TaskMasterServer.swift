import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TaskMasterAdmin
import TaskMasterConfiguration
import TaskQueue
import TaskStorage
import TaskWire

/// The task-master daemon: serves named queues over TCP to native and Python clients,
/// behind the mutual HMAC handshake.
///
/// Run it in a `ServiceGroup`: on graceful shutdown (SIGTERM) it stops accepting, closes every
/// connection — which returns their leased tasks to the queues — and returns.
public struct TaskMasterServer: Service {
    private let configuration: MasterConfiguration
    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let clock: any Clock<Duration>
    private let onListening: @Sendable (SocketAddress) -> Void

    /// - Parameters:
    ///   - clock: times blocking gets and puts; injectable for tests.
    ///   - onListening: called once the port is open, with the bound address
    ///     (useful with port 0).
    public init(
        configuration: MasterConfiguration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        clock: any Clock<Duration> = ContinuousClock(),
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        self.clock = clock
        self.onListening = onListening
    }

    public func run() async throws {
        guard let key = AuthKey(bytes: configuration.authKey.bytes) else {
            throw ServerError(.invalidAuthKey, "the authkey is empty; give a non-empty key")
        }
        let metrics = configuration.adminPort == nil ? nil : AdminMetrics()
        let (engine, writer): (QueueEngine, StoreWriter?)
        do {
            (engine, writer) = try openQueues(metrics: metrics)
        } catch let error as StorageError {
            throw ServerError(.storageFailed, error.description)
        } catch {
            throw ServerError(.storageFailed, "can't restore the queues: \(error)")
        }
        let registry = ConnectionRegistry(limit: configuration.maxConnections)
        let authFailures = AuthFailureTracker()
        let traffic = TrafficCounters()
        let tls = try ServerTLS.makeContext(configuration)
        let configuration = self.configuration
        let logger = self.logger

        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(low: configuration.maxBufferedBytes / 2, high: configuration.maxBufferedBytes)
                )
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(TrafficCountingHandler(counters: traffic))
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            WriteStallHandler(timeout: .nanoseconds(configuration.stallTimeout.nanoseconds)) {
                                logger.warning("\($0.message)", metadata: ["peer": "\($0.peer ?? "?")"])
                            }
                        )
                        if let idle = configuration.idleTimeout {
                            try channel.pipeline.syncOperations.addHandler(
                                IdleTimeoutHandler(timeout: .nanoseconds(idle.nanoseconds))
                            )
                        }
                        let delay = authFailures.penalty(for: channel.remoteAddress?.ipAddress)
                        try channel.pipeline.syncOperations.addHandler(
                            AuthenticatedFramingHandler(
                                role: .server,
                                key: key,
                                maximumFrameLength: configuration.maxFrameBytes,
                                handshakeTimeout: .nanoseconds(configuration.handshakeTimeout.nanoseconds),
                                acceptsLegacyDigests: configuration.acceptLegacyDigests,
                                challengeDelay: .nanoseconds(delay.nanoseconds)
                            )
                        )
                        try channel.pipeline.syncOperations.addHandler(PythonSessionHandler())
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw ServerError(
                .bindFailed,
                "can't listen on \(configuration.host):\(configuration.port): \(error)"
                    + " (is another master running on this port? choose another with --port)"
            )
        }

        let shutdown = ShutdownSignal(channel: serverChannel.channel)
        let status = MasterStatus(
            engine: engine,
            registry: registry,
            authFailures: authFailures,
            traffic: traffic,
            startedAt: .now
        )
        let context = SessionContext(
            engine: engine,
            configuration: configuration,
            registry: registry,
            pythonObjects: PythonObjects(typeIDs: configuration.pythonTypeIDs),
            status: status,
            requestShutdown: { shutdown.trigger() }
        )
        if let address = serverChannel.channel.localAddress { onListening(address) }
        logger.info(
            "task-master listening",
            metadata: [
                "address": "\(serverChannel.channel.localAddress?.displayString ?? "?")",
                "max_frame_bytes": "\(configuration.maxFrameBytes)",
                "max_connections": "\(configuration.maxConnections)",
                "tls":
                    "\(tls == nil ? "off" : configuration.tlsClientCA == nil ? "on" : "on, client certificates required")",
            ]
        )

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                let reaper = Task { await engine.runLeaseReaper(every: Self.reaperInterval(configuration)) }
                defer { reaper.cancel() }
                if let metrics, let port = configuration.adminPort {
                    let admin = AdminServer(
                        host: configuration.adminHost,
                        port: port,
                        source: status,
                        metrics: metrics,
                        logger: logger
                    ) { address in
                        FileHandle.standardOutput.write(
                            Data("task-master admin on \(address.ipAddress ?? "?"):\(address.port ?? 0)\n".utf8)
                        )
                    }
                    group.addTask {
                        do {
                            try await admin.run()
                        } catch {
                            logger.error("the admin endpoint failed", metadata: ["error": "\(error)"])
                        }
                    }
                }
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask {
                            await ConnectionHandler(context: context, authFailures: authFailures, logger: logger)
                                .serve(connection)
                        }
                    }
                }
                // The listener is closed: end every session too. Their leases go back to the queues.
                logger.info("stopped accepting; closing client connections", metadata: ["clients": "\(registry.count)"])
                registry.closeAll()
            }
        } onGracefulShutdown: {
            shutdown.trigger()
        }
        engine.shutDown()
        let left = engine.snapshot().reduce(0) { $0 + $1.depth }
        if let writer {
            writer.stop()  // whatever is still pending reaches the disk before we exit
            logger.info("task-master stopped", metadata: ["queued_tasks_kept": "\(left)"])
        } else {
            logger.info("task-master stopped", metadata: ["queued_tasks_dropped": "\(left)"])
        }
    }

    /// The engine, restored from the data directory and journaling to it when there is one.
    private func openQueues(metrics: AdminMetrics?) throws -> (QueueEngine, StoreWriter?) {
        var onDone: (@Sendable (String, Duration) -> Void)?
        if let metrics {
            onDone = { queue, latency in metrics.recordTaskLatency(queue: queue, duration: latency) }
        }
        let limits = QueueLimits(
            defaultMaxSize: configuration.defaultMaxSize,
            maxSizes: configuration.queueMaxSizes,
            maxQueues: configuration.maxQueues,
            leaseTimeout: configuration.leaseTimeout,
            leaseTimeouts: configuration.queueLeaseTimeouts,
            maxDeliveries: configuration.maxDeliveries
        )
        guard let directory = configuration.dataDirectory else {
            logger.notice("queues are kept in memory only (no --data-dir): queued tasks are lost when the master stops")
            return (try QueueEngine(limits: limits, clock: clock, onDone: onDone), nil)
        }
        let policy = SyncPolicy(rawValue: configuration.syncPolicy) ?? .batch
        let store = try SQLiteTaskStore(directory: directory, syncPolicy: policy)
        let restored = try store.loadAll()
        // Under `always` every change is on disk before it is answered; otherwise a
        // completion may wait a few commits (see Journal.defersCompletions).
        let journal = Journal(defersCompletions: policy != .always)
        let engine = try QueueEngine(
            limits: limits,
            clock: clock,
            journal: journal,
            waitsForDurability: policy != .off,
            restoring: restored
        )
        let logger = self.logger
        let writer = StoreWriter(store: store, journal: journal, batchDelay: configuration.syncDelay) { failure in
            logger.critical("\(failure.description); stop the master and check the disk")
        }
        writer.start()
        logger.info(
            "queues restored from the data directory",
            metadata: ["path": "\(store.path)", "tasks": "\(restored.count)", "sync": "\(policy.rawValue)"]
        )
        return (engine, writer)
    }

    /// How often leases are checked: often enough to end an expired one within a fraction of
    /// the shortest timeout, at most once a second.
    static func reaperInterval(_ configuration: MasterConfiguration) -> Duration {
        let shortest = ([configuration.leaseTimeout] + configuration.queueLeaseTimeouts.values).min() ?? .seconds(60)
        return max(.milliseconds(10), min(.seconds(1), shortest / 10))
    }
}

/// Closes the listening socket once, whoever asks first (SIGTERM, or a remote shutdown).
private struct ShutdownSignal: Sendable {
    let channel: any Channel

    func trigger() {
        channel.close(promise: nil)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
