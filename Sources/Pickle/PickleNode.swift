import BigInt

/// One value of a ``PickleGraph``. Containers refer to their elements by node id, so one
/// value can appear in several places (shared references) or inside itself (cycles).
public enum PickleNode: Hashable, Sendable {
    /// An index into ``PickleGraph/nodes``.
    public typealias ID = Int

    case none
    case bool(Bool)
    /// A Python `int` that fits in 64 bits.
    case int(Int)
    /// A Python `int` that does not fit in 64 bits (never holds a value that fits).
    case bigInt(BigInt)
    /// A Python `float`, as its IEEE-754 bit pattern so NaN payloads and -0.0 survive.
    case float(bitPattern: UInt64)
    /// A Python `str`, as UTF-8 (with surrogates encoded as Python's `surrogatepass` does,
    /// so every Python string round-trips).
    case string(utf8: [UInt8])
    case bytes([UInt8])
    case byteArray([UInt8])
    case tuple([ID])
    case list([ID])
    case dict([DictEntry])
    case set([ID])
    case frozenSet([ID])
    /// Anything else: how it is constructed and what was applied to it afterwards.
    /// Never resolved or run; written back as it was read.
    case object(PickleObject)

    /// A Python `float`.
    public static func float(_ value: Double) -> PickleNode { .float(bitPattern: value.bitPattern) }

    /// A Python `str`.
    public static func string(_ value: String) -> PickleNode { .string(utf8: Array(value.utf8)) }
}

/// A key and value of a dict node.
public struct DictEntry: Hashable, Sendable {
    public var key: PickleNode.ID
    public var value: PickleNode.ID

    public init(key: PickleNode.ID, value: PickleNode.ID) {
        self.key = key
        self.value = value
    }
}

/// An opaque object: how it is built, then the changes applied to it, in the order Python's
/// own pickler writes them (items, dict items, then states).
public struct PickleObject: Hashable, Sendable {
    /// How the object comes to be.
    public enum Constructor: Hashable, Sendable {
        /// A module-level name, such as a class or function: GLOBAL / STACK_GLOBAL.
        case global(module: String, name: String)
        /// `callable(*args)`: REDUCE.
        case reduce(callable: PickleNode.ID, arguments: PickleNode.ID)
        /// `cls.__new__(cls, *args)`: NEWOBJ.
        case newObject(cls: PickleNode.ID, arguments: PickleNode.ID)
        /// `cls.__new__(cls, *args, **kwargs)`: NEWOBJ_EX.
        case newObjectEx(cls: PickleNode.ID, arguments: PickleNode.ID, keywords: PickleNode.ID)
        /// Protocol 0's INST: a class named inline, called with the arguments.
        case instance(module: String, name: String, arguments: [PickleNode.ID])
        /// Protocol 1's OBJ: a class on the stack, called with the arguments.
        case object(cls: PickleNode.ID, arguments: [PickleNode.ID])
        /// An extension-registry code: EXT1/EXT2/EXT4.
        case extensionCode(Int)
    }

    public var constructor: Constructor
    /// Items appended (APPEND/APPENDS on something that is not a list, e.g. a deque).
    public var appendedItems: [PickleNode.ID] = []
    /// Items set (SETITEM/SETITEMS on something that is not a dict, e.g. an OrderedDict).
    public var setItems: [DictEntry] = []
    /// Items added (ADDITEMS on something that is not a set).
    public var addedItems: [PickleNode.ID] = []
    /// States applied with BUILD.
    public var states: [PickleNode.ID] = []

    public init(constructor: Constructor) {
        self.constructor = constructor
    }
}
