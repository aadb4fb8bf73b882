import ManagerWire
import Pickle
import QueueBackend
import Synchronization

/// The objects Python clients see: each queue they reach through a typeid gets an object id
/// (`ident`) with the reference count Python's protocol keeps, and the server functions
/// (`create`, `incref`, `decref`, …) that work on them.
///
/// As in Python's own server, an object whose count drops to zero is forgotten (its queue and
/// its tasks stay: queues are the master's, not the client's). At most ``limit`` objects exist
/// at once: a client that creates objects without ever releasing them is refused, not served
/// until the master runs out of memory.
final class PythonObjects: Sendable {
    private struct State {
        var identByQueue: [String: String] = [:]
        var queueByIdent: [String: String] = [:]
        var references: [String: Int] = [:]
        var nextOrdinal: UInt64 = 1
    }

    private let state = Mutex(State())
    private let typeIDs: [String: String]
    private let queueLimits: QueueLimits
    /// Objects that may exist at once.
    let limit: Int

    /// - Parameters:
    ///   - typeIDs: configured typeids and their queues, besides `get_<name>_queue`.
    ///   - queueLimits: to check queue names.
    ///   - limit: objects that may exist at once.
    init(typeIDs: [String: String], queueLimits: QueueLimits = QueueLimits(), limit: Int = 10_000) {
        self.typeIDs = typeIDs
        self.queueLimits = queueLimits
        self.limit = limit
    }

    /// The queue a typeid serves: configured ones first, then `get_<name>_queue` → `<name>`.
    func queue(forTypeID typeID: String) -> String? {
        if let queue = typeIDs[typeID] { return queue }
        guard typeID.hasPrefix("get_"), typeID.hasSuffix("_queue"), typeID.count > "get__queue".count else {
            return nil
        }
        return String(typeID.dropFirst(4).dropLast(6))
    }

    /// The queue of an object id, if it is one.
    func queue(forIdent ident: String) -> String? {
        state.withLock { $0.queueByIdent[ident] }
    }

    /// How many objects exist.
    var count: Int { state.withLock { $0.queueByIdent.count } }

    /// `create`: the object for `queue`, with one more reference; nil past the limit.
    func create(queue: String) -> String? {
        state.withLock { state in
            let ident: String
            if let existing = state.identByQueue[queue] {
                ident = existing
            } else {
                guard state.identByQueue.count < limit else { return nil }
                // 12 hex digits, like CPython's id()-based idents, so frame sizes match Python's.
                ident = String(0x7f00_0000_0000 + state.nextOrdinal * 0x40, radix: 16)
                state.nextOrdinal += 1
                state.identByQueue[queue] = ident
                state.queueByIdent[ident] = queue
            }
            state.references[ident, default: 0] += 1
            return ident
        }
    }

    /// `incref` / `decref`; false for an unknown ident. An object whose count reaches zero is
    /// forgotten.
    func changeReferences(_ ident: String, by delta: Int) -> Bool {
        state.withLock { state in
            guard let queue = state.queueByIdent[ident] else { return false }
            let count = state.references[ident, default: 0] + delta
            if count <= 0 {
                state.references[ident] = nil
                state.queueByIdent[ident] = nil
                state.identByQueue[queue] = nil
            } else {
                state.references[ident] = count
            }
            return true
        }
    }

    /// What a server function answers, and whether it asks the master to stop.
    struct Outcome {
        var reply: ManagerReply
        var stopsMaster = false
        /// Something worth a log line (a refused shutdown, the object limit reached).
        var notice: String?
    }

    /// Serves a server function (one request on its own connection).
    func serve(_ function: ServerFunction, _ request: ManagerRequest, allowsShutdown: Bool) -> Outcome {
        switch function {
        case .dummy, .acceptConnection:
            return Outcome(reply: .returnedNone)
        case .create:
            guard let typeID = request.arguments.first?.stringValue else {
                return Outcome(reply: .traceback(PythonException.traceback("TypeError", "create() needs a typeid")))
            }
            guard let queue = queue(forTypeID: typeID) else {
                return Outcome(reply: .traceback(PythonException.traceback("KeyError", PythonException.repr(typeID))))
            }
            do {
                try queueLimits.validate(queueName: queue)
            } catch {
                return Outcome(reply: .traceback(PythonException.traceback("ValueError", error.message)))
            }
            guard let ident = create(queue: queue) else {
                let message =
                    "too many Python objects on this master (at most \(limit)); release proxies you no longer use"
                return Outcome(
                    reply: .traceback(PythonException.traceback("RuntimeError", message)),
                    notice: "refused a Python create: \(limit) objects exist"
                )
            }
            let exposed = PickleGraph.tuple(QueueCall.exposed.map { .string($0) })
            return Outcome(reply: .returned(.tuple([.string(ident), exposed])))
        case .incref, .decref:
            guard let ident = request.arguments.first?.stringValue,
                changeReferences(ident, by: function == .incref ? 1 : -1)
            else {
                let ident = request.arguments.first?.stringValue ?? "?"
                return Outcome(reply: .traceback(PythonException.traceback("KeyError", PythonException.repr(ident))))
            }
            return Outcome(reply: .returnedNone)
        case .getMethods:
            return Outcome(reply: .returned(.tuple(QueueCall.exposed.map { .string($0) })))
        case .numberOfObjects:
            return Outcome(reply: .returned(.int(count)))
        case .debugInfo:
            return Outcome(reply: .returned(.string(debugInfo)))
        case .shutdown:
            guard allowsShutdown else {
                return Outcome(
                    reply: .traceback(
                        PythonException.traceback(
                            "PermissionError",
                            "this task-master does not accept shutdown from clients (start it with --allow-remote-shutdown)"
                        )
                    ),
                    notice: "refused a remote shutdown request (allow_remote_shutdown is off)"
                )
            }
            return Outcome(
                reply: .returnedNone,
                stopsMaster: true,
                notice: "stopping: a Python client asked for shutdown"
            )
        }
    }

    /// `debug_info`: one line per object.
    private var debugInfo: String {
        state.withLock { state in
            state.queueByIdent.sorted { $0.key < $1.key }.map { ident, queue in
                "  \(ident):       refcount=\(state.references[ident, default: 0])\n    <queue '\(queue)'>"
            }.joined(separator: "\n")
        }
    }
}
