import ManagerWire
import NIOCore
import Pickle
import QueueBackend
import TaskMasterStatus
import Testing

@testable import TaskMasterServer

/// The Python session's decisions, driven with request bytes as a Python client sends them and
/// with backend answers; no socket, no event loop, no backend.
@Suite struct PythonSessionTests {
    private var session = PythonSession()
    /// The object table the session looks idents up in.
    private let objects = ["7f0000000040": "task", "7f0000000080": "result"]
    private let task = "7f0000000040"
    private let result = "7f0000000080"

    private func frame(_ ident: String?, _ method: String, _ arguments: [PickleGraph] = []) throws -> ByteBuffer {
        ByteBuffer(bytes: try ManagerRequest(ident: ident, method: method, arguments: arguments).encoded())
    }

    private mutating func send(
        _ ident: String?,
        _ method: String,
        _ arguments: [PickleGraph] = []
    ) throws
        -> PythonSession.Action
    {
        let objects = self.objects
        return session.frameReceived(try frame(ident, method, arguments)) { objects[$0] }
    }

    private func reply(_ action: PythonSession.Action) throws -> ManagerReply? {
        switch action {
        case .reply(let bytes), .replyAndClose(let bytes), .deliver(let bytes, _), .welcome(_, let bytes):
            return try ManagerReply(decoding: Array(bytes.readableBytesView))
        default:
            return nil
        }
    }

    private static func pickled(_ value: PickleGraph) throws -> ByteBuffer {
        ByteBuffer(bytes: try value.pickled())
    }

    /// `accept_connection`, answered with a welcome naming the client.
    private mutating func connect() throws {
        let accepted = try send(nil, "accept_connection", [.string("SpawnProcess-1")])
        #expect(accepted == .welcome(name: "SpawnProcess-1", reply: PythonSession.frame(.returnedNone)))
    }

    @Test mutating func aPutBecomesABackendPutAndIsAnsweredWithNone() throws {
        try connect()
        let put = try send(task, "put", [.int(12)])
        #expect(put == .perform(.put([NewTask(payload: try Self.pickled(.int(12)))], queue: "task", wait: .forever)))
        #expect(session.backendAnswered(.ids([1])) == .reply(PythonSession.frame(.returnedNone)))
    }

    @Test mutating func aGetDeliversTheTaskTheBackendLeases() throws {
        try connect()
        #expect(try send(task, "get") == .perform(.get(queue: "task", maxItems: 1, wait: .forever)))
        let leased = QueuedTask(id: 5, reference: 0, attempt: 1, payload: try Self.pickled(.int(12)))
        let delivered = session.backendAnswered(.tasks([leased]))
        #expect(delivered == .deliver(PythonSession.frame(.returned(.int(12))), .init(queue: "task", id: 5)))
    }

    @Test mutating func aNonBlockingGetOnAnEmptyQueueRaisesEmpty() throws {
        try connect()
        #expect(try send(task, "get_nowait") == .perform(.get(queue: "task", maxItems: 1, wait: .none)))
        #expect(session.backendAnswered(.tasks([])) == .reply(PythonSession.frame(.error(PythonException.empty))))
    }

    @Test mutating func aTimedGetWaitsItsTimeoutAndAFullQueueRaisesFull() throws {
        try connect()
        let get = try send(task, "get", [PickleGraph(node: .bool(true)), .int(10)])
        #expect(get == .perform(.get(queue: "task", maxItems: 1, wait: .upTo(.seconds(10)))))
        _ = session.backendAnswered(.tasks([]))
        _ = try send(task, "put_nowait", [.int(1)])
        let full = QueueError(.queueFull, queue: "task", "queue 'task' is full (maxsize 1)")
        #expect(session.backendAnswered(.failed(full)) == .reply(PythonSession.frame(.error(PythonException.full))))
    }

    @Test mutating func aRequestBeforeTheReplyToTheLastOneEndsTheConnection() throws {
        try connect()
        _ = try send(task, "get")
        #expect(
            try send(task, "qsize") == .close(reason: "a Python client sent a request before the reply to its last one")
        )
        // The late answer of the wait goes nowhere.
        #expect(session.backendAnswered(.tasks([])) == .none)
    }

    @Test mutating func aWaitEndedByTheConnectionClosingAnswersNothing() throws {
        try connect()
        _ = try send(task, "get")
        #expect(session.backendAnswered(.failed(.cancelled("task"))) == .none)
    }

    @Test mutating func qsizeEmptyAndFullComeFromTheQueuesStatus() throws {
        try connect()
        let status = QueueStatus(name: "task", depth: 2, maxSize: 2)
        #expect(try send(task, "qsize") == .perform(.status(queue: "task")))
        #expect(try reply(session.backendAnswered(.status(status))) == .returned(.int(2)))
        _ = try send(task, "empty")
        #expect(try reply(session.backendAnswered(.status(status))) == .returned(PickleGraph(node: .bool(false))))
        _ = try send(task, "full")
        #expect(try reply(session.backendAnswered(.status(status))) == .returned(PickleGraph(node: .bool(true))))
    }

    @Test mutating func taskDoneTooManyTimesIsAValueError() throws {
        try connect()
        #expect(try send(task, "task_done") == .perform(.taskDone(queue: "task")))
        let tooMany = QueueError(.taskDoneTooManyTimes, queue: "task", "task_done() called too many times")
        let answer = session.backendAnswered(.failed(tooMany))
        #expect(
            answer
                == .reply(
                    PythonSession.frame(
                        .error(PythonException.builtin("ValueError", "task_done() called too many times"))
                    )
                )
        )
    }

    @Test mutating func anUnknownIdentIsAKeyErrorAndTheSessionGoesOn() throws {
        try connect()
        guard case .traceback(let text) = try reply(try send("7f00dead0000", "qsize")) else {
            Issue.record("expected a traceback")
            return
        }
        #expect(text.contains("KeyError"))
        #expect(try send(task, "qsize") == .perform(.status(queue: "task")))
    }

    @Test mutating func anUnreadableFirstRequestGetsATracebackAndTheConnectionCloses() throws {
        let action = session.frameReceived(ByteBuffer(bytes: [0x80, 0x04, 0xff])) { _ in nil }
        guard case .replyAndClose = action, case .traceback(let text) = try reply(action) else {
            Issue.record("expected a traceback and close, got \(String(describing: action))")
            return
        }
        #expect(text.contains("UnpicklingError"))
    }

    @Test mutating func aServerFunctionIsServedOnItsOwnConnection() throws {
        let action = try send(nil, "create", [.string("get_task_queue")])
        guard case .serveFunction(.create, let request) = action else {
            Issue.record("expected create to be served, got \(action)")
            return
        }
        #expect(request.arguments.first?.stringValue == "get_task_queue")
        // Nothing else comes on such a connection.
        #expect(try send(task, "qsize") == .none)
    }

    @Test mutating func aResultPutAfterAGetCarriesTheTasksId() throws {
        try connect()
        _ = try send(task, "get")
        _ = session.backendAnswered(
            .tasks([QueuedTask(id: 9, reference: 0, attempt: 1, payload: try Self.pickled(.int(3)))])
        )
        let put = try send(result, "put", [.string("3 * 3 = 9")])
        let expected = NewTask(payload: try Self.pickled(.string("3 * 3 = 9")), reference: 9)
        #expect(put == .perform(.put([expected], queue: "result", wait: .forever)))
        _ = session.backendAnswered(.ids([10]))
        // Only the next put carries it.
        let again = try send(result, "put", [.int(1)])
        #expect(again == .perform(.put([NewTask(payload: try Self.pickled(.int(1)))], queue: "result", wait: .forever)))
    }
}

/// The objects Python clients see: creation, reference counts, and their limit.
@Suite struct PythonObjectsTests {
    private func request(_ method: String, _ argument: String) -> ManagerRequest {
        ManagerRequest(ident: nil, method: method, arguments: [.string(argument)])
    }

    @Test func anObjectWhoseCountDropsToZeroIsForgotten() throws {
        let objects = PythonObjects(typeIDs: [:])
        let created = objects.serve(.create, request("create", "get_task_queue"), allowsShutdown: false)
        guard case .returned(let value) = created.reply, let first = value.elements(of: value.root)?.first,
            let ident = value.stringValue(of: first)
        else {
            Issue.record("expected (ident, exposed), got \(created.reply)")
            return
        }
        #expect(objects.queue(forIdent: ident) == "task")
        #expect(objects.serve(.decref, request("decref", ident), allowsShutdown: false).reply == .returnedNone)
        #expect(objects.queue(forIdent: ident) == nil)
        #expect(objects.count == 0)
    }

    @Test func createsPastTheLimitAreRefusedUntilObjectsAreReleased() {
        let objects = PythonObjects(typeIDs: [:], limit: 3)
        for name in ["a", "b", "c"] {
            #expect(objects.create(queue: name) != nil)
        }
        let refused = objects.serve(.create, request("create", "get_d_queue"), allowsShutdown: false)
        guard case .traceback(let text) = refused.reply else {
            Issue.record("expected a traceback")
            return
        }
        #expect(text.contains("too many Python objects"))
        #expect(objects.count == 3)
        // The same queue again is the same object, not a new one.
        #expect(objects.create(queue: "a") != nil)
        #expect(objects.count == 3)
    }

    @Test func shutdownIsRefusedUnlessAllowed() {
        let objects = PythonObjects(typeIDs: [:])
        let refused = objects.serve(
            .shutdown,
            ManagerRequest(ident: nil, method: "shutdown", arguments: []),
            allowsShutdown: false
        )
        #expect(!refused.stopsMaster)
        let allowed = objects.serve(
            .shutdown,
            ManagerRequest(ident: nil, method: "shutdown", arguments: []),
            allowsShutdown: true
        )
        #expect(allowed.stopsMaster && allowed.reply == .returnedNone)
    }
}
