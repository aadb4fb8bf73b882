import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TaskMasterConfiguration
import TaskQueue
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
        let engine = QueueEngine(
            limits: QueueLimits(
                defaultMaxSize: configuration.defaultMaxSize,
                maxSizes: configuration.queueMaxSizes,
                maxQueues: configuration.maxQueues
            ),
            clock: clock
        )
        let registry = ConnectionRegistry(limit: configuration.maxConnections)
        let authFailures = AuthFailureTracker()
        let configuration = self.configuration

        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            AuthenticatedFramingHandler(
                                role: .server,
                                key: key,
                                maximumFrameLength: configuration.maxFrameBytes,
                                handshakeTimeout: .nanoseconds(configuration.handshakeTimeout.nanoseconds),
                                acceptsLegacyDigests: configuration.acceptLegacyDigests
                            )
                        )
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
        let context = SessionContext(
            engine: engine,
            configuration: configuration,
            registry: registry,
            pythonObjects: PythonObjects(typeIDs: configuration.pythonTypeIDs),
            startedAt: .now,
            requestShutdown: { shutdown.trigger() }
        )
        if let address = serverChannel.channel.localAddress { onListening(address) }
        logger.info(
            "task-master listening",
            metadata: [
                "address": "\(serverChannel.channel.localAddress?.displayString ?? "?")",
                "max_frame_bytes": "\(configuration.maxFrameBytes)",
                "max_connections": "\(configuration.maxConnections)",
            ]
        )

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
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
        logger.info("task-master stopped", metadata: ["queued_tasks_dropped": "\(left)"])
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
