import Logging
import NIOCore
import NIOPosix
import QueueBackend
import ServiceLifecycle
import Synchronization
import TaskMasterConfiguration

/// The master's TCP port, as a service: accepts connections, runs each one's pipeline
/// (``ConnectionPipeline``), and when a connection ends, releases its consumer: its waits end
/// and its leased tasks go back to their queues.
///
/// On graceful shutdown it stops accepting, closes every connection, waits until each has been
/// released, and then shuts the backend down (remaining waits answered, remaining leases
/// returned). It also returns when asked to stop by a client (``requestStop()``).
struct MasterServer: Service {
    let configuration: MasterConfiguration
    let pipeline: ConnectionPipeline
    let backend: any QueueBackend
    let registry: ConnectionRegistry
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let stopSignal: StopSignal
    let onListening: @Sendable (SocketAddress) -> Void

    func run() async throws {
        let pipeline = self.pipeline
        let serverChannel: NIOAsyncChannel<AcceptedConnection, Never>
        do {
            serverChannel = try await ServerBootstrap(group: eventLoopGroup)
                // Room for a storm's worth of connections waiting to be accepted (the kernel caps
                // it at net.core.somaxconn): past the backlog the kernel drops a client's
                // handshake packets, and the client waits seconds for their retransmission.
                .serverChannelOption(.backlog, value: 4096)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.socketOption(.so_keepalive), value: 1)
                .childChannelOption(
                    .writeBufferWaterMark,
                    value: .init(low: configuration.maxBufferedBytes / 2, high: configuration.maxBufferedBytes)
                )
                .bind(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture { try pipeline.configure(channel) }
                }
        } catch {
            throw ServerError(
                .bindFailed,
                "can't listen on \(configuration.host):\(configuration.port): \(error)"
                    + " (is another master running on this port? choose another with --port)"
            )
        }
        let listener = serverChannel.channel
        stopSignal.attach(listener)
        if let address = listener.localAddress { onListening(address) }
        logger.info(
            "task-master listening",
            metadata: [
                "address": "\(listener.localAddress?.displayString ?? "?")",
                "max_frame_bytes": "\(configuration.maxFrameBytes)",
                "max_connections": "\(configuration.maxConnections)",
                "tls":
                    "\(configuration.tlsCertificate == nil ? "off" : configuration.tlsClientCA == nil ? "on" : "on, client certificates required")",
            ]
        )
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await serverChannel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await serve(connection) }
                    }
                }
                // The listener is closed: end every session too; each is released as it ends.
                logger.info(
                    "stopped accepting; closing client connections",
                    metadata: ["clients": "\(registry.counts.total)"]
                )
                registry.closeAll()
            }
            // Every connection has ended and been released; what is left waiting or leased
            // (nothing, normally) ends with the backend.
            try? await backend.shutDown()
        } onGracefulShutdown: {
            listener.close(promise: nil)
        }
    }

    /// Waits for a connection to end, then releases its consumer.
    private func serve(_ connection: AcceptedConnection) async {
        try? await connection.channel.closeFuture.get()
        guard let id = connection.id else { return }
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(connection.peer)"
        logger[metadataKey: "conn"] = "\(id)"
        let returned: Int
        do {
            returned = try await backend.release(id)
        } catch {
            logger.error("could not return the connection's tasks: \(error.message)")
            returned = 0
        }
        guard registry.remove(id) else {
            // Never past its handshake: whoever can reach the port can open these by the
            // thousand a second; their failures are logged, counted and rate-limited, where
            // they are detected.
            logger.debug("connection closed before its handshake ended")
            return
        }
        if returned > 0 {
            logger.info(
                "connection closed; its leased tasks went back to their queues",
                metadata: ["tasks": "\(returned)"]
            )
        } else {
            logger.info("connection closed")
        }
    }
}

/// Stops the master's listener once, whoever asks first (a Python client's `shutdown`, say):
/// the server service then ends, and with it the group.
final class StopSignal: Sendable {
    private let state = Mutex<(listener: (any Channel)?, requested: Bool)>((nil, false))

    func attach(_ channel: any Channel) {
        let requested = state.withLock { state in
            state.listener = channel
            return state.requested
        }
        if requested { channel.close(promise: nil) }
    }

    func requestStop() {
        let listener = state.withLock { state in
            state.requested = true
            return state.listener
        }
        listener?.close(promise: nil)
    }
}
