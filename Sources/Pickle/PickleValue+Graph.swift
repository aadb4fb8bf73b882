import BigInt

extension PickleGraph {
    /// The graph of a plain value; `.graph` parts are embedded with their sharing intact.
    public init(_ value: PickleValue) {
        if let node = value.leafNode {
            self.init(uncheckedNodes: [node], root: 0)
            return
        }
        if case .graph(let graph) = value {
            self = graph
            return
        }
        // Iterative post-order: children become nodes before the container that holds them.
        enum Work {
            case visit(PickleValue)
            case build(PickleValue, childCount: Int)
        }
        var graph = PickleGraph(uncheckedNodes: [], root: 0)
        var work: [Work] = [.visit(value)]
        var built: [PickleNode.ID] = []
        while let item = work.popLast() {
            switch item {
            case .visit(let value):
                if let node = value.leafNode {
                    graph.nodes.append(node)
                    built.append(graph.nodes.count - 1)
                    continue
                }
                let children: [PickleValue]
                switch value {
                case .tuple(let items), .list(let items), .set(let items), .frozenSet(let items): children = items
                case .dict(let entries): children = entries.flatMap { [$0.key, $0.value] }
                case .graph(let embedded):
                    built.append(graph.embed(embedded))
                    continue
                default: children = []
                }
                work.append(.build(value, childCount: children.count))
                for child in children.reversed() { work.append(.visit(child)) }
            case .build(let value, let count):
                let ids = Array(built.suffix(count))
                built.removeLast(count)
                let node: PickleNode
                switch value {
                case .tuple: node = .tuple(ids)
                case .list: node = .list(ids)
                case .set: node = .set(ids)
                case .frozenSet: node = .frozenSet(ids)
                default:
                    node = .dict(
                        stride(from: 0, to: ids.count, by: 2).map { DictEntry(key: ids[$0], value: ids[$0 + 1]) }
                    )
                }
                graph.nodes.append(node)
                built.append(graph.nodes.count - 1)
            }
        }
        graph.root = graph.nodes.count - 1
        self = graph
    }

    /// The root as a plain value tree, for a graph without cycles.
    ///
    /// A value shared in several places is copied into each (identity is not kept). Objects
    /// and strs that are not valid Unicode become `.graph` of their own; `bytearray(b)` as
    /// protocol 4 writes it (a REDUCE of `builtins.bytearray`) becomes `.byteArray`.
    public var value: PickleValue {
        get throws(PickleError) { try value(limits: PickleLimits()) }
    }

    /// The root as a plain value tree (see ``value``), copying at most `limits.maxNodes`
    /// values, so that a small graph sharing one value many times can't blow up, and nesting
    /// at most `limits.maxDepth` deep.
    ///
    /// - Throws: `invalidStructure` for a cycle outside objects, `limitExceeded` past a limit.
    public func value(limits: PickleLimits) throws(PickleError) -> PickleValue {
        if let leaf = leafValue(of: root) { return leaf }
        enum Work {
            case visit(PickleNode.ID)
            case build(PickleNode.ID, childCount: Int)
        }
        var onPath = [Bool](repeating: false, count: nodes.count)
        var work: [Work] = [.visit(root)]
        var built: [PickleValue] = []
        var produced = 0
        var depth = 0
        while let item = work.popLast() {
            switch item {
            case .visit(let id):
                produced += 1
                guard produced <= limits.maxNodes else {
                    throw PickleError(.limitExceeded, "the value expands to more than \(limits.maxNodes) values")
                }
                if let leaf = leafValue(of: id) {
                    // An object kept as a graph of its own counts with all its nodes: a small
                    // graph sharing one large object many times must not expand without bound.
                    if case .graph(let part) = leaf {
                        produced += part.nodes.count - 1
                        guard produced <= limits.maxNodes else {
                            throw PickleError(
                                .limitExceeded,
                                "the value expands to more than \(limits.maxNodes) values"
                            )
                        }
                    }
                    built.append(leaf)
                    continue
                }
                guard !onPath[id] else {
                    throw PickleError(.invalidStructure, "the value contains itself (a cycle); use the graph")
                }
                var children: [PickleNode.ID] = []
                nodes[id].forEachChild { children.append($0) }
                depth += 1
                guard depth <= limits.maxDepth else {
                    throw PickleError(.limitExceeded, "the value is nested deeper than \(limits.maxDepth) levels")
                }
                onPath[id] = true
                work.append(.build(id, childCount: children.count))
                for child in children.reversed() { work.append(.visit(child)) }
            case .build(let id, let count):
                let items = Array(built.suffix(count))
                built.removeLast(count)
                onPath[id] = false
                depth -= 1
                switch nodes[id] {
                case .tuple: built.append(.tuple(items))
                case .list: built.append(.list(items))
                case .set: built.append(.set(items))
                case .frozenSet: built.append(.frozenSet(items))
                default:
                    built.append(
                        .dict(
                            stride(from: 0, to: items.count, by: 2).map { PickleValue.Entry(items[$0], items[$0 + 1]) }
                        )
                    )
                }
            }
        }
        return built.last ?? .none
    }

    /// The value of a node that needs no traversal: scalars, strs, bytes, and objects (whole).
    private func leafValue(of id: PickleNode.ID) -> PickleValue? {
        switch nodes[id] {
        case .none: return PickleValue.none
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .bigInt(let value): return .integer(value)
        case .float(let bits): return .float(Double(bitPattern: bits))
        case .string(let utf8):
            if let text = String(validating: utf8, as: UTF8.self) { return .string(text) }
            return .graph(PickleGraph(uncheckedNodes: [nodes[id]], root: 0))
        case .bytes(let bytes): return .bytes(bytes)
        case .byteArray(let bytes): return .byteArray(bytes)
        case .object:
            if let bytes = protocol4ByteArray(id) { return .byteArray(bytes) }
            return .graph(subgraph(at: id))
        case .tuple, .list, .dict, .set, .frozenSet: return nil
        }
    }

    /// The bytes of `builtins.bytearray(b)` (or `bytearray()`), protocol 4's bytearray.
    private func protocol4ByteArray(_ id: PickleNode.ID) -> [UInt8]? {
        guard case .object(let object) = nodes[id], object.mutations.isEmpty,
            case .reduce(let callable, let arguments) = object.constructor,
            let callee = globalName(of: callable), callee.module == "builtins", callee.name == "bytearray",
            let items = elements(of: arguments), case .tuple = nodes[arguments]
        else { return nil }
        if items.isEmpty { return [] }
        guard items.count == 1, case .bytes(let bytes) = nodes[items[0]] else { return nil }
        return bytes
    }
}
