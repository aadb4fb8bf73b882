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
        // `('#RETURN', None)` and `('#RETURN', small int)` are most replies: write them directly.
        if case .returned(let graph) = self, graph.nodes.count == 1 {
            switch graph.rootNode {
            case .none: return Self.returnNoneBytes
            case .int(let n) where n >= 0 && n <= 0xFF:
                return Self.returnBytes(body: [0x4B, UInt8(n)])
            case .int(let n) where n >= 0 && n <= 0xFFFF:
                return Self.returnBytes(body: [0x4D, UInt8(n & 0xFF), UInt8(n >> 8)])
            case .int(let n) where n >= Int(Int32.min) && n <= Int(Int32.max):
                let bits = UInt32(bitPattern: Int32(n))
                return Self.returnBytes(
                    body: [0x4A] + (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * UInt32($0))) }
                )
            default: break
            }
        }
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

    private static let returnNoneBytes: [UInt8] = (try? PickleGraph.tuple([.string("#RETURN"), .none]).pickled()) ?? []

    /// `('#RETURN', x)` for an `x` written as `body` (one opcode with its argument, no memo),
    /// exactly as Python's pickler lays it out.
    private static func returnBytes(body: [UInt8]) -> [UInt8] {
        // 8c 07 '#RETURN' 94 <body> 86 94 2e
        let frame: [UInt8] = [0x8C, 0x07] + Array("#RETURN".utf8) + [0x94] + body + [0x86, 0x94, 0x2E]
        var out: [UInt8] = [0x80, 0x04, 0x95]
        out.reserveCapacity(11 + frame.count)
        for shift in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(frame.count) >> (8 * UInt64(shift)))) }
        return out + frame
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
