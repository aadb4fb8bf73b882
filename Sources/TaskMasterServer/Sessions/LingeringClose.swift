import NIOCore

/// Closing after refusing a client, so that it can read why.
///
/// Once the error reply is written, our side closes for writing and the connection stays open
/// (input dropped) until the client closes, at most ``limit``: closing at once with the client's
/// unread bytes still arriving would make the kernel reset the connection and discard the
/// reply before the client reads it.
enum LingeringClose {
    /// How long the client gets to close after it was refused.
    static let limit: TimeAmount = .seconds(2)

    /// Starts it: our side closes for writing once `written`, the reply, is out.
    static func begin(_ context: ChannelHandlerContext, after written: EventLoopFuture<Void>) {
        let channel = context.channel
        // Half-closed only once the reply is out, so the close never overtakes it, whatever the
        // handlers below do with writes (the socket channel itself already waits for its own).
        written.whenComplete { _ in channel.close(mode: .output, promise: nil) }
        channel.eventLoop.scheduleTask(in: limit) { channel.close(promise: nil) }
    }
}
