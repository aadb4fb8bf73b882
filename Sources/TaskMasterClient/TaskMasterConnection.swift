import Logging
import NIOCore
import NIOPosix
import Synchronization
import TaskWire

/// A connection to a TaskMaster master: authenticated, and ready for queue requests.
///
/// Requests may be made from many tasks at once; they are pipelined on the one connection and
/// each waits for its own answer. Use ``withConnection(to:port:authKey:name:options:_:)`` so the
/// connection's reader runs for exactly as long as the body:
///
/// ```swift
/// try await TaskMasterConnection.withConnection(to: "10.0.0.5", port: 5000, authKey: key) { master in
///     let ids = try await master.put([NewItem(payload: pickle)], into: "task")
/// }
/// ```
public final class TaskMasterConnection: Sendable {
    /// Connection options, with defaults.
    public struct Options: Sendable {
        /// Largest frame accepted from the master. Default 16 MiB.
        public var maxFrameBytes = 16 << 20
        /// Time for the TCP connect, and separately for the handshake. Default 5 s.
        public var handshakeTimeout: Duration = .seconds(5)
        /// Accept raw HMAC-MD5 answers and challenges (Python 3.11 and older). Default true.
        public var acceptsLegacyDigests = true
        /// TLS towards the master; nil (default) for a plain connection.
        public var tls: ClientTLS?
        public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

        public init() {}
    }

    private struct Pending {
        var waiters: [RequestID: CheckedContinuation<ServerMessage, any Error>] = [:]
        /// Answers that arrived before their request started waiting.
        var early: [RequestID: ServerMessage] = [:]
        /// Requests whose caller was cancelled: their answers are dropped, except that tasks a
        /// cancelled get was handed are given back (nacked) to the queue named here.
        var abandoned: [RequestID: String?] = [:]
        var closedError: ClientError?
        var masterName = ""
    }

    private let pending = Mutex(Pending())
    private let nextID = Atomic<UInt32>(1)
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// The master's address, for error messages.
    public let master: String
    /// The name the master gave in its hello.
    public var masterName: String { pending.withLock { $0.masterName } }

    private init(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, master: String) {
        self.outbound = outbound
        self.master = master
    }

    /// Connects, authenticates, says hello, runs `body`, and closes.
    ///
    /// - Throws: ``ClientError`` `.connectFailed`, `.authenticationFailed` (the authkeys differ),
    ///   `.handshakeFailed`, or whatever `body` throws.
    public static func withConnection<Result: Sendable>(
        to host: String,
        port: Int,
        authKey: [UInt8],
        name: String = "taskmaster-client",
        options: Options = Options(),
        _ body: (TaskMasterConnection) async throws -> Result
    ) async throws -> Result {
        let master = "\(host):\(port)"
        guard let key = AuthKey(bytes: authKey) else {
            throw ClientError(.authenticationFailed, "the authkey is empty", master: master)
        }
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: options.eventLoopGroup)
                .connectTimeout(.nanoseconds(options.handshakeTimeout.nanosecondsValue))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls = options.tls {
                            try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(host: host))
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            AuthenticatedFramingHandler(
                                role: .client,
                                key: key,
                                maximumFrameLength: options.maxFrameBytes,
                                handshakeTimeout: .nanoseconds(options.handshakeTimeout.nanosecondsValue),
                                acceptsLegacyDigests: options.acceptsLegacyDigests
                            )
                        )
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            let reason = ErrorReason.connect(error)
            throw ClientError(.connectFailed, "can't connect to \(master): \(reason)", master: master, reason: reason)
        }

        return try await channel.executeThenClose { inbound, outbound in
            let connection = TaskMasterConnection(outbound: outbound, master: master)
            let (helloReply, helloContinuation) = AsyncThrowingStream<String, any Error>.makeStream()
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await connection.readResponses(inbound, hello: helloContinuation) }
                defer { group.cancelAll() }
                do {
                    try await connection.hello(name: name, reply: helloReply)
                } catch var error as ClientError where error.code != .authenticationFailed && error.code != .serverError
                {
                    // Not ready yet: say it the way a failed connect says it.
                    error.reason = error.reason ?? error.message
                    error.message = "can't connect to \(master): \(error.message)"
                    throw error
                }
                let result = try await body(connection)
                connection.fail(
                    ClientError(.connectionClosed, "the connection was closed by this client", master: master)
                )
                return result
            }
        }
    }

    /// Sends our hello (held by the framing handler until the handshake has succeeded) and
    /// waits for the master's.
    private func hello(name: String, reply: AsyncThrowingStream<String, any Error>) async throws {
        var buffer = ByteBuffer()
        Hello(name: name).encode(into: &buffer)
        do {
            try await outbound.write(buffer)
        } catch {
            // A failed handshake fails the held hello too; the reader knows why (a wrong key).
            do {
                for try await _ in reply { break }
            } catch let reason as ClientError {
                throw reason
            } catch {}
            throw ClientError(.connectionClosed, ErrorReason.transport(error), master: master)
        }
        for try await masterName in reply {
            pending.withLock { $0.masterName = masterName }
            return
        }
        throw ClientError(
            .handshakeFailed,
            "the master closed the connection right after the handshake",
            master: master
        )
    }

    /// Reads the master's hello: its name, or the error it refused us with.
    private func readHello(_ frame: ByteBuffer) throws -> String {
        if !Hello.isHello(frame.readableBytesView), let response = try? Response(decoding: frame),
            case .error(let error) = response.message
        {
            throw ClientError(
                .serverError,
                "the master refused this client: \(error.message)",
                master: master,
                serverCode: error.code
            )
        }
        do {
            return try Hello(decoding: frame).name
        } catch {
            throw ClientError(.protocolViolation, "the master's hello is unreadable: \(error)", master: master)
        }
    }

    /// Delivers every response to the request waiting for it, until the connection ends.
    private func readResponses(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        hello: AsyncThrowingStream<String, any Error>.Continuation
    ) async {
        var closing = ClientError(.connectionClosed, "the master closed the connection", master: master)
        var ready = false
        defer { hello.finish(throwing: closing) }
        do {
            var frames = inbound.makeAsyncIterator()
            guard let first = try await frames.next() else {
                throw ClientError(
                    .handshakeFailed,
                    "the master closed the connection right after the handshake",
                    master: master
                )
            }
            hello.yield(try readHello(first))
            hello.finish()
            ready = true
            while let frame = try await frames.next() {
                let response: Response
                do {
                    response = try Response(decoding: frame)
                } catch {
                    closing = ClientError(.protocolViolation, "unreadable response: \(error)", master: master)
                    break
                }
                enum Route {
                    case waiter(CheckedContinuation<ServerMessage, any Error>)
                    case abandoned(queue: String?)
                    case kept
                }
                let route: Route = pending.withLock { state in
                    if let waiter = state.waiters.removeValue(forKey: response.requestID) { return .waiter(waiter) }
                    if let queue = state.abandoned.removeValue(forKey: response.requestID) {
                        return .abandoned(queue: queue)
                    }
                    if response.requestID != 0 { state.early[response.requestID] = response.message }
                    return .kept
                }
                if case .waiter(let waiter) = route {
                    waiter.resume(returning: response.message)
                } else if case .abandoned(let queue) = route {
                    await giveBack(response.message, to: queue)
                } else if response.requestID == 0, case .error(let error) = response.message {
                    // An error for no request in particular: the master is closing this connection.
                    closing = ClientError(
                        .serverError,
                        "the master closed the connection: \(error.message)",
                        master: master,
                        serverCode: error.code
                    )
                }
            }
        } catch let error as WireError {
            closing = ClientError(error, master: master)
        } catch let error as ClientError {
            closing = error
        } catch {
            // Before the hello this is a connect that failed (TLS, say): the reason alone.
            let reason = ErrorReason.transport(error)
            closing = ClientError(
                .connectionClosed,
                ready ? "the connection to the master failed: \(reason)" : reason,
                master: master,
                reason: reason
            )
        }
        fail(closing)
    }

    /// Fails every outstanding and future request with `error`.
    private func fail(_ error: ClientError) {
        let waiters = pending.withLock { state in
            if state.closedError == nil { state.closedError = error }
            let waiters = state.waiters
            state.waiters = [:]
            return waiters
        }
        for waiter in waiters.values { waiter.resume(throwing: error) }
    }

    /// Returns tasks a cancelled get was handed, so they don't sit leased until the connection
    /// closes.
    private func giveBack(_ message: ServerMessage, to queue: String?) async {
        guard let queue, case .deliveries(let deliveries) = message, !deliveries.isEmpty else { return }
        await sendWithoutWaiting(.nack(queue: queue, ids: deliveries.map(\.id)))
    }

    /// Sends a request whose answer nobody waits for.
    private func sendWithoutWaiting(_ message: ClientMessage) async {
        let id = makeRequestID()
        pending.withLock { _ = $0.abandoned.updateValue(nil, forKey: id) }
        var buffer = ByteBuffer()
        Request(id: id, message).encode(into: &buffer)
        try? await outbound.write(buffer)
    }

    private func makeRequestID() -> RequestID {
        var next = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        if next == 0 { next = nextID.wrappingAdd(1, ordering: .relaxed).oldValue }  // 0 is "no request"
        return next
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { pending.withLock { $0.closedError != nil } }

    /// Sends a request and waits for its answer. An error answer is thrown as ``ClientError``.
    func send(_ message: ClientMessage) async throws -> ServerMessage {
        let id = makeRequestID()
        var queueOfGet: String?
        if case .get(let queue, _, _) = message { queueOfGet = queue }
        let getQueue = queueOfGet
        var buffer = ByteBuffer()
        Request(id: id, message).encode(into: &buffer)
        if let error = pending.withLock({ $0.closedError }) { throw error }
        do {
            try await outbound.write(buffer)
        } catch {
            throw ClientError(
                .connectionClosed,
                "can't send to the master: \(ErrorReason.transport(error))",
                master: master
            )
        }
        // The answer may already be here: the reader keeps it until we ask.
        let answer = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ServerMessage, any Error>) in
                let now: Result<ServerMessage, any Error>? = pending.withLock { state in
                    if let early = state.early.removeValue(forKey: id) { return .success(early) }
                    if let error = state.closedError { return .failure(error) }
                    if Task.isCancelled {
                        state.abandoned[id] = getQueue
                        return .failure(CancellationError())
                    }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let (waiter, early): (CheckedContinuation<ServerMessage, any Error>?, ServerMessage?) = pending.withLock {
                state in
                if let waiter = state.waiters.removeValue(forKey: id) {
                    state.abandoned[id] = getQueue
                    return (waiter, nil)
                }
                if let early = state.early.removeValue(forKey: id) { return (nil, early) }
                state.abandoned[id] = getQueue
                return (nil, nil)
            }
            waiter?.resume(throwing: CancellationError())
            if let early { Task { await self.giveBack(early, to: getQueue) } }
        }
        if case .error(let error) = answer {
            throw ClientError(
                .serverError,
                error.message,
                master: master,
                serverCode: error.code,
                acceptedIDs: error.acceptedIDs
            )
        }
        return answer
    }
}

extension Duration {
    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
