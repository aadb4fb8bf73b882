import ManagerWire
import NIOCore
import Pickle
import QueueBackend

/// Serves a Python `multiprocessing.managers` client as Python's own manager server would, as a
/// state machine: request frames and backend answers in, an ``Action`` out for
/// ``PythonSessionHandler`` to carry out. No I/O, no backend, no shared state: the object ids a
/// request names are looked up through the function the caller passes in.
///
/// A connection either makes one request to a server function (`create`, `incref`, …) and is
/// closed, or starts with `accept_connection` and then carries method calls on queue proxies,
/// one reply per request: a call becomes a backend call, and its answer the reply.
struct PythonSession {
    /// A task handed to this client by a get: acknowledged once its reply is handed to the
    /// socket (Python has no acks of its own), given back if that fails.
    struct DeliveredTask: Sendable, Hashable {
        var queue: String
        var id: TaskID
    }

    /// What the handler does next.
    enum Action: Equatable {
        case none
        /// Write and flush this reply.
        case reply(ByteBuffer)
        /// Write and flush this reply, then settle the task it delivers.
        case deliver(ByteBuffer, DeliveredTask)
        /// Write and flush this reply, then close the connection.
        case replyAndClose(ByteBuffer)
        /// The client introduced itself (`accept_connection`): record it, write this reply.
        case welcome(name: String, reply: ByteBuffer)
        /// Serve this server function (the object table's business), reply, close.
        case serveFunction(ServerFunction, ManagerRequest)
        /// Make this backend call; its answer goes to ``backendAnswered(_:)``.
        case perform(BackendCall)
        /// Close the connection, with why when it is worth a log line.
        case close(reason: String?)
    }

    /// The queue call waiting for its backend answer.
    private enum Pending {
        case put
        case get(queue: String)
        case join
        case qsize, empty, full
        case taskDone
    }

    private enum State {
        case expectingFirstRequest
        case servingProxyCalls
        case waiting(Pending)
        case ended
    }

    private var state = State.expectingFirstRequest
    /// The last task this connection was given, so that a result the same client puts next
    /// (the classic worker's `get` then `put`) carries its task's id.
    private var lastTask: DeliveredTask?

    init() {}

    // MARK: Events

    /// A request frame arrived; `objects` finds the queue of an object id.
    mutating func frameReceived(_ frame: ByteBuffer, objects: (String) -> String?) -> Action {
        switch state {
        case .expectingFirstRequest:
            return firstRequest(frame)
        case .servingProxyCalls:
            return proxyCall(frame, objects: objects)
        case .waiting:
            // Python sends the next request only after reading the reply.
            state = .ended
            return .close(reason: "a Python client sent a request before the reply to its last one")
        case .ended:
            return .none
        }
    }

    /// A backend call answered.
    mutating func backendAnswered(_ answer: BackendAnswer) -> Action {
        guard case .waiting(let pending) = state else { return .none }
        state = .servingProxyCalls
        if case .failed(let error) = answer {
            return failed(error, pending)
        }
        switch (pending, answer) {
        case (.put, .ids), (.join, .done), (.taskDone, .done):
            return .reply(Self.frame(.returnedNone))
        case (.get(let queue), .tasks(let tasks)):
            guard let task = tasks.first else { return .reply(Self.frame(.error(PythonException.empty))) }
            let delivered = DeliveredTask(queue: queue, id: task.id)
            lastTask = delivered
            return .deliver(Self.frame(.returned(Self.value(of: task))), delivered)
        case (.qsize, .status(let status)):
            return .reply(Self.frame(.returned(.int(status.depth))))
        case (.empty, .status(let status)):
            return .reply(Self.frame(.returned(PickleGraph(node: .bool(status.depth == 0)))))
        case (.full, .status(let status)):
            let full = status.maxSize > 0 && status.depth >= status.maxSize
            return .reply(Self.frame(.returned(PickleGraph(node: .bool(full)))))
        default:
            return .reply(
                Self.frame(.traceback(PythonException.traceback("RuntimeError", "unexpected answer \(answer)")))
            )
        }
    }

    private mutating func failed(_ error: QueueError, _ pending: Pending) -> Action {
        switch (pending, error.code) {
        case (_, .cancelled):
            state = .ended
            return .none  // the client is gone: there is no one to answer
        case (.put, .queueFull), (.put, .memoryLimit):
            return .reply(Self.frame(.error(PythonException.full)))
        case (.taskDone, .taskDoneTooManyTimes):
            return .reply(
                Self.frame(.error(PythonException.builtin("ValueError", "task_done() called too many times")))
            )
        default:
            return .reply(Self.frame(.traceback(PythonException.traceback("RuntimeError", error.message))))
        }
    }

    // MARK: The first request

    private mutating func firstRequest(_ frame: ByteBuffer) -> Action {
        let request: ManagerRequest
        do throws(ManagerError) {
            request = try ManagerRequest(decoding: Array(frame.readableBytesView))
        } catch {
            state = .ended
            return .replyAndClose(Self.frame(.traceback(PythonException.traceback("UnpicklingError", error.message))))
        }
        guard request.ident == nil, let function = ServerFunction(rawValue: request.method) else {
            let name = PythonException.repr(request.method)
            state = .ended
            return .replyAndClose(
                Self.frame(.traceback(PythonException.traceback("AssertionError", "\(name) unrecognized")))
            )
        }
        guard function == .acceptConnection else {
            state = .ended
            return .serveFunction(function, request)
        }
        state = .servingProxyCalls
        return .welcome(name: request.arguments.first?.stringValue ?? "", reply: Self.frame(.returnedNone))
    }

    // MARK: Proxy calls

    private mutating func proxyCall(_ frame: ByteBuffer, objects: (String) -> String?) -> Action {
        // As Python: an empty request ends the connection, an unreadable one gets a traceback.
        guard frame.readableBytes > 0 else {
            state = .ended
            return .close(reason: nil)
        }
        let request: ManagerRequest
        do throws(ManagerError) {
            request = try ManagerRequest(decoding: Array(frame.readableBytesView))
        } catch {
            return .reply(Self.frame(.traceback(PythonException.traceback("UnpicklingError", error.message))))
        }
        guard let ident = request.ident else {
            // A server function on a proxy connection: Python looks the None ident up and fails.
            return .reply(Self.frame(.traceback(PythonException.traceback("KeyError", "None"))))
        }
        guard let queue = objects(ident) else {
            return .reply(Self.frame(.traceback(PythonException.traceback("KeyError", PythonException.repr(ident)))))
        }
        let call: QueueCall
        do throws(QueueCall.Failure) {
            guard let parsed = try QueueCall.parse(request) else {
                let exposed = "(" + QueueCall.exposed.map { "'\($0)'" }.joined(separator: ", ") + ")"
                return .reply(
                    Self.frame(
                        .traceback(
                            PythonException.traceback(
                                "AttributeError",
                                "method \(PythonException.repr(request.method)) of <class 'queue.Queue'> object is not in exposed=\(exposed)"
                            )
                        )
                    )
                )
            }
            call = parsed
        } catch {
            return .reply(Self.frame(.error(error.exception)))
        }
        return perform(call, on: queue)
    }

    private mutating func perform(_ call: QueueCall, on queue: String) -> Action {
        switch call {
        case .put(let value, let wait):
            let reference = lastTask.flatMap { $0.queue != queue ? $0.id : nil } ?? 0
            lastTask = nil
            let payload: [UInt8]
            do {
                payload = try value.pickled()
            } catch {
                return .reply(Self.frame(.traceback(PythonException.traceback("PicklingError", "\(error)"))))
            }
            let task = NewTask(payload: ByteBuffer(bytes: payload), reference: reference)
            return waiting(.put, .put([task], queue: queue, wait: wait.limit))
        case .get(let wait):
            return waiting(.get(queue: queue), .get(queue: queue, maxItems: 1, wait: wait.limit))
        case .join:
            return waiting(.join, .join(queue: queue))
        case .qsize:
            return waiting(.qsize, .status(queue: queue))
        case .empty:
            return waiting(.empty, .status(queue: queue))
        case .full:
            return waiting(.full, .status(queue: queue))
        case .taskDone:
            return waiting(.taskDone, .taskDone(queue: queue))
        case .repr:
            return .reply(Self.frame(.returned(.string("<task-master queue '\(queue)'>"))))
        }
    }

    private mutating func waiting(_ pending: Pending, _ call: BackendCall) -> Action {
        state = .waiting(pending)
        return .perform(call)
    }

    /// A task's payload as the value to return: what a Python client put, or for a task put by a
    /// native client, its bytes.
    private static func value(of task: QueuedTask) -> PickleGraph {
        let bytes = Array(task.payload.readableBytesView)
        return (try? PickleReader.read(bytes)) ?? .bytes(bytes)
    }

    static func frame(_ reply: ManagerReply) -> ByteBuffer {
        // A reply that can't be pickled (never for values we read) is reported as Python would.
        let bytes =
            (try? reply.encoded()) ?? (try? ManagerReply.unserializable("the reply could not be pickled").encoded())
            ?? []
        return ByteBuffer(bytes: bytes)
    }
}

extension QueueCall.Wait {
    var limit: WaitLimit {
        switch self {
        case .noWait: return .none
        case .seconds(let seconds): return .duration(.milliseconds(Int64((seconds * 1000).rounded(.up))))
        case .forever: return .forever
        }
    }
}
