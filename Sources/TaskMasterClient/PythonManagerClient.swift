import ManagerWire
import NIOCore
import NIOPosix
import Pickle
import TaskWire

/// A client of a Python `multiprocessing.managers` server (a `BaseManager`), speaking the
/// requests a Python client makes: one-shot connections for server functions (`dummy`,
/// `create`, `decref`) and proxy connections for method calls.
public struct PythonManagerClient: Sendable {
    public let host: String
    public let port: Int
    private let key: AuthKey
    private let options: TaskMasterConnection.Options

    /// - Throws: ``ClientError`` `.authenticationFailed` for an empty key.
    public init(host: String, port: Int, authKey: [UInt8], options: TaskMasterConnection.Options = .init()) throws {
        guard let key = AuthKey(bytes: authKey) else {
            throw ClientError(.authenticationFailed, "the authkey is empty", master: "\(host):\(port)")
        }
        self.host = host
        self.port = port
        self.key = key
        self.options = options
    }

    var master: String { "\(host):\(port)" }

    /// `BaseManager.connect()`: checks the server answers.
    public func connect() async throws {
        _ = try await oneShot(ManagerRequest(ident: nil, method: ServerFunction.dummy.rawValue))
    }

    /// `create(typeid)`: the object id of the server's object for `typeID` (e.g. `get_task_queue`).
    /// The reference `create` takes is kept for the life of this client (no incref/decref dance).
    public func create(_ typeID: String) async throws -> String {
        let value = try await oneShot(
            ManagerRequest(ident: nil, method: ServerFunction.create.rawValue, arguments: [.string(typeID)])
        )
        guard let fields = value.elements(of: value.root), let ident = fields.first.flatMap(value.stringValue(of:))
        else {
            throw ClientError(
                .protocolViolation,
                "create(\(typeID)) answered \(value.typeName), not (ident, exposed)",
                master: master
            )
        }
        return ident
    }

    /// `decref(ident)`: gives back the reference `create` took.
    public func decref(_ ident: String) async throws {
        _ = try await oneShot(
            ManagerRequest(ident: nil, method: ServerFunction.decref.rawValue, arguments: [.string(ident)])
        )
    }

    /// Opens a proxy connection (`accept_connection`) and runs `body` with it.
    public func withProxyConnection<Result: Sendable>(
        name: String = "MainProcess",
        _ body: (ProxyConnection) async throws -> Result
    ) async throws -> Result {
        try await withChannel { inbound, outbound in
            let proxy = ProxyConnection(inbound: inbound, outbound: outbound, master: master)
            let reply = try await proxy.send(
                ManagerRequest(ident: nil, method: ServerFunction.acceptConnection.rawValue, arguments: [.string(name)])
            )
            guard case .returned = reply else { throw proxy.failure(reply, of: "accept_connection") }
            return try await body(proxy)
        }
    }

    /// One request on its own connection, as Python's `dispatch()` does. Returns the value of a
    /// `#RETURN`, throws for anything else.
    private func oneShot(_ request: ManagerRequest) async throws -> PickleGraph {
        try await withChannel { inbound, outbound in
            let connection = ProxyConnection(inbound: inbound, outbound: outbound, master: master)
            let reply = try await connection.send(request)
            guard case .returned(let value) = reply else { throw connection.failure(reply, of: request.method) }
            return value
        }
    }

    private func withChannel<Result: Sendable>(
        _ body: (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws
            -> Result
    ) async throws -> Result {
        let (key, options) = (self.key, self.options)
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: options.eventLoopGroup)
                .connectTimeout(TimeAmount(options.handshakeTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            AuthenticatedFramingHandler(
                                role: .client,
                                key: key,
                                maximumFrameLength: options.maxFrameBytes,
                                handshakeTimeout: TimeAmount(options.handshakeTimeout),
                                acceptsLegacyDigests: options.acceptsLegacyDigests
                            )
                        )
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            let reason = ErrorReason.connect(error)
            throw ClientError(
                .connectFailed,
                "can't connect to the Python manager at \(master): \(reason)",
                master: master,
                reason: reason
            )
        }
        do {
            return try await channel.executeThenClose { inbound, outbound in try await body(inbound, outbound) }
        } catch let error as WireError {
            throw ClientError(error, master: master)
        }
    }
}

/// A proxy connection to a Python manager: one request at a time, one reply each.
/// Used by one task at a time, as Python uses one per thread.
public final class ProxyConnection {
    private var frames: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// The manager's address, for messages.
    public let master: String

    init(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        master: String
    ) {
        self.frames = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.master = master
    }

    /// Calls `method` on the object `ident` and returns the reply as it came.
    public func call(
        _ ident: String,
        _ method: String,
        _ arguments: [PickleGraph] = [],
        keywords: [ManagerRequest.Keyword] = []
    ) async throws -> ManagerReply {
        try await send(ManagerRequest(ident: ident, method: method, arguments: arguments, keywords: keywords))
    }

    func send(_ request: ManagerRequest) async throws -> ManagerReply {
        let payload: [UInt8]
        do {
            payload = try request.encoded()
        } catch {
            throw ClientError(.protocolViolation, "can't pickle the request: \(error)", master: master)
        }
        do {
            try await outbound.write(ByteBuffer(bytes: payload))
        } catch {
            throw ClientError(
                .connectionClosed,
                "can't send to the Python manager: \(ErrorReason.transport(error))",
                master: master
            )
        }
        let next: ByteBuffer?
        do {
            next = try await frames.next()
        } catch let error as WireError {
            throw ClientError(error, master: master)
        } catch {
            throw ClientError(
                .connectionClosed,
                "the connection to the Python manager failed: \(ErrorReason.transport(error))",
                master: master
            )
        }
        guard let frame = next else {
            throw ClientError(.connectionClosed, "the Python manager closed the connection", master: master)
        }
        do {
            return try ManagerReply(decoding: Array(frame.readableBytesView))
        } catch {
            throw ClientError(.protocolViolation, "unreadable reply from the Python manager: \(error)", master: master)
        }
    }

    func failure(_ reply: ManagerReply, of method: String) -> ClientError {
        switch reply {
        case .traceback(let text), .unserializable(let text):
            // A traceback's last line names the exception; the rest is the manager's stack.
            let last = text.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }
            let exception = ErrorReason.oneLine(last.map(String.init) ?? "no details")
            return ClientError(.serverError, "\(method) failed on the Python manager: \(exception)", master: master)
        case .error(let exception):
            return ClientError(
                .serverError,
                "\(method) raised \(exception.typeName) on the Python manager",
                master: master
            )
        default:
            return ClientError(.protocolViolation, "unexpected reply to \(method)", master: master)
        }
    }
}
