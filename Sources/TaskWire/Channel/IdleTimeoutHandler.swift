import NIOCore

/// Ends a connection that sent nothing for `timeout`: fires ``WireError`` `.idleTimeout` down
/// the pipeline, so the session above can tell the peer why before closing.
public final class IdleTimeoutHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var lastRead: NIODeadline = .now()
    private var check: Scheduled<Void>?
    private var fired = false

    public init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context: context, in: timeout) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        lastRead = .now()
        schedule(context: context, in: timeout)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        context.fireChannelInactive()
    }

    private func schedule(context: ChannelHandlerContext, in delay: TimeAmount) {
        check?.cancel()
        check = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            let idle = NIODeadline.now() - lastRead
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
