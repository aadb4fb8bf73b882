import Logging
import NIOCore
import QueueBackend
import TaskMasterStatus
import TaskWire

/// Carries out a ``NativeSession``'s actions on its connection's event loop: frames in, backend
/// calls and writes out. A backend that answers at once (the memory backend) is answered on the
/// same turn of the loop, without a thread hop; answers that come later hop back to the loop.
///
/// Responses written while a read is handled go out with one flush at the end of the read.
/// Reading pauses while the session has too many requests unanswered, and while the connection
/// can take no more answers (its write buffer is past `max_buffered_bytes`): requests that
/// arrive then (the rest of the last read) wait, unparsed, until answers go out, so that a
/// client reading none of its answers can't make the master build more of them (backpressure).
final class NativeSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: NativeSession
    private let services: SessionServices
    private let connection: ConsumerID
    private var logger: Logger
    private var context: ChannelHandlerContext?
    private var isReading = false
    private var needsFlush = false
    private var readHeldBack = false
    private var isClosing = false
    /// Requests that came while the connection could take no more answers, in order.
    private var heldFrames = CircularBuffer<ByteBuffer>()

    init(limits: NativeSession.Limits, services: SessionServices, connection: ConsumerID, logger: Logger) {
        self.session = NativeSession(limits: limits)
        self.services = services
        self.connection = connection
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard heldFrames.isEmpty, context.channel.isWritable else {
            heldFrames.append(frame)
            return
        }
        isReading = true
        run(session.frameReceived(frame))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.fireChannelWritabilityChanged()
        guard context.channel.isWritable else { return }
        // Take up the requests held back, as long as their answers can go out.
        isReading = true
        while context.channel.isWritable, let frame = heldFrames.popFirst() {
            run(session.frameReceived(frame))
        }
        isReading = false
        flushIfNeeded()
        resumeReadingIfRoom()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        isReading = false
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // At once, on this loop: what the connection held goes back before anything that
        // happens after its end (a reconnected client's get, say).
        ReleaseOnClose.release(connection, services: services, logger: logger)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? WireError else {
            logger.debug("connection failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        run(session.errorCaught(error))
        flushIfNeeded()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        // Backpressure: no more requests while too many are unanswered, or while their answers
        // could not go out.
        guard !session.isReadingPaused, !isClosing, heldFrames.isEmpty, context.channel.isWritable else {
            readHeldBack = true
            return
        }
        context.read()
    }

    // MARK: Actions

    private func run(_ action: NativeSession.Action) {
        guard let context else { return }
        switch action {
        case .none:
            break
        case .write(let response):
            context.write(wrapOutboundOut(response), promise: nil)
            needsFlush = true
            if !isReading { flushIfNeeded() }
        case .welcome(let name, let reply):
            services.registry.identify(connection, kind: .native, name: name)
            logger[metadataKey: "client"] = "\(name)"
            logger.info("native client connected")
            run(.write(reply))
        case .perform(let requestID, let call):
            if case .requeueDead(let queue) = call { logMaintenance("requeue_dead", queue) }
            if case .purge(let queue) = call { logMaintenance("purge", queue) }
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            call.start(on: services.backend, consumer: connection) { answer in
                if loop.inEventLoop {
                    bound.value.answered(requestID, answer)
                } else {
                    loop.execute { bound.value.answered(requestID, answer) }
                }
            }
        case .heartbeat(let requestID, let report):
            services.registry.report(connection, report)
            services.backend.extendLeases(of: connection) { _ in }
            run(session.heartbeatRecorded(requestID))
        case .fetchStatus(let requestID):
            let loop = context.eventLoop
            let bound = NIOLoopBound(self, eventLoop: loop)
            let status = services.status
            Task {
                let snapshot = await status.statusSnapshot()
                loop.execute { bound.value.statusFetched(requestID, snapshot) }
            }
        case .refuse(let response, let reason):
            logger.warning("closing: \(reason)")
            isClosing = true
            let written = context.writeAndFlush(wrapOutboundOut(response))
            needsFlush = false
            LingeringClose.begin(context, after: written)
        }
        resumeReadingIfRoom()
    }

    private func answered(_ requestID: RequestID, _ answer: BackendAnswer) {
        run(session.backendAnswered(requestID, answer))
    }

    private func statusFetched(_ requestID: RequestID, _ snapshot: StatusSnapshot) {
        run(session.statusFetched(requestID, snapshot))
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    private func resumeReadingIfRoom() {
        guard readHeldBack, !session.isReadingPaused, !isClosing, heldFrames.isEmpty, let context,
            context.channel.isWritable
        else { return }
        readHeldBack = false
        context.read()
    }

    private func logMaintenance(_ operation: String, _ queue: String) {
        logger.notice("queue maintenance", metadata: ["queue": "\(queue)", "operation": "\(operation)"])
    }
}
