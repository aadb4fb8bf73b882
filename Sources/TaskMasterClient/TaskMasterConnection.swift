import Logging
import NIOCore
import NIOPosix
import Synchronization
import TaskWire

/// A connection to a TaskMaster master: authenticated, and ready for queue requests.
///
/// Requests may be made from many tasks at once; they are pipelined on the one connection and
/// each waits for its own answer. Use ``withConnection(to:port:authKey:name:options:_:)`` so the
/// connection lives for exactly as long as the body:
///
/// ```swift
/// try await TaskMasterConnection.withConnection(to: "10.0.0.5", port: 5000, authKey: key) { master in
///     let ids = try await master.put([NewItem(payload: pickle)], into: "task")
/// }
/// ```
///
/// Answers are matched to their requests on the connection's event loop as they are read. A
/// task that makes many requests one after another answers fastest inside
/// ``onEventLoop(_:)``: it then runs on that loop, and neither a request nor its answer crosses
/// a thread.
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

    private let channel: any Channel
    private let handler: NIOLoopBound<ClientChannelHandler>
    private let handlerContext: NIOLoopBound<ChannelHandlerContext>
    private let ids: RequestIDs
    private let name = Mutex("")
    /// The master's address, for error messages.
    public let master: String
    /// The name the master gave in its hello.
    public var masterName: String { name.withLock { $0 } }
    /// The event loop the connection is served on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    private init(
        channel: any Channel,
        handler: NIOLoopBound<ClientChannelHandler>,
        handlerContext: NIOLoopBound<ChannelHandlerContext>,
        ids: RequestIDs,
        master: String
    ) {
        self.channel = channel
        self.handler = handler
        self.handlerContext = handlerContext
        self.ids = ids
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
        let ids = RequestIDs()
        let connected:
            (
                any Channel, NIOLoopBound<ClientChannelHandler>, NIOLoopBound<ChannelHandlerContext>,
                EventLoopFuture<String>
            )
        do {
            connected = try await ClientBootstrap(group: options.eventLoopGroup)
                .connectTimeout(TimeAmount(options.handshakeTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let tls = options.tls { try pipeline.addHandler(try tls.makeHandler(host: host)) }
                        try pipeline.addHandler(
                            AuthenticatedFramingHandler(
                                role: .client,
                                key: key,
                                maximumFrameLength: options.maxFrameBytes,
                                handshakeTimeout: TimeAmount(options.handshakeTimeout),
                                acceptsLegacyDigests: options.acceptsLegacyDigests
                            )
                        )
                        let hello = channel.eventLoop.makePromise(of: String.self)
                        let handler = ClientChannelHandler(master: master, hello: hello) { ids.next() }
                        try pipeline.addHandler(handler)
                        let context = try pipeline.context(handler: handler)
                        return (
                            channel,
                            NIOLoopBound(handler, eventLoop: channel.eventLoop),
                            NIOLoopBound(context, eventLoop: channel.eventLoop),
                            hello.futureResult
                        )
                    }
                }
        } catch {
            let reason = ErrorReason.connect(error)
            throw ClientError(.connectFailed, "can't connect to \(master): \(reason)", master: master, reason: reason)
        }
        let (channel, handler, context, hello) = connected
        let connection = TaskMasterConnection(
            channel: channel,
            handler: handler,
            handlerContext: context,
            ids: ids,
            master: master
        )
        do {
            // Held by the framing handler until the handshake has succeeded.
            var frame = ByteBuffer()
            Hello(name: name).encode(into: &frame)
            channel.writeAndFlush(ClientOutbound.hello(frame), promise: nil)
            let masterName = try await hello.get()
            connection.name.withLock { $0 = masterName }
        } catch var error as ClientError where error.code != .authenticationFailed && error.code != .serverError {
            // Not ready yet: say it the way a failed connect says it.
            try? await channel.close()
            error.reason = error.reason ?? error.message
            error.message = "can't connect to \(master): \(error.message)"
            throw error
        } catch {
            try? await channel.close()
            throw error
        }
        // Closed, and the close done, before returning: the master sees the end of this
        // connection (and returns what it held) before the caller's next one.
        let result: Result
        do {
            result = try await body(connection)
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
        return result
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { !channel.isActive }

    /// Runs `body` on the connection's event loop (as the preferred executor of its task and
    /// child tasks): requests it makes are written, and their answers resumed, without crossing
    /// a thread.
    public func onEventLoop<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        try await withTaskExecutorPreference(EventLoopTaskExecutor(channel.eventLoop), operation: body)
    }

    /// Ends every get still waiting for items: their callers throw `CancellationError`, and
    /// tasks the master hands them later go back. For a worker that is stopping.
    public func abandonWaitingGets() {
        let (handler, context) = (self.handler, self.handlerContext)
        channel.eventLoop.execute { handler.value.abandonGets(context: context.value) }
    }

    /// Sends a request and waits for its answer. An error answer is thrown as ``ClientError``.
    func send(_ message: ClientMessage) async throws -> ServerMessage {
        let id = ids.next()
        var queueOfGet: String?
        if case .get(let queue, _, _) = message { queueOfGet = queue }
        let request = Request(id: id, message)
        var frame = channel.allocator.buffer(capacity: request.encodedSizeEstimate)
        request.encode(into: &frame)
        let answer = channel.eventLoop.makePromise(of: ServerMessage.self)
        // A request that can't even be written (the connection is gone) is answered with why.
        let master = self.master
        channel.writeAndFlush(
            ClientOutbound.request(ClientRequest(id: id, frame: frame, answer: answer, queueOfGet: queueOfGet))
        ).whenFailure { error in
            answer.fail(
                error as? ClientError
                    ?? ClientError(
                        .connectionClosed,
                        "can't send to the master: \(ErrorReason.transport(error))",
                        master: master
                    )
            )
        }
        let (handler, context) = (self.handler, self.handlerContext)
        let loop = channel.eventLoop
        let message = try await withTaskCancellationHandler {
            try await answer.futureResult.get()
        } onCancel: {
            if loop.inEventLoop {
                handler.value.abandon(id, context: context.value)
            } else {
                loop.execute { handler.value.abandon(id, context: context.value) }
            }
        }
        if case .error(let error) = message {
            throw ClientError(
                .serverError,
                error.message,
                master: master,
                serverCode: error.code,
                acceptedIDs: error.acceptedIDs
            )
        }
        return message
    }
}

/// Request ids of one connection: 1, 2, 3, …, never 0 ("no request").
final class RequestIDs: Sendable {
    private let counter = Atomic<UInt32>(1)

    func next() -> RequestID {
        var id = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        if id == 0 { id = counter.wrappingAdd(1, ordering: .relaxed).oldValue }
        return id
    }
}

/// An event loop as a task executor: a task that prefers it runs its jobs on that loop's thread.
final class EventLoopTaskExecutor: TaskExecutor {
    private let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        eventLoop.execute { job.runSynchronously(on: executor) }
    }
}
