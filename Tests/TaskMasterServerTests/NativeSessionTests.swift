import NIOCore
import QueueBackend
import TaskMasterStatus
import TaskWire
import Testing

@testable import TaskMasterServer

/// The native session's decisions, driven with request bytes and backend answers; no socket,
/// no event loop, no backend.
@Suite struct NativeSessionTests {
    private var session = NativeSession(
        limits: NativeSession.Limits(maxItemsPerRequest: 100, maxWaitingCalls: 2, maxOutstanding: 4, maxRefusals: 3)
    )

    private func frame(_ request: Request) -> ByteBuffer {
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        return buffer
    }

    private func response(_ action: NativeSession.Action) throws -> Response? {
        switch action {
        case .write(let bytes), .refuse(let bytes, _): return try Response(decoding: bytes)
        default: return nil
        }
    }

    private mutating func hello() {
        var hello = ByteBuffer()
        Hello(name: "test-client").encode(into: &hello)
        var reply = ByteBuffer()
        Hello(name: "task-master").encode(into: &reply)
        #expect(session.frameReceived(hello) == .welcome(name: "test-client", reply: reply))
    }

    @Test mutating func aPutBecomesABackendPutAndItsIdsTheAnswer() throws {
        hello()
        let put = session.frameReceived(
            frame(Request(id: 7, .put(queue: "task", items: [NewItem(payload: [1])], wait: .none)))
        )
        #expect(put == .perform(7, .put([NewTask(payload: [1])], queue: "task", wait: .none)))
        #expect(try response(session.backendAnswered(7, .ids([41]))) == Response(requestID: 7, .putAccepted([41])))
        // An answer for a request that is not outstanding goes nowhere.
        #expect(session.backendAnswered(7, .ids([41])) == .none)
    }

    @Test mutating func answersMayComeInAnyOrderEachWithItsRequestsID() throws {
        hello()
        _ = session.frameReceived(frame(Request(id: 1, .get(queue: "q", maxItems: 5, wait: .forever))))
        _ = session.frameReceived(frame(Request(id: 2, .ack(queue: "q", ids: [3]))))
        #expect(session.outstandingCount == 2)
        let ack = try response(session.backendAnswered(2, .settled(AckResult(count: 1, unknown: []))))
        #expect(ack == Response(requestID: 2, .acknowledged(AckOutcome(count: 1, unknown: []))))
        let task = QueuedTask(id: 9, reference: 0, attempt: 1, payload: ByteBuffer(bytes: [5]))
        let get = try response(session.backendAnswered(1, .tasks([task])))
        #expect(get == Response(requestID: 1, .deliveries([Delivery(id: 9, attempt: 1, reference: 0, payload: [5])])))
        #expect(session.outstandingCount == 0)
    }

    @Test mutating func waitingRequestsPastTheLimitAreRefusedAndAClientThatPersistsIsClosed() throws {
        hello()
        for id: RequestID in 1...2 {
            guard
                case .perform = session.frameReceived(
                    frame(Request(id: id, .get(queue: "q", maxItems: 1, wait: .forever)))
                )
            else {
                Issue.record("get \(id) should go to the backend")
                return
            }
        }
        for id: RequestID in 3...5 {
            let refused = try response(
                session.frameReceived(frame(Request(id: id, .get(queue: "q", maxItems: 1, wait: .forever))))
            )
            guard case .error(let error) = refused?.message else {
                Issue.record("get \(id) should be refused")
                return
            }
            #expect(refused?.requestID == id && error.code == .limitExceeded)
            #expect(error.message.contains("too many waiting requests"))
        }
        // Gets that don't wait, and other requests, still go through.
        guard case .perform = session.frameReceived(frame(Request(id: 6, .get(queue: "q", maxItems: 1, wait: .none))))
        else {
            Issue.record("a get that does not wait is never refused")
            return
        }
        _ = session.backendAnswered(6, .tasks([]))
        _ = session.frameReceived(frame(Request(id: 7, .get(queue: "q", maxItems: 1, wait: .forever))))
        _ = session.frameReceived(frame(Request(id: 8, .get(queue: "q", maxItems: 1, wait: .forever))))
        _ = session.frameReceived(frame(Request(id: 9, .get(queue: "q", maxItems: 1, wait: .forever))))
        guard
            case .refuse(_, let reason) = session.frameReceived(
                frame(Request(id: 10, .get(queue: "q", maxItems: 1, wait: .forever)))
            )
        else {
            Issue.record("a client that keeps asking past the limit must be closed")
            return
        }
        #expect(reason.contains("in a row"))
        #expect(session.frameReceived(frame(Request(id: 11, .ping))) == .none)  // closing: nothing more
    }

    @Test mutating func readingPausesWhileTooManyAnswersAreOutstanding() {
        hello()
        for id: RequestID in 1...4 { _ = session.frameReceived(frame(Request(id: id, .ack(queue: "q", ids: [1])))) }
        #expect(session.isReadingPaused)
        _ = session.backendAnswered(1, .settled(AckResult(count: 0, unknown: [1])))
        #expect(!session.isReadingPaused)
    }

    @Test mutating func aRequestOverTheItemLimitIsRefusedAndTheConnectionClosed() throws {
        hello()
        let items = (0..<101).map { _ in NewItem(payload: [0]) }
        let action = session.frameReceived(frame(Request(id: 3, .put(queue: "q", items: items, wait: .none))))
        guard case .refuse = action, case .error(let error) = try response(action)?.message else {
            Issue.record("expected a refusal, got \(action)")
            return
        }
        #expect(error.code == .limitExceeded && error.message.contains("max_items_per_request (100)"))
    }

    @Test mutating func statsPingAndHeartbeatAreAnsweredInTheirOwnWays() throws {
        hello()
        #expect(try response(session.frameReceived(frame(Request(id: 1, .ping)))) == Response(requestID: 1, .pong))
        #expect(session.frameReceived(frame(Request(id: 2, .stats))) == .fetchStatus(2))
        let snapshot = StatusSnapshot(uptimeSeconds: 1, queues: [QueueStatus(name: "q", depth: 3)])
        #expect(try response(session.statusFetched(2, snapshot)) == Response(requestID: 2, .statistics(snapshot)))
        let report = WorkerReport(tasksDone: 1, tasksFailed: 0, uptimeSeconds: 2)
        #expect(session.frameReceived(frame(Request(id: 3, .heartbeat(report)))) == .heartbeat(3, report))
        #expect(try response(session.heartbeatRecorded(3)) == Response(requestID: 3, .pong))
    }

    @Test mutating func backendErrorsBecomeErrorAnswersWithTheirCodes() throws {
        hello()
        _ = session.frameReceived(frame(Request(id: 1, .put(queue: "q", items: [NewItem(payload: [1])], wait: .none))))
        let full = QueueError(.queueFull, queue: "q", "queue 'q' is full (maxsize 1)", acceptedIDs: [5])
        let answer = try response(session.backendAnswered(1, .failed(full)))
        #expect(
            answer
                == Response(requestID: 1, .error(ErrorReply(code: .queueFull, message: full.message, acceptedIDs: [5])))
        )
        _ = session.frameReceived(frame(Request(id: 2, .get(queue: "q", maxItems: 1, wait: .none))))
        let unavailable = try response(
            session.backendAnswered(2, .failed(QueueError(.backendUnavailable, queue: nil, "down")))
        )
        guard case .error(let error) = unavailable?.message else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .unavailable)
    }

    @Test mutating func aBadHelloAnUnknownRequestAndAFramingErrorAreRefused() throws {
        guard case .refuse = session.frameReceived(ByteBuffer(bytes: Array("TMQX".utf8))) else {
            Issue.record("a bad hello must be refused")
            return
        }
        var other = NativeSession(limits: .init())
        var hello = ByteBuffer()
        Hello(name: "x").encode(into: &hello)
        _ = other.frameReceived(hello)
        let unknown = other.frameReceived(ByteBuffer(bytes: [1, 0x42, 0, 0, 0, 9]))
        guard case .error(let error) = try response(unknown)?.message else {
            Issue.record("an unknown request must be refused")
            return
        }
        #expect(error.code == .unknownRequest)
        var idle = NativeSession(limits: .init())
        _ = idle.frameReceived(hello)
        let timeout = try response(idle.errorCaught(WireError(.idleTimeout, "closed after 5 s")))
        guard case .error(let idleError) = timeout?.message else {
            Issue.record("an idle timeout is told to the client")
            return
        }
        #expect(idleError.code == .idleTimeout)
    }
}
