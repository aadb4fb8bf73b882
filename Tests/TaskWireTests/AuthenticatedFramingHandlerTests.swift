import NIOCore
import NIOEmbedded
import Testing

@testable import TaskWire

/// The handler between two embedded channels: a real handshake, then frames both ways.
@Suite struct AuthenticatedFramingHandlerTests {
    private struct Pair {
        let server = EmbeddedChannel()
        let client = EmbeddedChannel()

        init(
            serverKey: [UInt8] = Array("secret".utf8),
            clientKey: [UInt8] = Array("secret".utf8),
            serverIdleTimeout: TimeAmount? = nil
        ) throws {
            if let serverIdleTimeout {
                try server.pipeline.syncOperations.addHandler(IdleTimeoutHandler(timeout: serverIdleTimeout))
            }
            try Self.connect(server, role: .server, key: serverKey)
            try Self.connect(client, role: .client, key: clientKey)
        }

        private static func connect(
            _ channel: EmbeddedChannel,
            role: HandshakeStateMachine.Role,
            key: [UInt8]
        ) throws {
            let handler = AuthenticatedFramingHandler(
                role: role,
                key: try #require(AuthKey(bytes: key)),
                maximumFrameLength: 1 << 20,
                handshakeTimeout: .seconds(5)
            )
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// Moves bytes between the two until neither has anything left to send; returns the
        /// bytes the client sent.
        @discardableResult
        func pump() throws -> [UInt8] {
            var sentByClient: [UInt8] = []
            var moved = true
            var rounds = 0
            while moved, rounds < 100 {
                moved = false
                rounds += 1
                while let bytes = try server.readOutbound(as: ByteBuffer.self) {
                    moved = true
                    try client.writeInbound(bytes)
                }
                while let bytes = try client.readOutbound(as: ByteBuffer.self) {
                    moved = true
                    sentByClient += Array(bytes.readableBytesView)
                    try server.writeInbound(bytes)
                }
            }
            return sentByClient
        }
    }

    @Test func smallAndLargePayloadsCrossAsWholeFramesWithTheirHeaders() throws {
        let pair = try Pair()
        try pair.pump()
        let small: [UInt8] = Array(0..<100)
        let large: [UInt8] = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        // Queued writes go in order, the small one copied behind its header, the large one not.
        pair.client.write(ByteBuffer(bytes: small), promise: nil)
        pair.client.write(ByteBuffer(bytes: large), promise: nil)
        pair.client.write(ByteBuffer(), promise: nil)
        pair.client.flush()
        let wire = try pair.pump()
        let expected = [0, 0, 0, 100] + small + [0, 0, 0x27, 0x10] + large + [0, 0, 0, 0]
        #expect(wire.count == expected.count)
        let same = wire == expected  // compared apart so that a failure doesn't print 10 kB
        #expect(same, "the bytes on the wire are not the three frames, in order")
        var received: [[UInt8]] = []
        while let frame = try pair.server.readInbound(as: ByteBuffer.self) {
            received.append(Array(frame.readableBytesView))
        }
        #expect(received == [small, large, []])
    }

    @Test func writesBeforeTheHandshakeWaitAndCompleteTheirPromisesAfterIt() throws {
        let pair = try Pair()
        let written = pair.client.eventLoop.makePromise(of: Void.self)
        pair.client.writeAndFlush(ByteBuffer(bytes: [1, 2, 3]), promise: written)
        var done = false
        written.futureResult.whenSuccess { done = true }
        try pair.pump()
        #expect(done)
        let frame = try pair.server.readInbound(as: ByteBuffer.self)
        #expect(frame.map { Array($0.readableBytesView) } == [1, 2, 3])
    }

    @Test func aWrongKeyLetsNoFrameThroughAndTheServerSendsFailureAndCloses() throws {
        let pair = try Pair(clientKey: Array("wrong".utf8))
        let written = pair.client.eventLoop.makePromise(of: Void.self)
        pair.client.writeAndFlush(ByteBuffer(bytes: [9]), promise: written)
        var heldWriteFailed = false
        written.futureResult.whenFailure { _ in heldWriteFailed = true }
        // The client's answer goes to the server; the server's #FAILURE# comes back.
        while let bytes = try pair.server.readOutbound(as: ByteBuffer.self) { try pair.client.writeInbound(bytes) }
        var serverError: (any Error)?
        while let bytes = try pair.client.readOutbound(as: ByteBuffer.self) {
            do { try pair.server.writeInbound(bytes) } catch { serverError = error }
        }
        #expect((serverError as? WireError)?.code == .authenticationFailed, "the failure goes down the pipeline")
        var fromServer: [UInt8] = []
        while let bytes = try pair.server.readOutbound(as: ByteBuffer.self) {
            fromServer += Array(bytes.readableBytesView)
        }
        let failure = [0, 0, 0, UInt8(ChallengeResponse.failure.count)] + ChallengeResponse.failure
        #expect(fromServer == failure, "the server must tell the client the handshake failed")
        pair.server.embeddedEventLoop.run()
        #expect(!pair.server.isActive, "the server must close the connection")
        try? pair.client.writeInbound(ByteBuffer(bytes: failure))
        #expect(heldWriteFailed, "a write held for the handshake must fail with it")
        #expect(try pair.server.readInbound(as: ByteBuffer.self) == nil)
    }

    @Test func theIdleTimerCountsFromTheEndOfTheHandshakeAndEveryReadRestartsIt() throws {
        let pair = try Pair(serverIdleTimeout: .seconds(4))
        let loop = pair.server.embeddedEventLoop
        // A client slow between handshake frames is the handshake timeout's (5 s), not idle.
        while let bytes = try pair.server.readOutbound(as: ByteBuffer.self) { try pair.client.writeInbound(bytes) }
        loop.advanceTime(by: .milliseconds(4_500))
        try pair.server.throwIfErrorCaught()
        #expect(pair.server.isActive)
        try pair.pump()
        loop.advanceTime(by: .seconds(3))
        pair.client.writeAndFlush(ByteBuffer(bytes: [7]), promise: nil)
        try pair.pump()
        #expect(try pair.server.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [7])
        loop.advanceTime(by: .seconds(3))
        try pair.server.throwIfErrorCaught()  // 3 s since the last read
        loop.advanceTime(by: .milliseconds(1_100))
        #expect(throws: WireError.self) { try pair.server.throwIfErrorCaught() }
        do {
            try pair.server.throwIfErrorCaught()
        } catch {
            Issue.record("the idle error is fired once, got a second: \(error)")
        }
    }

    @Test func theIdleErrorNamesTheTimeout() throws {
        let pair = try Pair(serverIdleTimeout: .seconds(2))
        try pair.pump()
        pair.server.embeddedEventLoop.advanceTime(by: .seconds(2))
        let error = #expect(throws: WireError.self) { try pair.server.throwIfErrorCaught() }
        #expect(error?.code == .idleTimeout)
        #expect(error?.message.contains("2 s") == true)
    }
}
