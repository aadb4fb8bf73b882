extension PickleGraph {
    /// How many containers deep the value at `start` goes: 0 for a scalar, 1 for a container
    /// of scalars (or an empty one), and so on; an object counts as a container of its parts.
    ///
    /// This is the longest chain of nested values, with the edges that close a cycle left
    /// out: what a recursive consumer (Python's pickler, a tree conversion) would descend.
    /// Iterative, so a deep graph can't overflow the call stack here.
    func nestingDepth(from start: PickleNode.ID) -> Int {
        let unvisited: Int32 = -2
        let inProgress: Int32 = -1
        var heights = [Int32](repeating: unvisited, count: nodes.count)
        // Positive entries enter a node, negative ones (~id) leave it.
        var work: [Int] = [start]
        while let item = work.popLast() {
            if item >= 0 {
                guard heights[item] == unvisited else { continue }
                if nodes[item].isLeaf {
                    heights[item] = nodes[item].isContainer ? 1 : 0
                    continue
                }
                heights[item] = inProgress
                work.append(~item)
                nodes[item].forEachChild { child in
                    if heights[child] == unvisited { work.append(child) }
                }
            } else {
                let id = ~item
                var deepest: Int32 = 0
                // Children still in progress are ancestors: the edge closes a cycle.
                nodes[id].forEachChild { child in deepest = max(deepest, heights[child]) }
                heights[id] = deepest + 1
            }
        }
        return Int(max(heights[start], 0))
    }
}

extension PickleNode {
    /// Whether the node is a container or an object (something that nests).
    var isContainer: Bool {
        switch self {
        case .none, .bool, .int, .bigInt, .float, .string, .bytes, .byteArray: return false
        case .tuple, .list, .dict, .set, .frozenSet, .object: return true
        }
    }
}
