import Logging
import ManagerWire
import NIOCore
import Pickle
import TaskQueue
import TaskWire

/// Serves a Python `multiprocessing.managers` client, as Python's own manager server would.
///
/// A connection either makes one request to a server function (`create`, `incref`, …) and is
/// closed, or starts with `accept_connection` and then carries method calls on queue proxies,
/// one reply per request. A blocking `get` waits without holding anyone else up, and if the
/// client goes away while it waits, the wait is cancelled: no item is handed to a dead client.
struct PythonSession {
    let context: SessionContext
    var channel: SessionChannel
    /// The last task this connection was given, so that a result the same client puts next
    /// (the classic worker's `get` then `put`) carries its task's id.
    private var lastTask: DeliveredTask?

    /// A task handed to this client by a get.
    struct DeliveredTask: Sendable {
        var queue: String
        var id: TaskID
    }

    init(context: SessionContext, channel: SessionChannel) {
        self.context = context
        self.channel = channel
    }

    mutating func run(first: ByteBuffer) async throws {
        context.registry.identify(channel.id, kind: .python, name: "")
        let request: ManagerRequest
        do throws(ManagerError) {
            request = try ManagerRequest(decoding: Array(first.readableBytesView))
        } catch {
            await send(.traceback(PythonException.traceback("UnpicklingError", error.message)))
            channel.logger.warning("closing: unreadable Python request", metadata: ["error": "\(error)"])
            return
        }
        guard request.ident == nil, let function = ServerFunction(rawValue: request.method) else {
            let name = PythonException.repr(request.method)
            await send(.traceback(PythonException.traceback("AssertionError", "\(name) unrecognized")))
            return
        }
        if function == .acceptConnection {
            let name = request.arguments.first?.stringValue ?? ""
            context.registry.identify(channel.id, kind: .python, name: name)
            channel.logger.info("Python client connected", metadata: ["process": "\(name)"])
            await send(.returnedNone)
            try await serveProxyCalls()
        } else {
            await send(serve(function, request))
        }
    }

    // MARK: Server functions (one request per connection)

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
                channel.logger.warning("refused a remote shutdown request (allow_remote_shutdown is off)")
                return .traceback(
                    PythonException.traceback(
                        "PermissionError",
                        "this task-master does not accept shutdown from clients (start it with --allow-remote-shutdown)"
                    )
                )
            }
            channel.logger.notice("stopping: a Python client asked for shutdown")
            context.requestShutdown()
            return .returnedNone
        case .acceptConnection:
            return .returnedNone
        }
    }

    // MARK: Proxy calls

    /// Serves method calls until the client disconnects. A call that may block runs while the
    /// connection is still watched, so a disconnect cancels it.
    private mutating func serveProxyCalls() async throws {
        try await withThrowingTaskGroup(of: DeliveredTask?.self) {
            (group: inout ThrowingTaskGroup<DeliveredTask?, any Error>) in
            var inFlight = false
            while true {
                let frame = try await channel.inbound.next()
                if inFlight {
                    guard frame != nil else {
                        group.cancelAll()  // the client left while waiting: give up the wait
                        return
                    }
                    // Python sends the next request only after reading the reply.
                    if let delivered = try await group.next() ?? nil { lastTask = delivered }
                    inFlight = false
                }
                guard let frame else { return }
                let request: ManagerRequest
                do throws(ManagerError) {
                    request = try ManagerRequest(decoding: Array(frame.readableBytesView))
                } catch {
                    // As Python: an unreadable request gets a traceback, an empty one ends the connection.
                    guard frame.readableBytes > 0 else { return }
                    await send(.traceback(PythonException.traceback("UnpicklingError", error.message)))
                    continue
                }
                switch prepare(request) {
                case .reply(let reply):
                    await send(reply)
                case .put(let queue, let value, let wait):
                    let reference = lastTask.flatMap { $0.queue != queue ? $0.id : nil } ?? 0
                    lastTask = nil
                    let call = blockingPut(queue: queue, value: value, wait: wait, reference: reference)
                    // Room is the usual case: answer at once, without a task of its own.
                    if await call(false) { continue }
                    group.addTask {
                        _ = await call(true)
                        return nil
                    }
                    inFlight = true
                case .get(let queue, let wait):
                    let call = blockingGet(queue: queue, wait: wait)
                    // An item is usually there: answer at once; only an empty queue needs a task
                    // that waits while the connection is watched.
                    if case .answered(let delivered) = await call(false) {
                        lastTask = delivered
                        continue
                    }
                    group.addTask {
                        if case .answered(let delivered) = await call(true) { return delivered }
                        return nil
                    }
                    inFlight = true
                case .join(let queue):
                    let call = blockingJoin(queue: queue)
                    group.addTask {
                        await call()
                        return nil
                    }
                    inFlight = true
                }
            }
        }
    }

    private enum Prepared {
        case reply(ManagerReply)
        case put(queue: String, value: PickleGraph, wait: QueueCall.Wait)
        case get(queue: String, wait: QueueCall.Wait)
        case join(queue: String)
    }

    /// Checks a proxy call and answers it if it can be answered at once.
    private func prepare(_ request: ManagerRequest) -> Prepared {
        guard let ident = request.ident else {
            // A server function on a proxy connection: Python looks the None ident up and fails.
            return .reply(.traceback(PythonException.traceback("KeyError", "None")))
        }
        guard let queue = context.pythonObjects.queue(forIdent: ident) else {
            return .reply(.traceback(PythonException.traceback("KeyError", PythonException.repr(ident))))
        }
        let call: QueueCall
        do throws(QueueCall.Failure) {
            guard let parsed = try QueueCall.parse(request) else {
                let exposed = "(" + QueueCall.exposed.map { "'\($0)'" }.joined(separator: ", ") + ")"
                return .reply(
                    .traceback(
                        PythonException.traceback(
                            "AttributeError",
                            "method \(PythonException.repr(request.method)) of <class 'queue.Queue'> object is not in exposed=\(exposed)"
                        )
                    )
                )
            }
            call = parsed
        } catch {
            return .reply(.error(error.exception))
        }
        let engine = context.engine
        do {
            switch call {
            case .put(let value, let wait): return .put(queue: queue, value: value, wait: wait)
            case .get(let wait): return .get(queue: queue, wait: wait)
            case .join: return .join(queue: queue)
            case .qsize: return .reply(.returned(.int(try engine.snapshot(of: queue).depth)))
            case .empty: return .reply(.returned(PickleGraph(node: .bool(try engine.snapshot(of: queue).depth == 0))))
            case .full:
                let snapshot = try engine.snapshot(of: queue)
                return .reply(
                    .returned(PickleGraph(node: .bool(snapshot.maxSize > 0 && snapshot.depth >= snapshot.maxSize)))
                )
            case .taskDone:
                do {
                    try engine.taskDone(queue)
                    return .reply(.returnedNone)
                } catch  where error.code == .taskDoneTooManyTimes {
                    return .reply(.error(PythonException.builtin("ValueError", "task_done() called too many times")))
                }
            case .repr:
                return .reply(.returned(.string("<task-master queue '\(queue)'>")))
            }
        } catch {
            return .reply(.traceback(PythonException.traceback("RuntimeError", "\(error)")))
        }
    }

    /// A put. Called with `mayWait` false it only tries (and answers unless it would have to
    /// wait); with true it waits as the call asked. Returns whether it answered.
    private func blockingPut(
        queue: String,
        value: PickleGraph,
        wait: QueueCall.Wait,
        reference: TaskID
    )
        -> @Sendable (_ mayWait: Bool) async -> Bool
    {
        let engine = context.engine
        let outbound = channel.outbound
        let payload = Result { try value.pickled() }
        return { mayWait in
            let reply: ManagerReply
            do {
                let task = NewTask(payload: try payload.get(), reference: reference)
                _ = try await engine.put([task], into: queue, wait: mayWait ? wait.limit : .none)
                reply = .returnedNone
            } catch let error as QueueError where error.code == .queueFull {
                guard mayWait || wait == .noWait else { return false }
                reply = .error(PythonException.full)
            } catch is CancellationError {
                return true
            } catch {
                reply = .traceback(PythonException.traceback("RuntimeError", "\(error)"))
            }
            try? await outbound.write(Self.frame(reply))
            return true
        }
    }

    /// What a get did.
    enum GetOutcome: Sendable {
        /// It replied; with the task it handed out, if any.
        case answered(DeliveredTask?)
        /// It would have had to wait, and was not allowed to.
        case wouldWait
    }

    /// A get: the item is leased to this connection until its reply is handed to the socket,
    /// then acknowledged (Python has no acks of its own).
    /// A get. Called with `mayWait` false it only takes what is there (and answers unless it
    /// would have to wait); with true it waits as the call asked.
    private func blockingGet(queue: String, wait: QueueCall.Wait) -> @Sendable (_ mayWait: Bool) async -> GetOutcome {
        let engine = context.engine
        let outbound = channel.outbound
        let consumer = channel.id
        return { mayWait in
            let tasks: [QueuedTask]
            do {
                tasks = try await engine.get(
                    from: queue,
                    maxItems: 1,
                    consumer: consumer,
                    wait: mayWait ? wait.limit : .none
                )
            } catch is CancellationError {
                return .answered(nil)
            } catch {
                try? await outbound.write(Self.frame(.traceback(PythonException.traceback("RuntimeError", "\(error)"))))
                return .answered(nil)
            }
            guard let task = tasks.first else {
                guard mayWait || wait == .noWait else { return .wouldWait }
                try? await outbound.write(Self.frame(.error(PythonException.empty)))
                return .answered(nil)
            }
            let value = (try? PickleReader.read(task.payload)) ?? .bytes(task.payload)
            do {
                try await outbound.write(Self.frame(.returned(value)))
                await engine.ack([task.id], in: queue, consumer: consumer, markDone: false)
                return .answered(DeliveredTask(queue: queue, id: task.id))
            } catch {
                await engine.nack([task.id], in: queue, consumer: consumer)
                return .answered(nil)
            }
        }
    }

    private func blockingJoin(queue: String) -> @Sendable () async -> Void {
        let engine = context.engine
        let outbound = channel.outbound
        return {
            do {
                try await engine.join(queue)
                try? await outbound.write(Self.frame(.returnedNone))
            } catch is CancellationError {
            } catch {
                try? await outbound.write(Self.frame(.traceback(PythonException.traceback("RuntimeError", "\(error)"))))
            }
        }
    }

    private func send(_ reply: ManagerReply) async {
        try? await channel.outbound.write(Self.frame(reply))
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
