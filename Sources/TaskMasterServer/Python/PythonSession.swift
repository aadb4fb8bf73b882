import Logging
import ManagerWire
import NIOCore
import Pickle
import TaskQueue

/// Serves a Python `multiprocessing.managers` client, as Python's own manager server would:
/// decides, request by request, what to do and answer. ``PythonSessionHandler`` carries the
/// actions out on the connection's event loop.
///
/// A connection either makes one request to a server function (`create`, `incref`, …) and is
/// closed, or starts with `accept_connection` and then carries method calls on queue proxies,
/// one reply per request. Calls that can be answered at once (the usual case: an item is
/// there, there is room) are answered without leaving the event loop; a call that has to wait
/// (a blocking get on an empty queue, a put on a full one, `join`, a commit to disk) becomes a
/// ``Action/wait(_:)`` whose outcome comes back through ``waitEnded(_:)``.
struct PythonSession {
    let context: SessionContext
    /// The connection's id, which is also its consumer id for leases.
    let connection: UInt64
    var logger: Logger
    private var state = State.expectingFirstRequest
    /// The last task this connection was given, so that a result the same client puts next
    /// (the classic worker's `get` then `put`) carries its task's id.
    private var lastTask: DeliveredTask?

    private enum State {
        case expectingFirstRequest
        case servingProxyCalls
        case waiting
        case ended
    }

    /// A task handed to this client by a get: acknowledged once its reply is handed to the
    /// socket (Python has no acks of its own), given back if that fails.
    struct DeliveredTask: Sendable, Hashable {
        var queue: String
        var id: TaskID
    }

    /// What the handler does next.
    enum Action {
        /// Write and flush this reply.
        case reply(ByteBuffer)
        /// Write and flush this reply, then settle the task it delivers.
        case deliver(ByteBuffer, DeliveredTask)
        /// Write and flush this reply, then close the connection.
        case replyAndClose(ByteBuffer)
        /// Run this off the event loop and hand its outcome to ``PythonSession/waitEnded(_:)``.
        /// Cancelled if the connection closes first.
        case wait(@Sendable () async -> WaitOutcome)
        /// Close the connection.
        case close
    }

    /// How a wait ended.
    enum WaitOutcome: Sendable {
        case reply(ByteBuffer)
        case deliver(ByteBuffer, DeliveredTask)
        /// Cancelled: there is no one left to answer.
        case cancelled

        /// How a wait that threw ends: cancelled, or a `RuntimeError` for the client.
        static func failed(_ error: any Error) -> WaitOutcome {
            if error is CancellationError { return .cancelled }
            return .reply(PythonSession.frame(.traceback(PythonException.traceback("RuntimeError", "\(error)"))))
        }
    }

    init(context: SessionContext, connection: UInt64, logger: Logger) {
        self.context = context
        self.connection = connection
        self.logger = logger
    }

    // MARK: Events

    /// A request frame arrived.
    mutating func frameReceived(_ frame: ByteBuffer) -> Action {
        switch state {
        case .expectingFirstRequest:
            return firstRequest(frame)
        case .servingProxyCalls:
            return proxyCall(frame)
        case .waiting:
            // Python sends the next request only after reading the reply.
            logger.warning("closing: a Python client sent a request before the reply to its last one")
            state = .ended
            return .close
        case .ended:
            return .close
        }
    }

    /// A ``Action/wait(_:)`` ended.
    mutating func waitEnded(_ outcome: WaitOutcome) -> Action? {
        guard case .waiting = state else { return nil }
        state = .servingProxyCalls
        switch outcome {
        case .reply(let reply):
            return .reply(reply)
        case .deliver(let reply, let task):
            lastTask = task
            return .deliver(reply, task)
        case .cancelled:
            return nil
        }
    }

    // MARK: The first request

    private mutating func firstRequest(_ frame: ByteBuffer) -> Action {
        context.registry.identify(connection, kind: .python, name: "")
        let request: ManagerRequest
        do throws(ManagerError) {
            request = try ManagerRequest(decoding: Array(frame.readableBytesView))
        } catch {
            logger.warning("closing: unreadable Python request", metadata: ["error": "\(error)"])
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
            return .replyAndClose(Self.frame(serve(function, request)))
        }
        let name = request.arguments.first?.stringValue ?? ""
        context.registry.identify(connection, kind: .python, name: name)
        logger.info("Python client connected", metadata: ["process": "\(name)"])
        state = .servingProxyCalls
        return .reply(Self.frame(.returnedNone))
    }

    /// A server function: one request per connection.
    private func serve(_ function: ServerFunction, _ request: ManagerRequest) -> ManagerReply {
        let objects = context.pythonObjects
        switch function {
        case .dummy:
            return .returnedNone
        case .create:
            guard let typeID = request.arguments.first?.stringValue else {
                return .traceback(PythonException.traceback("TypeError", "create() needs a typeid"))
            }
            guard let queue = objects.queue(forTypeID: typeID) else {
                return .traceback(PythonException.traceback("KeyError", PythonException.repr(typeID)))
            }
            do {
                try context.engine.validate(queueName: queue)
            } catch {
                return .traceback(PythonException.traceback("ValueError", error.message))
            }
            let ident = objects.create(queue: queue)
            let exposed = PickleGraph.tuple(QueueCall.exposed.map { .string($0) })
            return .returned(.tuple([.string(ident), exposed]))
        case .incref, .decref:
            guard let ident = request.arguments.first?.stringValue,
                objects.changeReferences(ident, by: function == .incref ? 1 : -1)
            else {
                let ident = request.arguments.first?.stringValue ?? "?"
                return .traceback(PythonException.traceback("KeyError", PythonException.repr(ident)))
            }
            return .returnedNone
        case .getMethods:
            return .returned(.tuple(QueueCall.exposed.map { .string($0) }))
        case .numberOfObjects:
            return .returned(.int(objects.referencedCount))
        case .debugInfo:
            return .returned(.string(objects.debugInfo))
        case .shutdown:
            guard context.configuration.allowRemoteShutdown else {
                logger.warning("refused a remote shutdown request (allow_remote_shutdown is off)")
                return .traceback(
                    PythonException.traceback(
                        "PermissionError",
                        "this task-master does not accept shutdown from clients (start it with --allow-remote-shutdown)"
                    )
                )
            }
            logger.notice("stopping: a Python client asked for shutdown")
            context.requestShutdown()
            return .returnedNone
        case .acceptConnection:
            return .returnedNone
        }
    }

    // MARK: Proxy calls

    private mutating func proxyCall(_ frame: ByteBuffer) -> Action {
        // As Python: an empty request ends the connection, an unreadable one gets a traceback.
        guard frame.readableBytes > 0 else {
            state = .ended
            return .close
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
        guard let queue = context.pythonObjects.queue(forIdent: ident) else {
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
        do {
            return try perform(call, on: queue)
        } catch {
            return .reply(Self.frame(.traceback(PythonException.traceback("RuntimeError", "\(error)"))))
        }
    }

    private mutating func perform(_ call: QueueCall, on queue: String) throws -> Action {
        let engine = context.engine
        switch call {
        case .put(let value, let wait):
            let reference = lastTask.flatMap { $0.queue != queue ? $0.id : nil } ?? 0
            lastTask = nil
            return try put(value, into: queue, wait: wait, reference: reference)
        case .get(let wait):
            return try get(from: queue, wait: wait)
        case .join:
            return waiting {
                do {
                    try await engine.join(queue)
                    return .reply(Self.frame(.returnedNone))
                } catch {
                    return .failed(error)
                }
            }
        case .qsize:
            return .reply(Self.frame(.returned(.int(try engine.snapshot(of: queue).depth))))
        case .empty:
            return .reply(Self.frame(.returned(PickleGraph(node: .bool(try engine.snapshot(of: queue).depth == 0)))))
        case .full:
            let snapshot = try engine.snapshot(of: queue)
            let full = snapshot.maxSize > 0 && snapshot.depth >= snapshot.maxSize
            return .reply(Self.frame(.returned(PickleGraph(node: .bool(full)))))
        case .taskDone:
            do throws(QueueError) {
                try engine.taskDone(queue)
            } catch {
                guard error.code == .taskDoneTooManyTimes else { throw error }
                return .reply(
                    Self.frame(.error(PythonException.builtin("ValueError", "task_done() called too many times")))
                )
            }
            return .reply(Self.frame(.returnedNone))
        case .repr:
            return .reply(Self.frame(.returned(.string("<task-master queue '\(queue)'>"))))
        }
    }

    /// A put: answered at once when there is room (once durable, with a store that waits for
    /// the disk); otherwise `Full` at once, or a wait for room as the call asked.
    private mutating func put(
        _ value: PickleGraph,
        into queue: String,
        wait: QueueCall.Wait,
        reference: TaskID
    )
        throws -> Action
    {
        let engine = context.engine
        let task = NewTask(payload: try value.pickled(), reference: reference)
        if try engine.putIfRoom([task], into: queue) != nil {
            guard let mark = engine.durabilityMark() else { return .reply(Self.frame(.returnedNone)) }
            return waiting {
                await engine.waitUntilDurable(mark)
                return .reply(Self.frame(.returnedNone))
            }
        }
        guard wait != .noWait else { return .reply(Self.frame(.error(PythonException.full))) }
        return waiting {
            do {
                _ = try await engine.put([task], into: queue, wait: wait.limit)
                return .reply(Self.frame(.returnedNone))
            } catch let error as QueueError where error.code == .queueFull {
                return .reply(Self.frame(.error(PythonException.full)))
            } catch {
                return .failed(error)
            }
        }
    }

    /// A get: the item that is there, or `Empty` at once, or a wait for one as the call asked.
    private mutating func get(from queue: String, wait: QueueCall.Wait) throws -> Action {
        let engine = context.engine
        if let task = try engine.getIfThere(from: queue, maxItems: 1, consumer: connection).first {
            let delivered = DeliveredTask(queue: queue, id: task.id)
            lastTask = delivered
            return .deliver(Self.frame(.returned(Self.value(of: task))), delivered)
        }
        guard wait != .noWait else { return .reply(Self.frame(.error(PythonException.empty))) }
        let consumer = connection
        return waiting {
            do {
                let tasks = try await engine.get(from: queue, maxItems: 1, consumer: consumer, wait: wait.limit)
                guard let task = tasks.first else { return .reply(Self.frame(.error(PythonException.empty))) }
                return .deliver(Self.frame(.returned(Self.value(of: task))), DeliveredTask(queue: queue, id: task.id))
            } catch {
                return .failed(error)
            }
        }
    }

    private mutating func waiting(_ work: @escaping @Sendable () async -> WaitOutcome) -> Action {
        state = .waiting
        return .wait(work)
    }

    /// A task's payload as the value to return: what a Python client put, or for a task put by a
    /// native client, its bytes.
    private static func value(of task: QueuedTask) -> PickleGraph {
        (try? PickleReader.read(task.payload)) ?? .bytes(task.payload)
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
