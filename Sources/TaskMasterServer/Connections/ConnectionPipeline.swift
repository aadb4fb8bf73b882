import Logging
import NIOCore
import NIOSSL
import QueueBackend
import TaskMasterConfiguration
import TaskWire

/// An accepted connection, as the accept loop sees it.
struct AcceptedConnection: Sendable {
    /// The connection's id (its consumer id for leases); nil if it was refused.
    var id: UInt64?
    var channel: any Channel
    /// `address:port` of the peer.
    var peer: String
}

/// Builds each connection's pipeline, on its event loop, in this order:
///
/// ```
/// TrafficCountingHandler          bytes in and out, for the metrics
/// NIOSSLServerHandler             with TLS
/// WriteStallHandler               closes a client that stops reading its replies
/// IdleTimeoutHandler              with an idle timeout, counted from the handshake's end
/// AuthenticatedFramingHandler     framing and the mutual HMAC handshake
/// ProtocolNegotiationHandler      the first frame decides: it puts the session handler in
///                                 its place (NativeSessionHandler or PythonSessionHandler)
/// ```
///
/// A connection the registry does not admit (the connection limits) is closed at once.
struct ConnectionPipeline: Sendable {
    let configuration: MasterConfiguration
    let key: AuthKey
    let tls: NIOSSLContext?
    let traffic: TrafficCounters
    let authFailures: AuthFailureTracker
    let registry: ConnectionRegistry
    let services: SessionServices
    let throttle: LogThrottle
    let logger: Logger

    /// How long a handshake may take while the unauthenticated table is more than half full.
    static let handshakeTimeoutUnderPressure: Duration = .seconds(1)

    func configure(_ channel: any Channel) throws -> AcceptedConnection {
        let remote = channel.remoteAddress
        let peer = remote?.displayString ?? "unknown"
        let host = remote?.ipAddress ?? peer
        let admitted = registry.admit(channel: channel, address: peer, host: host)
        guard case .success(let id) = admitted else {
            if case .failure(let refusal) = admitted { logRefusal(refusal, peer: peer) }
            channel.close(promise: nil)
            return AcceptedConnection(id: nil, channel: channel, peer: peer)
        }
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer)"
        logger[metadataKey: "conn"] = "\(id)"
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(TrafficCountingHandler(counters: traffic))
        if let tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls)) }
        let throttle = self.throttle
        let stalledLogger = logger
        try pipeline.addHandler(
            WriteStallHandler(timeout: TimeAmount(configuration.stallTimeout)) { error in
                let (log, suppressed) = throttle.admit("write stalled")
                if log {
                    stalledLogger.warning("\(error.message)", metadata: ["not_logged_since_last": "\(suppressed)"])
                }
            }
        )
        if let idle = configuration.idleTimeout {
            try pipeline.addHandler(IdleTimeoutHandler(timeout: TimeAmount(idle)))
        }
        let challengeDelay = authFailures.challengeDelay(for: host)
        // Under pressure a handshake gets less time, unless its address is trusted (passed one
        // lately): a loaded master may take longer than that to read a good client's answer.
        let handshakeTimeout =
            registry.isUnderPressure && !registry.isTrusted(host)
            ? min(configuration.handshakeTimeout, Self.handshakeTimeoutUnderPressure) : configuration.handshakeTimeout
        try pipeline.addHandler(
            AuthenticatedFramingHandler(
                role: .server,
                key: key,
                maximumFrameLength: configuration.maxFrameBytes,
                handshakeTimeout: TimeAmount(handshakeTimeout),
                acceptsLegacyDigests: configuration.acceptLegacyDigests,
                challengeDelay: TimeAmount(challengeDelay)
            )
        )
        let services = self.services
        let limits = NativeSession.Limits(
            maxItemsPerRequest: configuration.maxItemsPerRequest,
            maxWaitingCalls: configuration.maxWaitingRequests,
            maxOutstanding: configuration.maxWaitingRequests * 4,
            maxRefusals: 100
        )
        let registry = self.registry
        let authFailures = self.authFailures
        let report = self.reportHandshakeFailure
        try pipeline.addHandler(
            ProtocolNegotiationHandler(
                makeSession: { clientProtocol in
                    switch clientProtocol {
                    case .native:
                        return NativeSessionHandler(limits: limits, services: services, connection: id, logger: logger)
                    case .python:
                        return PythonSessionHandler(services: services, connection: id, logger: logger)
                    }
                },
                onAuthenticated: {
                    registry.authenticated(id)
                    authFailures.succeeded(host: host)
                },
                onHandshakeFailure: { report($0, host, logger) }
            )
        )
        return AcceptedConnection(id: id, channel: channel, peer: peer)
    }

    private func logRefusal(_ refusal: ConnectionRegistry.Refusal, peer: String) {
        let key: String
        let message: String
        switch refusal {
        case .full:
            key = "refused: full"
            message = "refusing connections: max_connections or max_unauthenticated reached"
        case .tooManyFromAddress:
            key = "refused: address"
            message = "refusing connections from an address with too many handshakes in progress"
        case .stopping:
            return
        }
        let (log, suppressed) = throttle.admit(key)
        guard log else { return }
        logger.warning(
            "\(message)",
            metadata: [
                "peer": "\(peer)", "max_connections": "\(registry.limits.maxConnections)",
                "max_unauthenticated": "\(registry.limits.maxUnauthenticated)",
                "not_logged_since_last": "\(suppressed)",
            ]
        )
    }

    private func reportHandshakeFailure(_ error: WireError, host: String, logger: Logger) {
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
        case .connectionClosed:
            logger.debug("connection closed during the handshake")
        case .idleTimeout:
            logger.debug("closed: idle before its first request")
        default:
            let (log, suppressed) = throttle.admit("handshake: \(error.code)")
            guard log else { return }
            logger.notice("handshake failed: \(error.message)", metadata: ["not_logged_since_last": "\(suppressed)"])
        }
    }
}
