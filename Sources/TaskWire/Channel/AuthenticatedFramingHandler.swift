import NIOCore

/// Frames a connection and runs the mutual HMAC handshake on it before anything else passes.
///
/// Inbound it takes raw bytes and, once the peer is authenticated, passes on whole frame
/// payloads. Outbound it takes frame payloads, holds them until the handshake has succeeded,
/// and writes them with their length header. All protocol decisions are made by
/// ``FrameDecoder`` and ``HandshakeStateMachine``; this handler only carries out their actions.
///
/// A failed handshake, an oversized or invalid frame, or a handshake timeout is fired down the
/// pipeline as a ``WireError``. During the handshake the connection is closed at once; after it,
/// further input is dropped and the session above closes the connection once it has told the
/// peer why.
public final class AuthenticatedFramingHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Python reads handshake messages with `recv_bytes(256)`; so do we.
    public static let handshakeFrameLimit = 256

    private var decoder = FrameDecoder(maximumFrameLength: AuthenticatedFramingHandler.handshakeFrameLimit)
    private var handshake: HandshakeStateMachine
    private let sessionFrameLimit: Int
    private let handshakeTimeout: TimeAmount
    private let challengeDelay: TimeAmount
    private var timeoutTask: Scheduled<Void>?
    private var delayTask: Scheduled<Void>?
    private var began = false
    /// Between accepting and the delayed challenge.
    private var holdingBack = false
    private var inbound: ByteBuffer?
    private var pendingWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var authenticated = false
    private var closing = false

    /// - Parameters:
    ///   - maximumFrameLength: the frame limit once the peer is authenticated.
    ///   - handshakeTimeout: how long the whole handshake may take.
    ///   - challengeDelay: a pause before the handshake starts, to slow down a peer address
    ///     that keeps failing it.
    public init(
        role: HandshakeStateMachine.Role,
        key: AuthKey,
        maximumFrameLength: Int,
        handshakeTimeout: TimeAmount,
        acceptsLegacyDigests: Bool = true,
        challengeDelay: TimeAmount = .zero
    ) {
        self.challengeDelay = challengeDelay
        self.handshake = HandshakeStateMachine(
            role: role,
            key: key,
            nonce: HandshakeStateMachine.randomNonce(),
            acceptsLegacyDigests: acceptsLegacyDigests
        )
        self.sessionFrameLimit = maximumFrameLength
        self.handshakeTimeout = handshakeTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { begin(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        begin(context: context)
        context.fireChannelActive()
    }

    private func begin(context: ChannelHandlerContext) {
        guard !began, !handshake.isFinished else { return }
        began = true
        guard challengeDelay <= .zero else {
            holdingBack = true
            delayTask = context.eventLoop.assumeIsolated().scheduleTask(in: challengeDelay) { [self] in
                startHandshake(context: context)
            }
            return
        }
        startHandshake(context: context)
    }

    private func startHandshake(context: ChannelHandlerContext) {
        holdingBack = false
        guard !closing else { return }
        let loop = context.eventLoop.assumeIsolated()
        timeoutTask = loop.scheduleTask(in: handshakeTimeout) { [self] in
            run(handshake.timedOut(), context: context)
        }
        run(handshake.start(), context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }  // a failed connection's further bytes are dropped
        var incoming = unwrapInboundIn(data)
        if holdingBack {
            // The peer talks before we even challenged it: not a legitimate client.
            fail(WireError(.handshakeViolation, "the peer sent data before the handshake began"), context: context)
            return
        }
        if inbound == nil {
            inbound = incoming
        } else {
            inbound!.writeBuffer(&incoming)
        }
        decodeFrames(context: context)
    }

    private func decodeFrames(context: ChannelHandlerContext) {
        while !closing, var buffer = inbound {
            inbound = nil  // keep the buffer uniquely referenced while we consume it
            let frame: ByteBuffer?
            do {
                frame = try decoder.decodeFrame(from: &buffer)
            } catch {
                fail(error, context: context)
                return
            }
            inbound = buffer.readableBytes > 0 ? buffer : nil
            if inbound != nil, buffer.readerIndex > 64 * 1024 { inbound!.discardReadBytes() }
            guard let frame else { return }
            if authenticated {
                context.fireChannelRead(wrapInboundOut(frame))
            } else {
                run(handshake.frameReceived(Array(frame.readableBytesView)), context: context)
            }
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if authenticated { context.fireChannelReadComplete() }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timeoutTask?.cancel()
        delayTask?.cancel()
        run(handshake.closed(), context: context)
        failPendingWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let payload = unwrapOutboundIn(data)
        if authenticated {
            writeFrame(payload, context: context, promise: promise)
        } else {
            pendingWrites.append((payload, promise))
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if authenticated { context.flush() }
    }

    private func writeFrame(_ payload: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        // A small frame goes down as one buffer (one write through the pipeline, one iovec);
        // a large one as header plus payload, so the payload is not copied.
        guard payload.readableBytes > Self.copiedPayloadLimit else {
            var frame = context.channel.allocator.buffer(capacity: 4 + payload.readableBytes)
            FrameEncoder.writeHeader(length: payload.readableBytes, into: &frame)
            frame.writeImmutableBuffer(payload)
            context.write(wrapOutboundOut(frame), promise: promise)
            return
        }
        var header = context.channel.allocator.buffer(capacity: 12)
        FrameEncoder.writeHeader(length: payload.readableBytes, into: &header)
        context.write(wrapOutboundOut(header), promise: nil)
        context.write(wrapOutboundOut(payload), promise: promise)
    }

    /// Payloads up to this size are copied behind their header.
    private static let copiedPayloadLimit = 4096

    private func run(_ action: HandshakeStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .send(let bytes):
            writeFrame(ByteBuffer(bytes: bytes), context: context, promise: nil)
            context.flush()
        case .sendAndSucceed(let bytes):
            writeFrame(ByteBuffer(bytes: bytes), context: context, promise: nil)
            succeed(context: context)
        case .succeed:
            succeed(context: context)
        case .sendAndFail(let bytes, let error):
            writeFrame(ByteBuffer(bytes: bytes), context: context, promise: nil)
            fail(error, context: context)
        case .fail(let error):
            fail(error, context: context)
        }
    }

    private func succeed(context: ChannelHandlerContext) {
        timeoutTask?.cancel()
        timeoutTask = nil
        authenticated = true
        decoder.maximumFrameLength = sessionFrameLimit
        let writes = pendingWrites
        pendingWrites = []
        for (payload, promise) in writes {
            writeFrame(payload, context: context, promise: promise)
        }
        context.flush()
        context.fireUserInboundEventTriggered(HandshakeCompleted())
    }

    private func fail(_ error: WireError, context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        timeoutTask?.cancel()
        inbound = nil
        failPendingWrites(error)
        context.fireErrorCaught(error.from(peer: context.channel.remoteAddress?.description))
        // After the handshake the session above may still answer with an error message of its
        // own protocol; it closes the connection when it is done.
        guard !authenticated else { return }
        // Let what was written (a #FAILURE#, say) reach the peer before the socket closes.
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func failPendingWrites(_ error: any Error) {
        let writes = pendingWrites
        pendingWrites = []
        for (_, promise) in writes { promise?.fail(error) }
    }
}

/// Fired down the pipeline once the peer has proven it holds the authkey.
public struct HandshakeCompleted: Sendable, Hashable {}
