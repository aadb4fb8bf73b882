import NIOCore
import TaskMasterStatus
import Testing

@testable import TaskWire

@Suite struct MessageCodecTests {
    static let requests: [Request] = [
        Request(
            id: 1,
            .put(
                queue: "task",
                items: [NewItem(payload: [0x80, 0x04, 0x4B, 0x07, 0x2E]), NewItem(payload: [], reference: 9)],
                wait: .forever
            )
        ),
        Request(id: 2, .get(queue: "task", maxItems: 500, wait: .milliseconds(1000))),
        Request(id: 3, .ack(queue: "result", ids: [1, 2, UInt64.max])),
        Request(id: 4, .nack(queue: "result", ids: [])),
        Request(
            id: 5,
            .complete(
                taskQueue: "task",
                ids: [7],
                resultQueue: "result",
                results: [NewItem(payload: [1, 2], reference: 7)]
            )
        ),
        Request(id: 6, .stats),
        Request(id: UInt32.max, .ping),
        Request(id: 8, .put(queue: "ünïcødé", items: [], wait: .none)),
    ]

    static let responses: [Response] = [
        Response(requestID: 1, .putAccepted([1, 2, 3])),
        Response(requestID: 2, .deliveries([Delivery(id: 5, attempt: 2, reference: 0, payload: [9, 9, 9])])),
        Response(requestID: 3, .acknowledged(AckOutcome(count: 2, unknown: [44]))),
        Response(requestID: 4, .completed(CompleteOutcome(ack: AckOutcome(count: 1, unknown: []), resultIDs: [100]))),
        Response(
            requestID: 5,
            .statistics(
                StatusSnapshot(
                    uptimeSeconds: 77.25,
                    queues: [
                        QueueStatus(
                            name: "task",
                            depth: 3,
                            inFlight: 2,
                            maxSize: 10,
                            waitingConsumers: 1,
                            waitingProducers: 2,
                            totalPut: 9,
                            totalDelivered: 6,
                            totalAcked: 4,
                            totalNacked: 1,
                            totalRedelivered: 1,
                            totalDead: 3
                        )
                    ],
                    clients: [
                        ClientStatus(id: 3, kind: .python, address: "127.0.0.1:5555", connectedSeconds: 1.5),
                        ClientStatus(
                            id: 4,
                            kind: .native,
                            address: "[::1]:5556",
                            name: "task-worker 1@b",
                            leased: 7,
                            connectedSeconds: 12,
                            tasksDone: 10,
                            tasksFailed: 0,
                            workerUptimeSeconds: 13.125,
                            lastHeartbeatSecondsAgo: 0.5
                        ),
                    ],
                    authenticationFailures: 2,
                    bytesIn: 1000,
                    bytesOut: 2000
                )
            )
        ),
        Response(requestID: 6, .pong),
        Response(requestID: 0, .error(ErrorReply(code: .queueFull, message: "queue 'task' is full", acceptedIDs: [1]))),
        Response(requestID: 0, .error(ErrorReply(code: ErrorReply.Code(rawValue: 999), message: "from the future"))),
    ]

    @Test(arguments: requests)
    func requestsRoundTrip(request: Request) throws {
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        #expect(try Request(decoding: buffer) == request)
    }

    @Test(arguments: responses)
    func responsesRoundTrip(response: Response) throws {
        var buffer = ByteBuffer()
        response.encode(into: &buffer)
        #expect(try Response(decoding: buffer) == response)
    }

    @Test func aDecodedDurationEncodesAsItCame() throws {
        // Durations travel as milliseconds and are seconds as a Double in between: a decoded
        // value must encode to the same count, or a relayed status changes on every hop. The
        // first value is FuzzMessageCodec's (816 ms came back as 817 when the clamp was 2^52).
        var counts: [UInt64] = [4_424_436_316_962_816, 1 << 50, (1 << 50) - 1, 1 << 52, UInt64.max, 0, 1, 999]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<2_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            counts.append(state >> (state % 16))  // spread over 2^48 ... 2^64
        }
        for count in counts {
            let seconds = Double(count) / 1000
            let client = ClientStatus(id: 1, kind: .native, address: "", workerUptimeSeconds: seconds)
            let snapshot = StatusSnapshot(uptimeSeconds: seconds, clients: [client])
            let once = try roundTrip(snapshot)
            #expect(try roundTrip(once) == once, "\(count) ms")
        }
    }

    private func roundTrip(_ snapshot: StatusSnapshot) throws -> StatusSnapshot {
        var buffer = ByteBuffer()
        Response(requestID: 1, .statistics(snapshot)).encode(into: &buffer)
        guard case .statistics(let decoded) = try Response(decoding: buffer).message else {
            throw WireError.malformed("not statistics")
        }
        return decoded
    }

    @Test func thePingRequestHasAFixedLayout() {
        var buffer = ByteBuffer()
        Request(id: 0x0102_0304, .ping).encode(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [1, 0x07, 1, 2, 3, 4])
    }

    @Test func helloRoundTripsAndIsToldApartFromAPickle() throws {
        var buffer = ByteBuffer()
        Hello(name: "task-worker 12@b").encode(into: &buffer)
        #expect(Hello.isHello(buffer.readableBytesView))
        #expect(try Hello(decoding: buffer) == Hello(name: "task-worker 12@b"))
        #expect(!Hello.isHello([0x80, 0x04, 0x95]))
    }

    @Test func everyTruncationOfEveryMessageIsAnError() {
        for request in Self.requests {
            var buffer = ByteBuffer()
            request.encode(into: &buffer)
            for length in 0..<buffer.readableBytes {
                let cut = buffer.getSlice(at: 0, length: length)!
                #expect(throws: WireError.self) { try Request(decoding: cut) }
            }
        }
        for response in Self.responses {
            var buffer = ByteBuffer()
            response.encode(into: &buffer)
            for length in 0..<buffer.readableBytes {
                let cut = buffer.getSlice(at: 0, length: length)!
                #expect(throws: WireError.self) { try Response(decoding: cut) }
            }
        }
    }

    @Test func trailingBytesAreAnError() {
        var buffer = ByteBuffer()
        Request(id: 1, .ping).encode(into: &buffer)
        buffer.writeInteger(UInt8(0))
        #expect(
            performing: { try Request(decoding: buffer) },
            throws: { ($0 as? WireError)?.code == .malformedMessage }
        )
    }

    @Test func aWrongVersionIsReportedAsSuch() {
        let frame = ByteBuffer(bytes: [2, 0x07, 0, 0, 0, 1])
        #expect(
            performing: { try Request(decoding: frame) },
            throws: { ($0 as? WireError)?.code == .unsupportedVersion }
        )
        #expect(Request.peekID(frame) == 1)
    }

    @Test func anUnknownTypeIsReportedAsSuch() {
        let frame = ByteBuffer(bytes: [1, 0x42, 0, 0, 0, 1])
        #expect(
            performing: { try Request(decoding: frame) },
            throws: { ($0 as? WireError)?.code == .unknownMessageType }
        )
    }

    @Test func aHugeItemCountIsRefusedWithoutReserving() {
        var buffer = ByteBuffer()
        buffer.writeBytes([1, 0x01, 0, 0, 0, 1])
        buffer.writeWireString("task")
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(UInt32.max)  // 4 billion items announced, none present
        #expect(
            performing: { try Request(decoding: buffer) },
            throws: { ($0 as? WireError)?.code == .malformedMessage }
        )
    }

    @Test func invalidUTF8InAQueueNameIsRefused() {
        var buffer = ByteBuffer()
        buffer.writeBytes([1, 0x03, 0, 0, 0, 1, 0, 2, 0xC3, 0x28, 0, 0, 0, 0])
        #expect(
            performing: { try Request(decoding: buffer) },
            throws: { ($0 as? WireError)?.code == .malformedMessage }
        )
    }

    @Test func randomBytesNeverTrap() {
        var generator = SplitMix64(seed: 7)
        var decoded = 0
        for _ in 0..<5000 {
            var bytes = (0..<Int(generator.next() % 48)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if bytes.count > 1 { bytes[0] = 1 }  // mostly the right version, to get past the header
            if (try? Request(decoding: ByteBuffer(bytes: bytes))) != nil { decoded += 1 }
            _ = try? Response(decoding: ByteBuffer(bytes: bytes))
        }
        #expect(decoded < 5000)
    }

    @Test func waitTimesConvert() {
        #expect(WaitTime.seconds(0) == .none)
        #expect(WaitTime.seconds(-1) == .none)
        #expect(WaitTime.seconds(1.5) == .milliseconds(1500))
        #expect(WaitTime.seconds(1e12) == .forever)
        #expect(WaitTime(wireValue: WaitTime.milliseconds(UInt32.max).wireValue) == .milliseconds(UInt32.max - 1))
    }
}
