import NIOCore
import TaskQueue

/// Serves a Python client on its connection's event loop: frames in, ``PythonSession`` decides,
/// ``run(_:context:)`` carries the action out. No task per request: only a call that has to wait
/// leaves the event loop, and its answer comes back to it.
///
/// Sits in every connection's pipeline and passes frames on untouched until
/// ``serve(_:first:)`` hands it a Python session (a native client's frames go to its session).
final class PythonSessionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: PythonSession?
    private var context: ChannelHandlerContext?
    private var isActive = true
    /// The wait in progress, cancelled if the connection closes.
    private var waiting: Task<Void, Never>?
    /// Succeeded once the connection is closed and no wait is left running.
    private var ended: EventLoopPromise<Void>?

    init() {}

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Takes the connection over for a Python client whose first request is `first`. Call on
    /// the event loop. The future succeeds once the connection has closed and nothing of the
    /// session is left running (the caller may then return the connection's leases).
    func serve(_ session: PythonSession, first: ByteBuffer) -> EventLoopFuture<Void> {
        guard let context else { preconditionFailure("PythonSessionHandler is not in a pipeline") }
        let ended = context.eventLoop.makePromise(of: Void.self)
        self.ended = ended
        self.session = session
        if isActive {
            frameReceived(first, context: context)
        } else {
            finishIfDone()
        }
        return ended.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard session != nil else {
            context.fireChannelRead(data)
            return
        }
        frameReceived(unwrapInboundIn(data), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        waiting?.cancel()
        finishIfDone()
        context.fireChannelInactive()
    }

    private func frameReceived(_ frame: ByteBuffer, context: ChannelHandlerContext) {
        guard let action = session?.frameReceived(frame) else { return }
        run(action, context: context)
    }

    private func run(_ action: PythonSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .reply(let reply):
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        case .deliver(let reply, let task):
            let written = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(reply), promise: written)
            settle(task, after: written.futureResult)
        case .replyAndClose(let reply):
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in bound.value.close(promise: nil) }
        case .wait(let work):
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            waiting = Task {
                let outcome = await work()
                handler.eventLoop.execute { handler.value.waitEnded(outcome) }
            }
        case .close:
            context.close(promise: nil)
        }
    }

    private func waitEnded(_ outcome: PythonSession.WaitOutcome) {
        waiting = nil
        guard isActive, let context else {
            // The client left while its call waited: a task handed to it goes back.
            if case .deliver(_, let task) = outcome { giveBack(task) }
            finishIfDone()
            return
        }
        if let action = session?.waitEnded(outcome) { run(action, context: context) }
    }

    /// A delivered task is done once its reply is handed to the socket; back to its queue if
    /// that fails.
    private func settle(_ task: PythonSession.DeliveredTask, after written: EventLoopFuture<Void>) {
        guard let session else { return }
        let engine = session.context.engine
        let consumer = session.connection
        written.whenComplete { result in
            let requeue: Bool
            if case .failure = result { requeue = true } else { requeue = false }
            engine.settleNow([task.id], in: task.queue, consumer: consumer, requeue: requeue, markDone: false)
        }
    }

    private func giveBack(_ task: PythonSession.DeliveredTask) {
        guard let session else { return }
        session.context.engine.settleNow([task.id], in: task.queue, consumer: session.connection, requeue: true)
    }

    private func finishIfDone() {
        guard !isActive, waiting == nil, let ended else { return }
        self.ended = nil
        ended.succeed()
    }
}
