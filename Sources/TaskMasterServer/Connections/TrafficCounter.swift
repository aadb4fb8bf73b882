import NIOCore
import Synchronization

/// Bytes received and sent on every client connection, for the metrics.
final class TrafficCounters: Sendable {
    let received = Atomic<UInt64>(0)
    let sent = Atomic<UInt64>(0)
}

/// Counts the raw bytes that pass, in both directions, and passes them on unchanged.
final class TrafficCountingHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let counters: TrafficCounters

    init(counters: TrafficCounters) {
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        counters.received.wrappingAdd(UInt64(unwrapInboundIn(data).readableBytes), ordering: .relaxed)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        counters.sent.wrappingAdd(UInt64(unwrapOutboundIn(data).readableBytes), ordering: .relaxed)
        context.write(data, promise: promise)
    }
}
