import Pickle

/// A reply of Python's manager protocol: `(kind, result)`.
public enum ManagerReply: Hashable, Sendable {
    /// `('#RETURN', value)`: the call returned `value`.
    case returned(PickleGraph)
    /// `('#ERROR', exception)`: the call raised; the client raises the same exception.
    case error(PickleGraph)
    /// `('#TRACEBACK', text)`: the server failed; the client raises `RemoteError(text)`.
    case traceback(String)
    /// `('#UNSERIALIZABLE', text)`: the result could not be sent.
    case unserializable(String)
    /// Any other kind (e.g. `#PROXY`), kept as read.
    case other(kind: String, value: PickleGraph)

    /// `('#RETURN', None)`.
    public static let returnedNone = ManagerReply.returned(.none)

    /// The reply as the pickle a Python server sends.
    public func encoded() throws(PickleError) -> [UInt8] {
        let (kind, value): (String, PickleGraph)
        switch self {
        case .returned(let graph): (kind, value) = ("#RETURN", graph)
        case .error(let graph): (kind, value) = ("#ERROR", graph)
        case .traceback(let text): (kind, value) = ("#TRACEBACK", .string(text))
        case .unserializable(let text): (kind, value) = ("#UNSERIALIZABLE", .string(text))
        case .other(let name, let graph): (kind, value) = (name, graph)
        }
        return try PickleGraph.tuple([.string(kind), value]).pickled()
    }

    /// Reads a reply frame.
    public init(decoding payload: [UInt8], limits: PickleLimits = PickleLimits()) throws(ManagerError) {
        let graph: PickleGraph
        do {
            graph = try PickleReader.read(payload, limits: limits)
        } catch {
            throw ManagerError(.unreadablePickle, error.description)
        }
        guard case .tuple(let fields) = graph.rootNode, fields.count == 2, let kind = graph.stringValue(of: fields[0])
        else {
            throw ManagerError(.malformedReply, "a reply must be a (kind, result) tuple, not a \(graph.typeName)")
        }
        let value = graph.subgraph(at: fields[1])
        switch kind {
        case "#RETURN": self = .returned(value)
        case "#ERROR": self = .error(value)
        case "#TRACEBACK", "#UNSERIALIZABLE":
            let text = value.stringValue ?? "(\(value.typeName))"
            self = kind == "#TRACEBACK" ? .traceback(text) : .unserializable(text)
        default: self = .other(kind: kind, value: value)
        }
    }
}
