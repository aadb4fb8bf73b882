import Synchronization

/// The objects Python clients see: each queue they reach through a typeid gets one object id
/// (`ident`), stable for the master's life, with the reference count Python's protocol keeps.
///
/// Queues outlive their Python references here: a count that drops to zero does not delete
/// the queue, so a client that skipped an `incref` can't lose another client's tasks.
final class PythonObjects: Sendable {
    private struct State {
        var identByQueue: [String: String] = [:]
        var queueByIdent: [String: String] = [:]
        var references: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private let typeIDs: [String: String]

    /// - Parameter typeIDs: configured typeids and their queues, besides `get_<name>_queue`.
    init(typeIDs: [String: String]) {
        self.typeIDs = typeIDs
    }

    /// The queue a typeid serves: configured ones first, then `get_<name>_queue` → `<name>`.
    func queue(forTypeID typeID: String) -> String? {
        if let queue = typeIDs[typeID] { return queue }
        guard typeID.hasPrefix("get_"), typeID.hasSuffix("_queue"), typeID.count > "get__queue".count else {
            return nil
        }
        return String(typeID.dropFirst(4).dropLast(6))
    }

    /// `create`: the object for `queue`, with one more reference.
    func create(queue: String) -> String {
        state.withLock { state in
            let ident: String
            if let existing = state.identByQueue[queue] {
                ident = existing
            } else {
                // 12 hex digits, like CPython's id()-based idents, so frame sizes match Python's.
                let ordinal = UInt64(state.identByQueue.count + 1)
                ident = String(0x7f00_0000_0000 + ordinal * 0x40, radix: 16)
                state.identByQueue[queue] = ident
                state.queueByIdent[ident] = queue
            }
            state.references[ident, default: 0] += 1
            return ident
        }
    }

    /// The queue of an object id, if it is one.
    func queue(forIdent ident: String) -> String? {
        state.withLock { $0.queueByIdent[ident] }
    }

    /// `incref` / `decref`; false for an unknown ident.
    func changeReferences(_ ident: String, by delta: Int) -> Bool {
        state.withLock { state in
            guard state.queueByIdent[ident] != nil else { return false }
            state.references[ident] = max(0, state.references[ident, default: 0] + delta)
            return true
        }
    }

    /// `number_of_objects`: objects with references.
    var referencedCount: Int {
        state.withLock { $0.references.values.filter { $0 > 0 }.count }
    }

    /// `debug_info`: one line per object.
    var debugInfo: String {
        state.withLock { state in
            state.queueByIdent.sorted { $0.key < $1.key }.map { ident, queue in
                "  \(ident):       refcount=\(state.references[ident, default: 0])\n    <queue '\(queue)'>"
            }.joined(separator: "\n")
        }
    }
}
