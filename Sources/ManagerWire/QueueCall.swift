import Pickle

/// A method call on a `queue.Queue` proxy, checked the way Python checks the signatures
/// (`put(item, block=True, timeout=None)`, `get(block=True, timeout=None)`, …).
public enum QueueCall: Hashable, Sendable {
    /// How long a blocking call may wait.
    public enum Wait: Hashable, Sendable {
        /// `block=False` (or `*_nowait`).
        case noWait
        /// `timeout=seconds`.
        case seconds(Double)
        /// `block=True, timeout=None`.
        case forever
    }

    case put(PickleGraph, Wait)
    case get(Wait)
    case qsize
    case empty
    case full
    case taskDone
    case join
    /// `__repr__` / `__str__`, which Python's server answers for any object.
    case repr

    /// The methods a `queue.Queue` proxy exposes (Python 3.11/3.12's list, sorted; 3.13 adds
    /// `shutdown`, which this server does not offer and clients accept without).
    public static let exposed = [
        "empty", "full", "get", "get_nowait", "join", "put", "put_nowait", "qsize", "task_done",
    ]

    /// What a bad call raises in Python: an exception to send back as `#ERROR`.
    public struct Failure: Error, Hashable, Sendable {
        public var exception: PickleGraph
        public var description: String

        static func typeError(_ message: String) -> Failure {
            Failure(exception: PythonException.builtin("TypeError", message), description: "TypeError: \(message)")
        }

        static func valueError(_ message: String) -> Failure {
            Failure(exception: PythonException.builtin("ValueError", message), description: "ValueError: \(message)")
        }
    }

    /// Checks `method(*arguments, **keywords)` against `queue.Queue`'s signatures.
    ///
    /// - Returns: nil if `method` is not one the queue exposes (the caller reports that as
    ///   Python's server does).
    public static func parse(_ request: ManagerRequest) throws(Failure) -> QueueCall? {
        let method = request.method
        switch method {
        case "put":
            let bound = try bind(request, parameters: ["item", "block", "timeout"], required: 1)
            let wait = try waitTime(block: bound[1], timeout: bound[2])
            return .put(bound[0]!, wait)
        case "put_nowait":
            let bound = try bind(request, parameters: ["item"], required: 1)
            return .put(bound[0]!, .noWait)
        case "get":
            let bound = try bind(request, parameters: ["block", "timeout"], required: 0)
            return .get(try waitTime(block: bound[0], timeout: bound[1]))
        case "get_nowait":
            _ = try bind(request, parameters: [], required: 0)
            return .get(.noWait)
        case "qsize":
            _ = try bind(request, parameters: [], required: 0)
            return .qsize
        case "empty":
            _ = try bind(request, parameters: [], required: 0)
            return .empty
        case "full":
            _ = try bind(request, parameters: [], required: 0)
            return .full
        case "task_done":
            _ = try bind(request, parameters: [], required: 0)
            return .taskDone
        case "join":
            _ = try bind(request, parameters: [], required: 0)
            return .join
        case "__repr__", "__str__":
            return .repr
        default:
            return nil
        }
    }

    /// Matches positional and keyword arguments to parameter names, as Python's call does.
    private static func bind(
        _ request: ManagerRequest,
        parameters: [String],
        required: Int
    ) throws(Failure)
        -> [PickleGraph?]
    {
        let name = "Queue.\(request.method)()"
        guard request.arguments.count <= parameters.count else {
            let range =
                required == parameters.count
                ? "\(parameters.count + 1)" : "from \(required + 1) to \(parameters.count + 1)"
            throw .typeError(
                "\(name) takes \(range) positional argument\(parameters.count == 0 ? "" : "s") but \(request.arguments.count + 1) were given"
            )
        }
        var bound: [PickleGraph?] =
            request.arguments.map { $0 } + Array(repeating: nil, count: parameters.count - request.arguments.count)
        for keyword in request.keywords {
            guard let index = parameters.firstIndex(of: keyword.name) else {
                throw .typeError("\(name) got an unexpected keyword argument '\(keyword.name)'")
            }
            guard bound[index] == nil else {
                throw .typeError("\(name) got multiple values for argument '\(keyword.name)'")
            }
            bound[index] = keyword.value
        }
        let missing = parameters.prefix(required).indices.filter { bound[$0] == nil }.map { "'\(parameters[$0])'" }
        guard missing.isEmpty else {
            throw .typeError(
                "\(name) missing \(missing.count) required positional argument\(missing.count == 1 ? "" : "s"): \(missing.joined(separator: " and "))"
            )
        }
        return bound
    }

    private static func waitTime(block: PickleGraph?, timeout: PickleGraph?) throws(Failure) -> Wait {
        guard truth(block ?? .int(1)) else { return .noWait }
        guard let timeout, timeout.rootNode != .none else { return .forever }
        let seconds: Double
        switch timeout.rootNode {
        case .int(let n): seconds = Double(n)
        case .bigInt: seconds = timeout.integerValue.map { $0.sign == .minus ? -1 : .infinity } ?? .infinity
        case .float(let bits): seconds = Double(bitPattern: bits)
        case .bool(let b): seconds = b ? 1 : 0
        default:
            throw .typeError("'<' not supported between instances of '\(timeout.typeName)' and 'int'")
        }
        guard !(seconds < 0) else { throw .valueError("'timeout' must be a non-negative number") }
        return seconds.isFinite ? .seconds(seconds) : .forever
    }

    /// Python truthiness of a simple value; objects count as true.
    private static func truth(_ value: PickleGraph) -> Bool {
        switch value.rootNode {
        case .none: return false
        case .bool(let b): return b
        case .int(let n): return n != 0
        case .float(let bits): return Double(bitPattern: bits) != 0
        case .string(let utf8): return !utf8.isEmpty
        case .bytes(let bytes), .byteArray(let bytes): return !bytes.isEmpty
        case .tuple(let items), .list(let items), .set(let items), .frozenSet(let items): return !items.isEmpty
        case .dict(let entries): return !entries.isEmpty
        default: return true
        }
    }
}
