import BigInt

/// One value of a ``PickleGraph``. Containers refer to their elements by node id, so one
/// value can appear in several places (shared references) or inside itself (cycles).
///
/// Rare, large payloads (big integers, objects) are boxed so that a node stays two words
/// and an arena of a million nodes stays small.
public enum PickleNode: Hashable, Sendable {
    /// An index into ``PickleGraph/nodes``.
    public typealias ID = Int

    /// `None`.
    case none
    /// `True` or `False`.
    case bool(Bool)
    /// A Python `int` that fits in 64 bits.
    case int(Int)
    /// A Python `int` that does not fit in 64 bits. A graph never holds one that fits: they
    /// are normalized to ``int(_:)`` as nodes enter a graph, so equal numbers compare equal.
    indirect case bigInt(BigInt)
    /// A Python `float`, as its IEEE-754 bit pattern so NaN payloads and -0.0 survive.
    case float(bitPattern: UInt64)
    /// A Python `str`, as UTF-8 (with surrogates encoded as Python's `surrogatepass` does,
    /// so every Python string round-trips).
    case string(utf8: [UInt8])
    /// A Python `bytes`.
    case bytes([UInt8])
    /// A Python `bytearray`.
    case byteArray([UInt8])
    /// A Python `tuple` of the given nodes.
    case tuple([ID])
    /// A Python `list` of the given nodes.
    case list([ID])
    /// A Python `dict`, its entries in insertion order.
    case dict([DictEntry])
    /// A Python `set`, its items in the order the pickle holds them.
    case set([ID])
    /// A Python `frozenset`, its items in the order the pickle holds them.
    case frozenSet([ID])
    /// Anything else: how it is constructed and what was applied to it afterwards.
    /// Never resolved or run; written back as it was read.
    indirect case object(PickleObject)

    /// A Python `float`.
    public static func float(_ value: Double) -> PickleNode { .float(bitPattern: value.bitPattern) }

    /// A Python `str`.
    public static func string(_ value: String) -> PickleNode { .string(utf8: Array(value.utf8)) }
}

/// A key and value of a dict node.
public struct DictEntry: Hashable, Sendable {
    /// The key's node.
    public var key: PickleNode.ID
    /// The value's node.
    public var value: PickleNode.ID

    /// An entry of `key` and `value`.
    public init(key: PickleNode.ID, value: PickleNode.ID) {
        self.key = key
        self.value = value
    }
}

/// An opaque object: how it is built, then the changes applied to it, in the order the pickle
/// applies them (Python's own pickler writes items, then dict items, then the state).
public struct PickleObject: Hashable, Sendable {
    /// How the object comes to be.
    public enum Constructor: Hashable, Sendable {
        /// A module-level name, such as a class or function: GLOBAL, or a STACK_GLOBAL of
        /// two fresh strs when written.
        case global(module: String, name: String)
        /// STACK_GLOBAL as read: the two str nodes it took, kept so that a str Python shared
        /// between globals (a module name, by identity) is written back shared.
        case stackGlobal(module: PickleNode.ID, name: PickleNode.ID)
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

    /// One change applied to the object after it was built.
    public enum Mutation: Hashable, Sendable {
        /// APPEND (one item) or APPENDS (a batch), e.g. on a deque.
        case append([PickleNode.ID])
        /// SETITEM (one entry) or SETITEMS (a batch), e.g. on an OrderedDict.
        case setItems([DictEntry])
        /// ADDITEMS, on something that is not a set.
        case addItems([PickleNode.ID])
        /// BUILD: `__setstate__(state)` or an update of the instance dict (and slots).
        case build(state: PickleNode.ID)
    }

    /// How the object comes to be.
    public var constructor: Constructor
    /// What was applied to it afterwards, in order.
    public var mutations: [Mutation]

    /// An object built by `constructor`, then changed by `mutations`.
    public init(constructor: Constructor, mutations: [Mutation] = []) {
        self.constructor = constructor
        self.mutations = mutations
    }
}
