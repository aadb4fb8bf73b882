import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The daemon's admin HTTP endpoint, for operators:
///
/// - `GET /` — a self-contained status page (no external assets) that polls `/api/stats` every
///   second: queues, rates, a chart, connected clients.
/// - `GET /metrics` — Prometheus text format (see ``AdminMetrics`` for the series).
/// - `GET /api/stats` — the ``StatusSnapshot`` as JSON.
///
/// `HEAD` works wherever `GET` does; other methods get `405`, other paths `404`.
///
/// There is no authentication: it binds to loopback by default. Expose it further only behind
/// something that authenticates (an SSH tunnel, a reverse proxy).
///
/// Run it in a `ServiceGroup`, beside the master: on graceful shutdown it stops accepting, lets
/// each connection finish the request it is answering, and returns.
public struct AdminServer: Service {
    private let host: String
    private let port: Int
    private let source: any StatusSource
    private let metrics: AdminMetrics
    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let maxConnections: Int
    private let idleTimeout: TimeAmount
    private let onListening: @Sendable (SocketAddress) -> Void

    /// - Parameters:
    ///   - host: address to bind to; loopback by default.
    ///   - port: port to bind to; 0 picks a free one (see `onListening`).
    ///   - source: where the numbers come from.
    ///   - metrics: the registry `/metrics` renders; pass the one the daemon records task latency
    ///     into.
    ///   - maxConnections: open connections at most; past it a new connection takes the place of
    ///     the one idle longest, or is closed at once if all are busy.
    ///   - idleTimeout: a connection that sends nothing for this long is closed (the status page
    ///     polls every second).
    ///   - onListening: called once the port is open, with the bound address.
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        source: any StatusSource,
        metrics: AdminMetrics = AdminMetrics(),
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        maxConnections: Int = 64,
        idleTimeout: Duration = .seconds(5),
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.source = source
        self.metrics = metrics
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        self.maxConnections = maxConnections
        self.idleTimeout = TimeAmount(idleTimeout)
        self.onListening = onListening
    }

    public func run() async throws {
        let idleTimeout = self.idleTimeout
        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: eventLoopGroup)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.configureHTTPServerPipeline(
                            withErrorHandling: true,
                            withEncoderConfiguration: .init(),
                            withDecoderLimitConfiguration: HTTPConnection.headLimits
                        )
                        try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try pipeline.addHandler(IdleCloseHandler())
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel
                        )
                    }
                }
        } catch {
            throw AdminError(
                .bindFailed,
                "can't open the admin endpoint on \(host):\(port): \(error)"
                    + " (is the port in use? choose another one)"
            )
        }

        let connections = OpenConnections(limit: maxConnections)
        let handler = HTTPConnection(
            routes: AdminRoutes(source: source, metrics: metrics),
            connections: connections,
            logger: logger
        )
        let address = serverChannel.channel.localAddress
        if let address { onListening(address) }
        logger.info(
            "admin endpoint listening",
            metadata: ["address": "\(address?.ipAddress ?? host):\(address?.port ?? port)"]
        )

        let listener = serverChannel.channel
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        guard connections.insert(connection.channel) else {
                            // Over the limit, or shutting down: close it unanswered. (NIO requires
                            // every wrapped channel to go through executeThenClose.)
                            group.addTask { try? await connection.executeThenClose { _, _ in } }
                            continue
                        }
                        group.addTask {
                            await handler.serve(connection)
                            connections.remove(connection.channel)
                        }
                    }
                }
                // The listener is closed: each connection closes after answering what it has.
                connections.quiesceAll()
            }
        } onGracefulShutdown: {
            listener.close(promise: nil)
        }
        logger.info("admin endpoint stopped")
    }
}
