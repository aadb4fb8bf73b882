import NIOCore

/// Frames a connection and runs the mutual HMAC handshake on it before anything else passes.
///
/// Inbound it takes raw bytes and, once the peer is authenticated, passes on whole frame
/// payloads. Outbound it takes frame payloads, holds them until the handshake has succeeded,
/// and writes them with their length header. Every decision is made by
/// ``ConnectionStateMachine`` (with ``FrameDecoder`` splitting the bytes); this handler only
/// carries out its actions, in ``run(_:context:)``.
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
    public static let handshakeFrameLimit = ConnectionStateMachine.handshakeFrameLimit

    private var machine: ConnectionStateMachine
    private var decoder = FrameDecoder(maximumFrameLength: ConnectionStateMachine.handshakeFrameLimit)
    private let handshakeTimeout: TimeAmount
    private let challengeDelay: TimeAmount
    private var timeoutTask: Scheduled<Void>?
    private var delayTask: Scheduled<Void>?
    private var inbound: ByteBuffer?
    private var heldWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []

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
        self.machine = ConnectionStateMachine(
            handshake: HandshakeStateMachine(
                role: role,
                key: key,
                nonce: HandshakeStateMachine.randomNonce(),
                acceptsLegacyDigests: acceptsLegacyDigests
            ),
            sessionFrameLimit: maximumFrameLength
        )
        self.handshakeTimeout = handshakeTimeout
        self.challengeDelay = challengeDelay
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { run(machine.channelActive(challengeDelay: challengeDelay), context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        run(machine.channelActive(challengeDelay: challengeDelay), context: context)
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !machine.hasFailed else { return }  // a failed connection's further bytes are dropped
        var incoming = unwrapInboundIn(data)
        run(machine.bytesReceived(), context: context)
        if inbound == nil {
            inbound = incoming
        } else {
            inbound!.writeBuffer(&incoming)
        }
        decodeFrames(context: context)
    }

    private func decodeFrames(context: ChannelHandlerContext) {
        while !machine.hasFailed, var buffer = inbound {
            inbound = nil  // keep the buffer uniquely referenced while we consume it
            decoder.maximumFrameLength = machine.maximumFrameLength
            let frame: ByteBuffer?
            do {
                frame = try decoder.decodeFrame(from: &buffer)
            } catch {
                run(machine.decodingFailed(error), context: context)
                return
            }
            inbound = buffer.readableBytes > 0 ? buffer : nil
            if inbound != nil, buffer.readerIndex > 64 * 1024 { inbound!.discardReadBytes() }
            guard let frame else { return }
            run(machine.frameReceived(frame), context: context)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if machine.isAuthenticated { context.fireChannelReadComplete() }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timeoutTask?.cancel()
        delayTask?.cancel()
        run(machine.channelInactive(), context: context)
        failHeldWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let payload = unwrapOutboundIn(data)
        switch machine.writeRequested() {
        case .write: writeFrame(payload, context: context, promise: promise)
        case .hold: heldWrites.append((payload, promise))
        case .refuse: promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        if machine.writeRequested() == .write { context.flush() }
    }

    // MARK: Actions

    private func run(_ action: ConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .delayChallenge(let delay):
            delayTask = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
                run(machine.challengeDelayElapsed(), context: context)
            }
        case .beginHandshake(let send):
            timeoutTask = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [self] in
                run(machine.timedOut(), context: context)
            }
            if let send {
                writeFrame(ByteBuffer(bytes: send), context: context, promise: nil)
                context.flush()
            }
        case .send(let bytes):
            writeFrame(ByteBuffer(bytes: bytes), context: context, promise: nil)
            context.flush()
        case .succeed(let send):
            timeoutTask?.cancel()
            timeoutTask = nil
            if let send { writeFrame(ByteBuffer(bytes: send), context: context, promise: nil) }
            let writes = heldWrites
            heldWrites = []
            for (payload, promise) in writes {
                writeFrame(payload, context: context, promise: promise)
            }
            context.flush()
            // Both ways: the session above hears of it, and an idle timer below starts counting.
            context.triggerUserOutboundEvent(HandshakeCompleted(), promise: nil)
            context.fireUserInboundEventTriggered(HandshakeCompleted())
        case .deliver(let frame):
            context.fireChannelRead(wrapInboundOut(frame))
        case .fail(let error, let send, let close):
            timeoutTask?.cancel()
            inbound = nil
            if let send { writeFrame(ByteBuffer(bytes: send), context: context, promise: nil) }
            failHeldWrites(error)
            context.fireErrorCaught(error.from(peer: context.channel.remoteAddress?.description))
            guard close else { return }
            // Let what was written (a #FAILURE#, say) reach the peer before the socket closes.
            let flushed = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: flushed)
            flushed.futureResult.assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
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

    private func failHeldWrites(_ error: any Error) {
        let writes = heldWrites
        heldWrites = []
        for (_, promise) in writes { promise?.fail(error) }
    }
}

/// Sent both ways through the pipeline once the peer has proven it holds the authkey: inbound
/// to the session above, outbound to handlers below that time the session (``IdleTimeoutHandler``).
public struct HandshakeCompleted: Sendable, Hashable {}
