import BigInt

/// A plain Python value as a tree: the easy way to build and inspect what a pickle holds
/// when there is no sharing to keep.
///
/// ```swift
/// let reply = PickleGraph(.tuple(["#RETURN", .graph(stored)]))
/// let args: PickleValue = [1, "two", 3.0]          // a list
/// ```
///
/// Anything that is not a plain value (an object, a class reference, a `str` that is not
/// valid Unicode) travels as `.graph`, a ``PickleGraph`` of its own that is written back
/// exactly. `PickleGraph(value)` converts to a graph, ``PickleGraph/value`` back.
///
/// Equality is Swift's, case by case: floats compare as `Double`s (NaN is unequal to itself)
/// and `.graph` values as arenas.
public enum PickleValue: Hashable, Sendable {
    /// `None`.
    case none
    /// `True` or `False`.
    case bool(Bool)
    /// A Python `int` that fits in 64 bits.
    case int(Int)
    /// A Python `int` outside `Int`'s range. Use ``integer(_:)`` to get the right case for
    /// any value: `.bigInt(5)` is not equal to `.int(5)`.
    indirect case bigInt(BigInt)
    /// A Python `float` (NaN payloads and -0.0 are kept).
    case float(Double)
    /// A Python `str`.
    case string(String)
    /// A Python `bytes`.
    case bytes([UInt8])
    /// A Python `bytearray`.
    case byteArray([UInt8])
    /// A Python `tuple`.
    case tuple([PickleValue])
    /// A Python `list`.
    case list([PickleValue])
    /// A Python `dict`, entries in insertion order.
    case dict([Entry])
    /// A Python `set`.
    case set([PickleValue])
    /// A Python `frozenset`.
    case frozenSet([PickleValue])
    /// Any value as a graph: objects, shared or cyclic structures, a stored value to embed.
    case graph(PickleGraph)

    /// A key and value of a `.dict`.
    public struct Entry: Hashable, Sendable {
        /// The key.
        public var key: PickleValue
        /// The value.
        public var value: PickleValue

        /// The entry `key: value`.
        public init(_ key: PickleValue, _ value: PickleValue) {
            self.key = key
            self.value = value
        }
    }

    /// A Python `int` of any size: `.int` when it fits in 64 bits, else `.bigInt`.
    public static func integer(_ value: BigInt) -> PickleValue {
        if let small = Int(exactly: value) { return .int(small) }
        return .bigInt(value)
    }

    /// A module-level name (a class or function), never resolved: e.g. `builtins.int`.
    public static func global(module: String, name: String) -> PickleValue {
        .graph(.global(module: module, name: name))
    }

    /// An exception instance as Python pickles it: `module.name(*arguments)`.
    public static func exception(module: String, name: String, arguments: [PickleValue] = []) -> PickleValue {
        .graph(.exception(module: module, name: name, arguments: arguments.map { PickleGraph($0) }))
    }
}

extension PickleValue {
    /// The value as an integer, if it is a Python `int` (not a bool).
    public var integerValue: BigInt? {
        switch self {
        case .int(let value): return BigInt(value)
        case .bigInt(let value): return value
        case .graph(let graph): return graph.integerValue
        default: return nil
        }
    }

    /// The value as a Swift string, if it is a Python `str`.
    public var stringValue: String? {
        switch self {
        case .string(let value): return value
        case .graph(let graph): return graph.stringValue
        default: return nil
        }
    }

    /// The Python type of the value, as ``PickleGraph/typeName``.
    public var typeName: String {
        switch self {
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int, .bigInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .byteArray: return "bytearray"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .set: return "set"
        case .frozenSet: return "frozenset"
        case .graph(let graph): return graph.typeName
        }
    }

    /// This value as a protocol 4 pickle, what `pickle.dumps(value, 4)` writes.
    ///
    /// Scalars and strs take a direct path with a single allocation.
    public func pickled() throws(PickleError) -> [UInt8] {
        switch self {
        case .string(let text): return PickleWriter.pickle(string: text)
        case .none, .bool, .int, .bigInt, .float, .bytes:
            if let node = leafNode, let bytes = PickleWriter.writeLeaf(node) { return bytes }
            return try PickleWriter.write(PickleGraph(self))
        default: return try PickleWriter.write(PickleGraph(self))
        }
    }

    /// The value read from a pickle (see ``PickleReader`` and ``PickleGraph/value``).
    public init(pickle bytes: [UInt8], limits: PickleLimits = PickleLimits()) throws(PickleError) {
        self = try PickleReader.read(bytes, limits: limits).value(limits: limits)
    }

    /// The node for a value that holds no other value, if this is one.
    var leafNode: PickleNode? {
        switch self {
        case .none: return PickleNode.none
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .bigInt(let value): return .integer(value)
        case .float(let value): return .float(value)
        case .string(let value): return .string(value)
        case .bytes(let value): return .bytes(value)
        case .byteArray(let value): return .byteArray(value)
        case .tuple, .list, .dict, .set, .frozenSet, .graph: return nil
        }
    }
}

// MARK: - Literals

extension PickleValue: ExpressibleByIntegerLiteral {
    /// An `int`.
    public init(integerLiteral value: Int) { self = .int(value) }
}

extension PickleValue: ExpressibleByFloatLiteral {
    /// A `float`.
    public init(floatLiteral value: Double) { self = .float(value) }
}

extension PickleValue: ExpressibleByBooleanLiteral {
    /// A `bool`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension PickleValue: ExpressibleByStringLiteral {
    /// A `str`.
    public init(stringLiteral value: String) { self = .string(value) }
}

extension PickleValue: ExpressibleByArrayLiteral {
    /// A `list`.
    public init(arrayLiteral elements: PickleValue...) { self = .list(elements) }
}

extension PickleValue: ExpressibleByDictionaryLiteral {
    /// A `dict`, entries in the order written.
    public init(dictionaryLiteral elements: (PickleValue, PickleValue)...) {
        self = .dict(elements.map { Entry($0.0, $0.1) })
    }
}
