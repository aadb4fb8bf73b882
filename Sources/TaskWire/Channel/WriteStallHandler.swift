import NIOCore

/// Closes a connection whose peer stopped reading.
///
/// The channel's write buffer water mark bounds what may wait to be sent to one peer
/// (`max_buffered_bytes`): past the high mark the channel turns unwritable, and the session
/// writing to it waits, reading no more requests. A peer that stays that way for `timeout`
/// (hung, or reading nothing on purpose) is closed, so it holds neither memory nor, once its
/// leases return, tasks. `onStall` is told first, with the error to log.
public final class WriteStallHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let onStall: (WireError) -> Void
    private var deadline: Scheduled<Void>?

    public init(timeout: TimeAmount, onStall: @escaping (WireError) -> Void = { _ in }) {
        self.timeout = timeout
        self.onStall = onStall
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            deadline?.cancel()
            deadline = nil
        } else if deadline == nil {
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                guard !context.channel.isWritable else { return }
                let seconds = Double(timeout.nanoseconds) / 1e9
                onStall(
                    WireError(
                        .writeStalled,
                        "closed: the client read none of the replies waiting for it for \(seconds) s"
                            + " (the master's max_buffered_bytes and stall_timeout)",
                        peer: context.channel.remoteAddress?.description
                    )
                )
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}
