import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Serves one HTTP/1.1 connection: requests one at a time in order (NIO's pipelining handler
/// holds back the next one), keep-alive, every response with `Content-Length`.
struct HTTPConnection {
    /// Largest request body read; a bigger one gets `413` and the connection is closed. The
    /// endpoint only serves GET, so any body is refused at a small size.
    static let maxRequestBodyBytes = 16 * 1024

    /// Limits of the request head, checked by NIO's decoder as bytes arrive (a request over
    /// them gets `400` and a close).
    static let headLimits: NIOHTTPDecoderLimitConfiguration = {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = 16 * 1024
        limits.maxHeaderListSize = 32 * 1024
        limits.maxHeaderFieldCount = 100
        return limits
    }()

    let routes: AdminRoutes
    let connections: OpenConnections
    let logger: Logger

    func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var bodyBytes = 0
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        bodyBytes = 0
                        connections.setBusy(connection.channel, true)
                    case .body(let chunk):
                        bodyBytes += chunk.readableBytes
                        if bodyBytes > Self.maxRequestBodyBytes, let request = head {
                            // Answer now and close, rather than read on through an unbounded body.
                            let response = AdminResponse.text(.payloadTooLarge, "request body too large\n")
                            try await outbound.write(contentsOf: Self.parts(response, for: request, keepAlive: false))
                            await Self.finishOutput(connection.channel)
                            return
                        }
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let response = await routes.respond(method: request.method, uri: request.uri)
                        let keepAlive = request.isKeepAlive
                        try await outbound.write(contentsOf: Self.parts(response, for: request, keepAlive: keepAlive))
                        if !keepAlive {
                            await Self.finishOutput(connection.channel)
                            return
                        }
                        connections.setBusy(connection.channel, false)
                    }
                }
            }
        } catch {
            logger.debug("admin connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    /// Closes the sending side once everything written has gone out; the full close that
    /// follows would otherwise drop a response still waiting for the socket.
    private static func finishOutput(_ channel: any Channel) async {
        try? await channel.close(mode: .output)
    }

    static func parts(
        _ response: AdminResponse,
        for request: HTTPRequestHead,
        keepAlive: Bool
    ) -> [HTTPServerResponsePart] {
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
        if !keepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if request.version == .http1_0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: request.version, status: response.status, headers: headers)
        var parts: [HTTPServerResponsePart] = [.head(head)]
        // A HEAD response has the GET response's headers, Content-Length included, but no body.
        if request.method != .HEAD, response.body.readableBytes > 0 {
            parts.append(.body(.byteBuffer(response.body)))
        }
        parts.append(.end(nil))
        return parts
    }
}

/// Closes a connection on `IdleStateHandler`'s event, so idle keep-alive connections and
/// half-sent requests don't stay open forever.
final class IdleCloseHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// The admin port's open connections: at most `limit`; when full, a new connection takes the
/// place of the one idle longest (between requests), so idle keep-alive connections can't
/// hold every slot; and at shutdown each is asked to close after its current request.
final class OpenConnections: Sendable {
    private struct Entry {
        var channel: any Channel
        var busy = false
        var idleSince: ContinuousClock.Instant
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var isQuiescing = false
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Adds `channel`, closing the connection idle longest if the limit is reached; false if
    /// every connection is busy or shutdown has begun (the caller closes `channel`).
    func insert(_ channel: any Channel, now: ContinuousClock.Instant = .now) -> Bool {
        let (admitted, evicted): (Bool, (any Channel)?) = state.withLock { state in
            guard !state.isQuiescing else { return (false, nil) }
            var evicted: (any Channel)?
            if state.entries.count >= limit {
                guard
                    let idlest = state.entries.filter({ !$0.value.busy }).min(by: {
                        $0.value.idleSince < $1.value.idleSince
                    })
                else { return (false, nil) }
                evicted = idlest.value.channel
                state.entries[idlest.key] = nil
            }
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, idleSince: now)
            return (true, evicted)
        }
        evicted?.close(promise: nil)
        return admitted
    }

    /// Marks a connection as answering a request (busy) or waiting for the next one.
    func setBusy(_ channel: any Channel, _ busy: Bool) {
        state.withLock { state in
            let key = ObjectIdentifier(channel)
            state.entries[key]?.busy = busy
            if !busy { state.entries[key]?.idleSince = .now }
        }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Refuses new connections and asks each open one to close once its current request (if
    /// any) is answered: NIO's HTTP pipelining handler acts on `ChannelShouldQuiesceEvent`.
    func quiesceAll() {
        let channels = state.withLock { state in
            state.isQuiescing = true
            return state.entries.values.map(\.channel)
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }
}
