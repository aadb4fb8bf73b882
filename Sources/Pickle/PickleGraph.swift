import BigInt

/// A value read from, or to be written as, a pickle: nodes in an arena, so that shared
/// references and cycles are kept exactly as Python wrote them.
///
/// Reading never resolves a global or calls anything: objects stay opaque nodes and are
/// written back unchanged. Every node id a graph holds is valid (checked as nodes are added),
/// and integers are normalized (``PickleNode/int(_:)`` whenever the value fits in 64 bits).
///
/// For plain values without sharing, ``PickleValue`` is easier to build and inspect;
/// `PickleGraph(value)` and ``value`` convert between the two.
///
/// Equality compares arenas node by node (ids included), not values as Python would: use
/// it to check that a graph survived a round trip, not to compare two Python values.
public struct PickleGraph: Hashable, Sendable {
    /// Every value; containers refer to others by index.
    public internal(set) var nodes: [PickleNode]
    /// The value the pickle stands for.
    public var root: PickleNode.ID {
        didSet { precondition(nodes.indices.contains(root), "root \(root) is not a node") }
    }

    /// A graph of one node, which may only refer to itself (id 0).
    public init(node: PickleNode) {
        precondition(node.allChildren { $0 == 0 }, "a single-node graph can only refer to itself")
        self.nodes = [node.normalized]
        self.root = 0
    }

    /// A graph made of `nodes`; every reference (and `root`) must be a valid index.
    public init(nodes: [PickleNode], root: PickleNode.ID) {
        precondition(nodes.indices.contains(root), "root \(root) is not a node")
        let count = nodes.count
        precondition(nodes.allSatisfy { $0.allChildren { (0..<count).contains($0) } }, "a node refers to no node")
        self.nodes = nodes.map(\.normalized)
        self.root = root
    }

    /// For the reader and the module's own builders, which keep the invariants themselves.
    init(uncheckedNodes nodes: [PickleNode], root: PickleNode.ID) {
        self.nodes = nodes
        self.root = root
    }

    /// The root node.
    public var rootNode: PickleNode { nodes[root] }

    /// The node with id `id`.
    public subscript(id: PickleNode.ID) -> PickleNode { nodes[id] }

    /// Adds a node, which may refer to any existing node or to itself, and returns its id.
    @discardableResult
    public mutating func add(_ node: PickleNode) -> PickleNode.ID {
        let count = nodes.count
        precondition(node.allChildren { $0 <= count }, "a node refers to no node")
        nodes.append(node.normalized)
        return count
    }

    /// Adds all of `other` (its nodes keep their sharing) and returns the id its root now has.
    @discardableResult
    public mutating func embed(_ other: PickleGraph) -> PickleNode.ID {
        let offset = nodes.count
        guard offset > 0 else {
            nodes = other.nodes
            return other.root
        }
        // No reserveCapacity(offset + count): called once per element of a long tuple, an exact
        // reservation would defeat the array's doubling and copy the arena every time.
        for node in other.nodes { nodes.append(node.shifted(by: offset)) }
        return other.root + offset
    }

    /// The value at `id` as a graph of its own, holding only the nodes it reaches.
    ///
    /// This is how one value is cut out of a request envelope: the memo references Python
    /// wrote into the rest of the envelope (say, an argument that is the same `str` object
    /// as the method name) become plain nodes of the new graph, which can be stored and
    /// written alone. Sharing and cycles inside the value are kept.
    public func subgraph(at id: PickleNode.ID) -> PickleGraph {
        // A dictionary, not an array the size of the graph: called for each of many values
        // of one graph (say, every object of a long list), this stays linear.
        var mapping: [PickleNode.ID: Int] = [id: 0]
        var order: [PickleNode.ID] = [id]
        var next = 0
        while next < order.count {
            let current = order[next]
            next += 1
            nodes[current].forEachChild { child in
                if mapping[child] == nil {
                    mapping[child] = order.count
                    order.append(child)
                }
            }
        }
        let remapped = order.map { nodes[$0].remapped { mapping[$0]! } }
        return PickleGraph(uncheckedNodes: remapped, root: 0)
    }

    /// ``subgraph(at:)`` for each of `ids`, in one pass of bookkeeping: the cost grows with
    /// the nodes each value reaches, not with the size of the whole graph for every value (a
    /// request with thousands of arguments is cut apart in linear time).
    public func subgraphs(at ids: [PickleNode.ID]) -> [PickleGraph] {
        // Breadth-first numbering of what one id reaches; -1 = not reached. Reset after each
        // id by walking only the entries that were set.
        var mapping: [Int] = []
        return ids.map { id in
            if id == root, nodes.count == 1 { return self }
            var leaf = true
            nodes[id].forEachChild { _ in leaf = false }
            if leaf { return PickleGraph(uncheckedNodes: [nodes[id]], root: 0) }
            if mapping.isEmpty { mapping = [Int](repeating: -1, count: nodes.count) }
            mapping[id] = 0
            var order: [PickleNode.ID] = [id]
            var next = 0
            while next < order.count {
                let current = order[next]
                next += 1
                nodes[current].forEachChild { child in
                    if mapping[child] < 0 {
                        mapping[child] = order.count
                        order.append(child)
                    }
                }
            }
            let remapped = order.map { nodes[$0].remapped { mapping[$0] } }
            for reached in order { mapping[reached] = -1 }
            return PickleGraph(uncheckedNodes: remapped, root: 0)
        }
    }
}

// MARK: - Building common values

extension PickleGraph {
    /// `(a, b, …)` of the given graphs; each keeps its own sharing, none is shared with another.
    public static func tuple(_ elements: [PickleGraph]) -> PickleGraph {
        var graph = PickleGraph(uncheckedNodes: [], root: 0)
        var ids: [PickleNode.ID] = []
        ids.reserveCapacity(elements.count)
        for element in elements { ids.append(graph.embed(element)) }
        graph.nodes.append(.tuple(ids))
        graph.root = graph.nodes.count - 1
        return graph
    }

    /// A Python `int`.
    public static func int(_ value: Int) -> PickleGraph { PickleGraph(uncheckedNodes: [.int(value)], root: 0) }

    /// A Python `int` of any size.
    public static func int(_ value: BigInt) -> PickleGraph {
        PickleGraph(uncheckedNodes: [PickleNode.integer(value)], root: 0)
    }

    /// A Python `str`.
    public static func string(_ value: String) -> PickleGraph {
        PickleGraph(uncheckedNodes: [.string(value)], root: 0)
    }

    /// A Python `bytes`.
    public static func bytes(_ value: [UInt8]) -> PickleGraph { PickleGraph(uncheckedNodes: [.bytes(value)], root: 0) }

    /// `None`.
    public static let none = PickleGraph(uncheckedNodes: [.none], root: 0)

    /// A module-level name (a class or function), written as STACK_GLOBAL. Never resolved.
    public static func global(module: String, name: String) -> PickleGraph {
        PickleGraph(uncheckedNodes: [.object(PickleObject(constructor: .global(module: module, name: name)))], root: 0)
    }

    /// An exception instance as Python pickles it: `module.name(*arguments)`, i.e.
    /// STACK_GLOBAL, the arguments tuple, REDUCE. `_queue.Empty()` is
    /// `.exception(module: "_queue", name: "Empty", arguments: [])`.
    public static func exception(module: String, name: String, arguments: [PickleGraph]) -> PickleGraph {
        var graph = tuple(arguments)
        let argumentsID = graph.root
        let callable = graph.add(.object(PickleObject(constructor: .global(module: module, name: name))))
        graph.root = graph.add(.object(PickleObject(constructor: .reduce(callable: callable, arguments: argumentsID))))
        return graph
    }
}

// MARK: - Node references

extension PickleNode {
    /// A Python `int`, normalized: `.int` when it fits in 64 bits.
    public static func integer(_ value: BigInt) -> PickleNode {
        if let small = Int(exactly: value) { return .int(small) }
        return .bigInt(value)
    }

    /// This node with a `.bigInt` that fits in 64 bits turned into `.int`.
    var normalized: PickleNode {
        if case .bigInt(let value) = self, let small = Int(exactly: value) { return .int(small) }
        return self
    }

    /// Whether this node refers to no other node.
    var isLeaf: Bool {
        switch self {
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .byteArray: return true
        case .tuple(let ids), .list(let ids), .set(let ids), .frozenSet(let ids): return ids.isEmpty
        case .dict(let entries): return entries.isEmpty
        case .object: return false
        }
    }

    /// Whether every node id this node refers to satisfies `predicate`.
    func allChildren(_ predicate: (PickleNode.ID) -> Bool) -> Bool {
        var all = true
        forEachChild { if all, !predicate($0) { all = false } }
        return all
    }

    /// Calls `body` with every node id this node refers to, in the order a pickle holds them.
    func forEachChild(_ body: (PickleNode.ID) -> Void) {
        switch self {
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .byteArray: break
        case .tuple(let ids), .list(let ids), .set(let ids), .frozenSet(let ids): ids.forEach(body)
        case .dict(let entries):
            for entry in entries {
                body(entry.key)
                body(entry.value)
            }
        case .object(let object):
            switch object.constructor {
            case .global, .extensionCode: break
            case .stackGlobal(let module, let name):
                body(module)
                body(name)
            case .reduce(let callable, let arguments):
                body(callable)
                body(arguments)
            case .newObject(let cls, let arguments):
                body(cls)
                body(arguments)
            case .newObjectEx(let cls, let arguments, let keywords):
                body(cls)
                body(arguments)
                body(keywords)
            case .instance(_, _, let arguments): arguments.forEach(body)
            case .object(let cls, let arguments):
                body(cls)
                arguments.forEach(body)
            }
            for mutation in object.mutations {
                switch mutation {
                case .append(let ids), .addItems(let ids): ids.forEach(body)
                case .setItems(let entries):
                    for entry in entries {
                        body(entry.key)
                        body(entry.value)
                    }
                case .build(let state): body(state)
                }
            }
        }
    }

    /// This node with every reference passed through `map`.
    func remapped(_ map: (PickleNode.ID) -> PickleNode.ID) -> PickleNode {
        func entries(_ list: [DictEntry]) -> [DictEntry] {
            list.map { DictEntry(key: map($0.key), value: map($0.value)) }
        }
        switch self {
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .byteArray: return self
        case .tuple(let ids): return .tuple(ids.map(map))
        case .list(let ids): return .list(ids.map(map))
        case .set(let ids): return .set(ids.map(map))
        case .frozenSet(let ids): return .frozenSet(ids.map(map))
        case .dict(let list): return .dict(entries(list))
        case .object(var object):
            switch object.constructor {
            case .global, .extensionCode: break
            case .stackGlobal(let module, let name):
                object.constructor = .stackGlobal(module: map(module), name: map(name))
            case .reduce(let callable, let arguments):
                object.constructor = .reduce(callable: map(callable), arguments: map(arguments))
            case .newObject(let cls, let arguments):
                object.constructor = .newObject(cls: map(cls), arguments: map(arguments))
            case .newObjectEx(let cls, let arguments, let keywords):
                object.constructor = .newObjectEx(cls: map(cls), arguments: map(arguments), keywords: map(keywords))
            case .instance(let module, let name, let arguments):
                object.constructor = .instance(module: module, name: name, arguments: arguments.map(map))
            case .object(let cls, let arguments):
                object.constructor = .object(cls: map(cls), arguments: arguments.map(map))
            }
            object.mutations = object.mutations.map { mutation in
                switch mutation {
                case .append(let ids): return .append(ids.map(map))
                case .addItems(let ids): return .addItems(ids.map(map))
                case .setItems(let list): return .setItems(entries(list))
                case .build(let state): return .build(state: map(state))
                }
            }
            return .object(object)
        }
    }

    func shifted(by offset: Int) -> PickleNode {
        offset == 0 || isLeaf ? self : remapped { $0 + offset }
    }
}
