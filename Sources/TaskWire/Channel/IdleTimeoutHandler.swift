import NIOCore

/// Ends an authenticated connection that sent nothing for `timeout`: fires ``WireError``
/// `.idleTimeout` down the pipeline, so the session above can tell the peer why before closing.
///
/// It counts from the end of the handshake (``AuthenticatedFramingHandler`` sends
/// ``HandshakeCompleted`` outbound, past this handler): the handshake has its own timeout, and
/// a client slow between handshake frames must not be closed as idle, unanswered, with a
/// request already on its way. Any bytes read count as activity, so a large frame arriving
/// slowly keeps its connection.
public final class IdleTimeoutHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    /// When the peer last sent anything; nil until the handshake ends (the timer is off).
    private var lastRead: NIODeadline?
    private var check: Scheduled<Void>?
    private var fired = false

    public init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lastRead != nil { lastRead = context.eventLoop.now }
        context.fireChannelRead(data)
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if event is HandshakeCompleted, lastRead == nil {
            lastRead = context.eventLoop.now
            schedule(context: context, in: timeout)
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
    }

    private func schedule(context: ChannelHandlerContext, in delay: TimeAmount) {
        check?.cancel()
        check = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard let lastRead else { return }  // scheduled only once armed
            let idle = context.eventLoop.now - lastRead
            guard idle >= timeout else {
                schedule(context: context, in: timeout - idle)
                return
            }
            guard !fired else { return }
            fired = true
            let seconds = timeout.nanoseconds / 1_000_000_000
            context.fireErrorCaught(
                WireError(
                    .idleTimeout,
                    "closed after \(seconds) s without a request (the master's idle_timeout); workers send heartbeats to stay connected"
                )
            )
        }
    }
}
