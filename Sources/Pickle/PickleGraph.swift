import BigInt

/// A value read from, or to be written as, a pickle: nodes in an arena, so that shared
/// references and cycles are kept exactly as Python wrote them.
///
/// Reading never resolves a global or calls anything: objects stay opaque nodes and are
/// written back unchanged.
public struct PickleGraph: Hashable, Sendable {
    /// Every value; containers refer to others by index.
    public private(set) var nodes: [PickleNode]
    /// The value the pickle stands for.
    public var root: PickleNode.ID

    /// A graph of one node.
    public init(_ node: PickleNode) {
        precondition(!node.hasChildren, "a single-node graph can't refer to other nodes")
        self.nodes = [node]
        self.root = 0
    }

    /// A graph made of `nodes`, whose references must all be valid indices.
    public init(nodes: [PickleNode], root: PickleNode.ID) {
        precondition(nodes.indices.contains(root), "root is not a node")
        self.nodes = nodes
        self.root = root
    }

    init(uncheckedNodes nodes: [PickleNode], root: PickleNode.ID) {
        self.nodes = nodes
        self.root = root
    }

    /// The root node.
    public var rootNode: PickleNode { nodes[root] }

    public subscript(id: PickleNode.ID) -> PickleNode { nodes[id] }

    /// Adds a node and returns its id.
    public mutating func add(_ node: PickleNode) -> PickleNode.ID {
        nodes.append(node)
        return nodes.count - 1
    }

    /// Adds all of `other` and returns the id its root now has.
    public mutating func embed(_ other: PickleGraph) -> PickleNode.ID {
        let offset = nodes.count
        nodes.reserveCapacity(nodes.count + other.nodes.count)
        for node in other.nodes { nodes.append(node.shifted(by: offset)) }
        return other.root + offset
    }

    /// The value at `id` as a graph of its own: only the nodes it reaches, so a value can be
    /// cut out of a request (its memo references into the rest resolved) and stored alone.
    public func subgraph(at id: PickleNode.ID) -> PickleGraph {
        var mapping: [PickleNode.ID: PickleNode.ID] = [id: 0]
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
}

extension PickleGraph {
    /// `(a, b, …)` of the given graphs.
    public static func tuple(_ elements: [PickleGraph]) -> PickleGraph {
        var graph = PickleGraph(uncheckedNodes: [], root: 0)
        let ids = elements.map { graph.embed($0) }
        graph.root = graph.add(.tuple(ids))
        return graph
    }

    /// A Python `int`.
    public static func int(_ value: Int) -> PickleGraph { PickleGraph(.int(value)) }

    /// A Python `int` of any size.
    public static func int(_ value: BigInt) -> PickleGraph { PickleGraph(PickleNode.integer(value)) }

    /// A Python `str`.
    public static func string(_ value: String) -> PickleGraph { PickleGraph(.string(value)) }

    /// `None`.
    public static let none = PickleGraph(.none)

    /// An exception instance as Python pickles it: `module.name(*arguments)`.
    public static func exception(module: String, name: String, arguments: [PickleGraph]) -> PickleGraph {
        var graph = PickleGraph(uncheckedNodes: [], root: 0)
        let callable = graph.add(.object(PickleObject(constructor: .global(module: module, name: name))))
        let args = tuple(arguments)
        let argsID = graph.embed(args)
        graph.root = graph.add(.object(PickleObject(constructor: .reduce(callable: callable, arguments: argsID))))
        return graph
    }
}

extension PickleNode {
    /// A Python `int`, normalized: `.int` when it fits in 64 bits.
    public static func integer(_ value: BigInt) -> PickleNode {
        if let small = Int(exactly: value) { return .int(small) }
        return .bigInt(value)
    }

    var hasChildren: Bool {
        var any = false
        forEachChild { _ in any = true }
        return any
    }

    /// Calls `body` with every node id this node refers to.
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
            case .reduce(let callable, let arguments): body(callable); body(arguments)
            case .newObject(let cls, let arguments): body(cls); body(arguments)
            case .newObjectEx(let cls, let arguments, let keywords): body(cls); body(arguments); body(keywords)
            case .instance(_, _, let arguments): arguments.forEach(body)
            case .object(let cls, let arguments): body(cls); arguments.forEach(body)
            }
            object.appendedItems.forEach(body)
            for entry in object.setItems {
                body(entry.key)
                body(entry.value)
            }
            object.addedItems.forEach(body)
            object.states.forEach(body)
        }
    }

    /// This node with every reference passed through `map`.
    func remapped(_ map: (PickleNode.ID) -> PickleNode.ID) -> PickleNode {
        switch self {
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .byteArray: return self
        case .tuple(let ids): return .tuple(ids.map(map))
        case .list(let ids): return .list(ids.map(map))
        case .set(let ids): return .set(ids.map(map))
        case .frozenSet(let ids): return .frozenSet(ids.map(map))
        case .dict(let entries): return .dict(entries.map { DictEntry(key: map($0.key), value: map($0.value)) })
        case .object(var object):
            switch object.constructor {
            case .global, .extensionCode: break
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
            object.appendedItems = object.appendedItems.map(map)
            object.setItems = object.setItems.map { DictEntry(key: map($0.key), value: map($0.value)) }
            object.addedItems = object.addedItems.map(map)
            object.states = object.states.map(map)
            return .object(object)
        }
    }

    func shifted(by offset: Int) -> PickleNode {
        offset == 0 ? self : remapped { $0 + offset }
    }
}
