import Logging
import NIOCore
import TaskWire

/// Serves one accepted connection from the handshake to the end: classifies the client by its
/// first frame, runs the matching session, and returns the tasks it still held.
struct ConnectionHandler {
    let context: SessionContext
    let authFailures: AuthFailureTracker
    let logger: Logger

    func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let remote = connection.channel.remoteAddress
        let peer = remote?.displayString ?? "unknown"
        guard let id = context.registry.register(channel: connection.channel, address: peer) else {
            logger.warning(
                "refusing connection: max_connections reached",
                metadata: ["peer": "\(peer)", "max_connections": "\(context.configuration.maxConnections)"]
            )
            try? await connection.channel.close()
            return
        }
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer)"
        logger[metadataKey: "conn"] = "\(id)"
        defer { context.registry.remove(id) }

        do {
            try await connection.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                guard let first = try await iterator.next() else { return }
                if Hello.isHello(first.readableBytesView) {
                    let channel = SessionChannel(
                        id: id,
                        peer: peer,
                        inbound: iterator,
                        outbound: outbound,
                        logger: logger
                    )
                    var session = NativeSession(context: context, channel: channel)
                    do {
                        try await session.run(hello: first)
                    } catch {
                        await lingeringClose(connection.channel, inbound: &session.channel.inbound)
                        throw error
                    }
                } else {
                    // Served on the event loop by the pipeline's PythonSessionHandler from here on.
                    let session = PythonSession(context: context, connection: id, logger: logger)
                    let served = connection.channel.eventLoop.flatSubmit {
                        do {
                            let handler = try connection.channel.pipeline.syncOperations.handler(
                                type: PythonSessionHandler.self
                            )
                            return handler.serve(session, first: first)
                        } catch {
                            return connection.channel.eventLoop.makeFailedFuture(error)
                        }
                    }
                    // Nothing more comes this way, unless a client sent a second request before
                    // the handler took over (Python never does), or an error (an idle timeout).
                    // Either way the session is over only once its waits are: the caller then
                    // returns the connection's leases.
                    do {
                        if try await iterator.next() != nil {
                            logger.warning("closing: a Python client sent a request before the reply to its first")
                            try? await connection.channel.close()
                        }
                    } catch {
                        try? await connection.channel.close()
                        try? await served.get()
                        throw error
                    }
                    try await served.get()
                }
            }
        } catch let error as WireError {
            report(error, host: remote?.ipAddress ?? peer, logger: logger)
        } catch is SessionEnded {
            // The session told the client why before ending.
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
        }

        let returned = context.engine.release(consumer: id)
        if returned > 0 {
            logger.info(
                "connection closed; its leased tasks went back to their queues",
                metadata: ["tasks": "\(returned)"]
            )
        } else {
            logger.info("connection closed")
        }
    }

    /// After refusing a client (its error reply is written), closes our side for writing and
    /// waits briefly for the client to close: closing with its unread bytes still arriving
    /// would make the kernel reset the connection and discard the error reply before the
    /// client reads it.
    private func lingeringClose(
        _ channel: any Channel,
        inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    ) async {
        try? await channel.close(mode: .output)
        let deadline = ContinuousClock.now.advanced(by: .seconds(2))
        let timer = Task {
            try? await Task.sleep(until: deadline)
            try? await channel.close()
        }
        defer { timer.cancel() }
        while (try? await inbound.next()) != nil {}
    }

    private func report(_ error: WireError, host: String, logger: Logger) {
        switch error.code {
        case .authenticationFailed, .peerAuthenticationFailed:
            let verdict = authFailures.record(host: host)
            guard verdict.shouldLog else { return }
            logger.warning(
                "authentication failed: \(error.message)",
                metadata: [
                    "failures_from_address": "\(verdict.fromAddress)",
                    "failures_total": "\(verdict.total)",
                    "not_logged_since_last": "\(verdict.suppressed)",
                ]
            )
        case .handshakeTimeout:
            logger.notice("handshake timed out; connection closed")
        case .connectionClosed:
            logger.debug("connection closed during the handshake")
        default:
            logger.warning("connection closed: \(error.message)")
        }
    }
}
