import Foundation
import NIOCore
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

/// The real `task-master` binary, driven through the client library and raw sockets.
@Suite(.serialized) struct NativeProtocolTests {
    @Test func putGetAckRoundTripThroughTheDaemon() async throws {
        try await MasterProcess.with { master in
            try await TaskMasterConnection.withConnection(
                to: "127.0.0.1",
                port: master.port,
                authKey: Array(master.authKey.utf8)
            ) { client in
                let ids = try await client.put([NewItem(payload: [1]), NewItem(payload: [2, 2])], into: "jobs")
                #expect(ids.count == 2 && ids[1] > ids[0])
                let got = try await client.get(from: "jobs", maxItems: 10, wait: .milliseconds(1000))
                #expect(got.map(\.bytes) == [[1], [2, 2]])
                #expect(got.map(\.id) == ids)
                let stats = try await client.statistics()
                #expect(stats.queues.first { $0.name == "jobs" }?.inFlight == 2)
                #expect(try await client.ack(ids, in: "jobs").count == 2)
                // A get on an empty queue with a short wait answers empty, after the wait.
                let start = ContinuousClock.now
                #expect(try await client.get(from: "jobs", maxItems: 1, wait: .milliseconds(200)).isEmpty)
                #expect(ContinuousClock.now - start >= .milliseconds(150))
            }
            #expect(await master.stop() == 0)
        }
    }

    @Test func aWrongAuthkeyIsRefusedWithAClearError() async throws {
        try await MasterProcess.with { master in
            do {
                try await TaskMasterConnection.withConnection(
                    to: "127.0.0.1",
                    port: master.port,
                    authKey: Array("wrong".utf8)
                ) { _ in }
                Issue.record("a wrong key must not connect")
            } catch let error as ClientError {
                #expect(error.code == .authenticationFailed)
                #expect(error.message == "authentication failed: the authkey does not match the master's")
            }
            // The master logs it, without the key.
            let warning = await master.process.waitForLine(within: .seconds(5), stream: \.stderrLines) {
                $0.contains("authentication failed")
            }
            #expect(warning != nil)
            #expect(!master.process.stderrLines.joined().contains(master.authKey))
        }
    }

    @Test func garbageAndOversizedFramesAreRefusedAndTheMasterCarriesOn() async throws {
        try await MasterProcess.with(arguments: ["--max-frame-bytes", "4096"]) { master in
            // Raw garbage instead of a handshake answer.
            let garbage = try RawConnection(port: master.port)
            _ = try await garbage.readFrame()  // the challenge
            try garbage.send(Array(repeating: 0xEE, count: 64))
            #expect(try await garbage.readToEnd().count < 64)  // #FAILURE# then close
            // A 2 GiB frame announced during the handshake: refused at the header.
            let huge = try RawConnection(port: master.port)
            _ = try await huge.readFrame()
            try huge.send([0x7F, 0xFF, 0xFF, 0xFF])
            #expect(try await huge.readToEnd().isEmpty)

            // After authenticating, a frame over the configured limit gets an error and a close.
            try await TaskMasterConnection.withConnection(
                to: "127.0.0.1",
                port: master.port,
                authKey: Array(master.authKey.utf8)
            ) { client in
                do {
                    _ = try await client.put([NewItem(payload: Array(repeating: 1, count: 10_000))], into: "q")
                    Issue.record("an oversized frame must be refused")
                } catch let error as ClientError {
                    #expect(error.message.contains("4096"))
                }
            }
            // Everyone else is still served.
            try await TaskMasterConnection.withConnection(
                to: "127.0.0.1",
                port: master.port,
                authKey: Array(master.authKey.utf8)
            ) { client in
                _ = try await client.ping()
                #expect(try await client.put([NewItem(payload: [7])], into: "q").count == 1)
            }
            #expect(master.process.isRunning)
        }
    }

    @Test func aHandshakeThatNeverFinishesIsCutOff() async throws {
        try await MasterProcess.with(arguments: ["--handshake-timeout", "0.5"]) { master in
            let silent = try RawConnection(port: master.port)
            _ = try await silent.readFrame()
            let start = ContinuousClock.now
            #expect(try await silent.readToEnd().isEmpty)
            let waited = ContinuousClock.now - start
            #expect(waited >= .milliseconds(300) && waited < .seconds(5))
        }
    }

    @Test func tasksLeasedByAConnectionThatDropsGoBackToTheQueue() async throws {
        try await MasterProcess.with { master in
            let key = Array(master.authKey.utf8)
            let ids = try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: master.port, authKey: key) {
                client in
                let ids = try await client.put((1...5).map { NewItem(payload: [UInt8($0)]) }, into: "task")
                let got = try await client.get(from: "task", maxItems: 3)
                #expect(got.count == 3)
                return ids
                // The connection closes with 3 tasks leased and unacknowledged.
            }
            try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: master.port, authKey: key) { client in
                let got = try await client.get(from: "task", maxItems: 10, wait: .milliseconds(2000))
                #expect(got.map(\.id) == ids)
                #expect(got.prefix(3).allSatisfy { $0.attempt == 2 })
                #expect(got.suffix(2).allSatisfy { $0.attempt == 1 })
            }
        }
    }

    @Test func unknownMessagesAndWrongVersionsGetAnErrorAndAClose() async throws {
        try await MasterProcess.with { master in
            for frame: [UInt8] in [[1, 0x42, 0, 0, 0, 9], [9, 0x07, 0, 0, 0, 9], [1, 0x01, 0, 0, 0, 9, 0xFF]] {
                let raw = try RawConnection(port: master.port)
                try await raw.authenticate(key: Array(master.authKey.utf8))
                var hello = ByteBuffer()
                Hello(name: "raw").encode(into: &hello)
                try raw.sendFrame(Array(hello.readableBytesView))
                _ = try await raw.readFrame()
                try raw.sendFrame(frame)
                let reply = try Response(decoding: ByteBuffer(bytes: try await raw.readFrame()))
                #expect(reply.requestID == 9)
                guard case .error(let error) = reply.message else {
                    Issue.record("expected an error, got \(reply)")
                    continue
                }
                #expect(!error.message.isEmpty)
                #expect(try await raw.readToEnd().isEmpty)  // closed
            }
            #expect(master.process.isRunning)
        }
    }
}

@Suite(.serialized) struct ConnectionLimitTests {
    @Test func aSilentClientIsToldAndClosedAfterTheIdleTimeoutWhileAWorkerWithHeartbeatsStays() async throws {
        // A 4 s idle timeout, counted from the end of the handshake: this test starts with the
        // whole run, when a loaded machine can stall this process's handshake for seconds.
        try await MasterProcess.with(arguments: ["--idle-timeout", "4", "--handshake-timeout", "30"]) { master in
            let worker = try master.startWorker(["--heartbeat-interval", "0.3"])
            let raw = try RawConnection(port: master.port)
            var hello = ByteBuffer()
            Hello(name: "silent").encode(into: &hello)
            // The hello right after the handshake, then silence. The clock starts before the
            // handshake ends, so the close can't be timed as early; the bound on how late it
            // may come starts once the hello is out.
            let beforeHandshake = ContinuousClock.now
            try await raw.authenticate(key: Array(master.authKey.utf8), thenSend: Array(hello.readableBytesView))
            let helloSent = ContinuousClock.now
            // Every frame until the master closes: the hello's answer, then the idle error.
            var frames: [[UInt8]] = []
            while frames.count < 3, let frame = try? await raw.readFrame() { frames.append(frame) }
            let closed = ContinuousClock.now
            #expect(closed - helloSent < .seconds(10), "still open \(closed - helloSent) after the hello")
            #expect(
                closed - beforeHandshake >= .milliseconds(3_900),
                "closed \(closed - beforeHandshake) after the handshake began"
            )
            #expect(try await raw.readToEnd().isEmpty)
            let errors = frames.compactMap { frame -> ErrorReply? in
                guard let response = try? Response(decoding: ByteBuffer(bytes: frame)),
                    case .error(let error) = response.message
                else { return nil }
                return error
            }
            #expect(frames.count == 2, "the hello's answer and the idle error, got \(frames.count) frames")
            #expect(errors.count == 1)
            #expect(errors.first?.code == .idleTimeout)
            #expect(errors.first?.message.contains("idle_timeout") == true)
            try await Task.sleep(for: .seconds(4.5))  // past another timeout: the worker stays
            let stats = try await master.stats()
            #expect(stats.clients.contains { $0.name.hasPrefix("task-worker") })
            worker.signal(SIGTERM)
            #expect(await worker.waitForExit(within: .seconds(20)) == 0)
        }
    }

    @Test func aClientSilentAfterItsHandshakeIsClosedAtTheIdleTimeout() async throws {
        try await MasterProcess.with(arguments: ["--idle-timeout", "1"]) { master in
            let raw = try RawConnection(port: master.port)
            try await raw.authenticate(key: Array(master.authKey.utf8))
            let start = ContinuousClock.now
            // No hello, nothing: no session ever starts, and the connection is closed all the same.
            #expect(try await raw.readToEnd().isEmpty)
            #expect(ContinuousClock.now - start < .seconds(8))
        }
    }

    @Test func aClientThatReadsNoRepliesIsClosedOnceItsBufferStaysFull() async throws {
        let master = try await MasterProcess.start(
            environment: ["TASK_MASTER_MAX_BUFFERED_BYTES": "65536", "TASK_MASTER_STALL_TIMEOUT": "1"]
        )
        // Eight 1 MiB items to peek at: each reply is 8 MiB, so a few fill every buffer.
        try await TaskMasterConnection.withConnection(
            to: "127.0.0.1",
            port: master.port,
            authKey: Array(master.authKey.utf8)
        ) { client in
            let items = (0..<8).map { _ in NewItem(payload: [UInt8](repeating: 0x2A, count: 1 << 20)) }
            _ = try await client.put(items, into: "big")
        }
        let raw = try RawConnection(port: master.port, timeout: .seconds(5))
        try await raw.authenticate(key: Array(master.authKey.utf8))
        var hello = ByteBuffer()
        Hello(name: "deaf").encode(into: &hello)
        try raw.sendFrame(Array(hello.readableBytesView))
        _ = try await raw.readFrame()
        var request = ByteBuffer()
        Request(id: 1, .peek(queue: "big", maxItems: 8)).encode(into: &request)
        let frame = Array(FrameEncoder.frame(Array(request.readableBytesView)).readableBytesView)
        // Peeks, never reading a reply, until the master closes the connection (a send fails).
        let started = ContinuousClock.now
        var closed = false
        while !closed, ContinuousClock.now - started < .seconds(30) {
            do { try raw.send(frame) } catch { closed = true }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(closed, "the master kept a client that reads nothing")
        let warning = await master.process.waitForLine(within: .seconds(10), stream: \.stderrLines) {
            $0.contains("read none of the replies")
        }
        #expect(warning != nil, "\(master.process.transcript)")
        // Everyone else is served.
        let ping = try await master.ctl(["ping"])
        #expect(ping.status == 0, "\(ping.stderr)")
        await master.stop()
    }

    @Test func anAddressThatKeepsFailingTheHandshakeIsSlowedDown() async throws {
        let master = try await MasterProcess.start()
        for _ in 0..<8 {
            let raw = try RawConnection(port: master.port)
            _ = try await raw.readFrame()
            try raw.sendFrame(Array(repeating: 0, count: 16))  // a wrong answer
            _ = try? await raw.readToEnd()
        }
        let raw = try RawConnection(port: master.port)
        let start = ContinuousClock.now
        _ = try await raw.readFrame()  // the challenge comes, but late
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        // A client with the right key still gets in (slowly).
        let ping = try await master.ctl(["ping"])
        #expect(ping.status == 0, "\(ping.stderr)")
        await master.stop()
    }
}
