import Logging
import NIOCore
import QueueBackend

/// Carries out a ``PythonSession``'s actions on its connection's event loop: frames in, backend
/// calls and replies out. A call the backend answers at once (an item is there, there is room)
/// is answered on the same turn of the loop; one that waits is answered when its answer hops
/// back to the loop.
final class PythonSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session = PythonSession()
    private let services: SessionServices
    private let connection: ConsumerID
    private var logger: Logger
    private var context: ChannelHandlerContext?

    init(services: SessionServices, connection: ConsumerID, logger: Logger) {
        self.services = services
        self.connection = connection
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        services.registry.identify(connection, kind: .python, name: "")
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let objects = services.pythonObjects
        run(session.frameReceived(unwrapInboundIn(data), objects: objects.queue(forIdent:)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        ReleaseOnClose.release(connection, services: services, logger: logger)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Python has no way to hear about a framing error or an idle timeout: close.
        logger.debug("closing: \(error)")
        context.close(promise: nil)
    }

    private func run(_ action: PythonSession.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .reply(let reply):
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        case .deliver(let reply, let task):
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(reply), promise: written)
            settle(task, after: written.futureResult)
        case .replyAndClose(let reply):
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        case .welcome(let name, let reply):
            services.registry.identify(connection, kind: .python, name: name)
            logger.info("Python client connected", metadata: ["process": "\(name)"])
            run(.reply(reply))
        case .serveFunction(let function, let request):
            let outcome = services.pythonObjects.serve(
                function,
                request,
                allowsShutdown: services.allowsRemoteShutdown
            )
            if let notice = outcome.notice { logger.notice("\(notice)") }
            if outcome.stopsMaster { services.requestShutdown() }
            run(.replyAndClose(PythonSession.frame(outcome.reply)))
        case .perform(let call):
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            call.start(on: services.backend, consumer: connection) { answer in
                if loop.inEventLoop {
                    bound.value.answered(answer)
                } else {
                    loop.execute { bound.value.answered(answer) }
                }
            }
        case .close(let reason):
            if let reason { logger.warning("closing: \(reason)") }
            context.close(promise: nil)
        }
    }

    private func answered(_ answer: BackendAnswer) {
        // After the connection closed there is no one to answer; a task handed out meanwhile is
        // leased to the connection, and goes back when the master releases it.
        run(session.backendAnswered(answer))
    }

    /// A delivered task is done once its reply is handed to the socket; back to its queue if
    /// that fails.
    private func settle(_ task: PythonSession.DeliveredTask, after written: EventLoopFuture<Void>) {
        let backend = services.backend
        let consumer = connection
        written.whenComplete { result in
            if case .failure = result {
                backend.nack([task.id], in: task.queue, consumer: consumer) { _ in }
            } else {
                backend.ack([task.id], in: task.queue, consumer: consumer, markDone: false) { _ in }
            }
        }
    }
}
