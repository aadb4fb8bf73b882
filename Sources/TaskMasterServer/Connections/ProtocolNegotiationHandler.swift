import NIOCore
import TaskWire

/// The two protocols the master's port speaks after the handshake.
enum ClientProtocol: Sendable, Hashable {
    /// TaskMaster's own: the first frame is a `TMQP` hello.
    case native
    /// Python's `multiprocessing.managers`: the first frame is a pickled request.
    case python

    /// Which protocol a connection speaks, decided once by its first frame.
    init(firstFrame: ByteBuffer) {
        self = Hello.isHello(firstFrame.readableBytesView) ? .native : .python
    }
}

/// Decides a connection's protocol once, by its first frame after the handshake, and hands the
/// connection to that protocol's session handler: it puts the session handler in its place and
/// leaves the pipeline, so nothing of the other protocol stays in it (as NIO's
/// `NIOTypedApplicationProtocolNegotiationHandler` does for ALPN).
///
/// Until then it also hears how the handshake went: success marks the connection
/// authenticated; a failure, or any other error before the first frame (an idle timeout), is
/// reported and ends the connection.
final class ProtocolNegotiationHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let makeSession: (ClientProtocol) -> any ChannelHandler
    private let onAuthenticated: () -> Void
    private let onHandshakeFailure: (WireError) -> Void
    private var negotiated: EventLoopPromise<ClientProtocol>?
    private var isAuthenticated = false

    /// - Parameters:
    ///   - makeSession: the session handler for the protocol.
    ///   - onAuthenticated: called when the handshake succeeds.
    ///   - onHandshakeFailure: called with why the handshake failed (the framing handler below
    ///     closes the connection).
    init(
        makeSession: @escaping (ClientProtocol) -> any ChannelHandler,
        onAuthenticated: @escaping () -> Void,
        onHandshakeFailure: @escaping (WireError) -> Void
    ) {
        self.makeSession = makeSession
        self.onAuthenticated = onAuthenticated
        self.onHandshakeFailure = onHandshakeFailure
    }

    /// The protocol, once decided; fails if the connection closes first.
    func protocolNegotiated(on loop: any EventLoop) -> EventLoopFuture<ClientProtocol> {
        if let negotiated { return negotiated.futureResult }
        let promise = loop.makePromise(of: ClientProtocol.self)
        negotiated = promise
        return promise.futureResult
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if negotiated == nil { negotiated = context.eventLoop.makePromise() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let clientProtocol = ClientProtocol(firstFrame: unwrapInboundIn(data))
        do {
            try context.pipeline.syncOperations.addHandler(makeSession(clientProtocol), position: .after(self))
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        negotiated?.succeed(clientProtocol)
        // The first frame goes to the session, and everything after it straight there.
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is HandshakeCompleted {
            isAuthenticated = true
            onAuthenticated()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let wireError = error as? WireError
        if let wireError { onHandshakeFailure(wireError) }
        // A failed handshake is closed by the framing handler, once its #FAILURE# is out.
        // Anything else before the first frame (an idle timeout, a bad frame after the
        // handshake) has no session to tell the peer: the connection ends here.
        if isAuthenticated || wireError?.code == .idleTimeout || wireError == nil {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        negotiated?.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        negotiated?.fail(ChannelError.inappropriateOperationForState)
    }
}
