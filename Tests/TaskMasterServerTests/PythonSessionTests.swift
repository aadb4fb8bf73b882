import Logging
import ManagerWire
import NIOCore
import Pickle
import TaskMasterConfiguration
import TaskQueue
import Testing

@testable import TaskMasterServer

/// The Python session's decisions, driven with request bytes as a Python client sends them;
/// no socket, no event loop.
@Suite struct PythonSessionTests {
    private let engine: QueueEngine
    private var session: PythonSession

    init() throws {
        engine = try QueueEngine()
        let registry = ConnectionRegistry(limit: 10)
        let context = SessionContext(
            engine: engine,
            configuration: MasterConfiguration(authKey: Secret(Array("k".utf8))),
            registry: registry,
            pythonObjects: PythonObjects(typeIDs: [:]),
            status: MasterStatus(
                engine: engine,
                registry: registry,
                authFailures: AuthFailureTracker(),
                traffic: TrafficCounters(),
                startedAt: .now
            ),
            requestShutdown: {}
        )
        session = PythonSession(context: context, connection: 7, logger: Logger(label: "test"))
    }

    private func frame(_ ident: String?, _ method: String, _ arguments: [PickleGraph] = []) throws -> ByteBuffer {
        ByteBuffer(bytes: try ManagerRequest(ident: ident, method: method, arguments: arguments).encoded())
    }

    private func reply(_ action: PythonSession.Action?) throws -> ManagerReply? {
        switch action {
        case .reply(let bytes), .replyAndClose(let bytes), .deliver(let bytes, _):
            return try ManagerReply(decoding: Array(bytes.readableBytesView))
        default:
            return nil
        }
    }

    /// `accept_connection`, then the ident of the `task` queue as `create` would give it.
    private mutating func connect() throws -> String {
        let accepted = session.frameReceived(try frame(nil, "accept_connection", [.string("client")]))
        #expect(try reply(accepted) == .returnedNone)
        return session.context.pythonObjects.create(queue: "task")
    }

    @Test mutating func aPutAndAGetAreAnsweredAtOnceAndTheGetIsADelivery() throws {
        let ident = try connect()
        #expect(try reply(session.frameReceived(try frame(ident, "put", [.int(12)]))) == .returnedNone)
        let got = session.frameReceived(try frame(ident, "get"))
        guard case .deliver(_, let task) = got else {
            Issue.record("expected a delivery, got \(String(describing: got))")
            return
        }
        #expect(try reply(got) == .returned(.int(12)))
        #expect(task.queue == "task")
        #expect(engine.leaseCount(consumer: 7) == 1)  // leased until the reply is written
    }

    @Test mutating func aBlockingGetOnAnEmptyQueueWaitsAndANonBlockingOneRaisesEmpty() throws {
        let ident = try connect()
        let nowait = session.frameReceived(try frame(ident, "get_nowait"))
        guard case .error = try reply(nowait) else {
            Issue.record("expected queue.Empty, got \(String(describing: nowait))")
            return
        }
        let blocking = session.frameReceived(try frame(ident, "get", [PickleGraph(node: .bool(true)), .int(10)]))
        guard case .wait = blocking else {
            Issue.record("expected a wait, got \(String(describing: blocking))")
            return
        }
        // Python never sends a request before its reply: one that does ends the connection.
        guard case .close = session.frameReceived(try frame(ident, "qsize")) else {
            Issue.record("expected the connection closed")
            return
        }
    }

    @Test mutating func aWaitsOutcomeIsAnsweredAndTheSessionGoesOn() throws {
        let ident = try connect()
        guard case .wait = session.frameReceived(try frame(ident, "get", [PickleGraph(node: .bool(true)), .int(10)]))
        else {
            Issue.record("expected a wait")
            return
        }
        let empty = PythonSession.frame(.error(.string("Empty")))
        #expect(try reply(session.waitEnded(.reply(empty))) == .error(.string("Empty")))
        #expect(try reply(session.frameReceived(try frame(ident, "qsize"))) == .returned(.int(0)))
    }

    @Test mutating func anUnreadableFirstRequestGetsATracebackAndTheConnectionCloses() throws {
        let action = session.frameReceived(ByteBuffer(bytes: [0x80, 0x04, 0xff]))
        guard case .replyAndClose = action, case .traceback(let text) = try reply(action) else {
            Issue.record("expected a traceback and close, got \(String(describing: action))")
            return
        }
        #expect(text.contains("UnpicklingError"))
    }

    @Test mutating func aResultPutAfterAGetCarriesTheTasksId() throws {
        let ident = try connect()
        let results = session.context.pythonObjects.create(queue: "result")
        _ = session.frameReceived(try frame(ident, "put", [.int(3)]))
        guard case .deliver(_, let task) = session.frameReceived(try frame(ident, "get")) else {
            Issue.record("expected a delivery")
            return
        }
        _ = session.frameReceived(try frame(results, "put", [.string("3 * 3 = 9")]))
        let result = try #require(engine.peek("result", maxItems: 1).first)
        #expect(result.reference == task.id)
    }
}
