import TaskWire

/// Maps the task ids a batch was given back to the positions of its numbers.
///
/// A put's ids are almost always consecutive, so each put is kept as a run (first id, count,
/// first position) and found by binary search; ids that are not consecutive go in a dictionary.
struct TaskIndex {
    private struct Run {
        var firstID: TaskID
        var count: Int
        var firstIndex: Int

        func index(of id: TaskID) -> Int? {
            id >= firstID && id - firstID < TaskID(count) ? firstIndex + Int(id - firstID) : nil
        }
    }

    private var runs: [Run] = []  // sorted by firstID
    /// The run the last id was found in: results come back mostly in the order of their tasks.
    private var lastRun = 0
    private var scattered: [TaskID: Int] = [:]

    mutating func add(ids: [TaskID], firstIndex: Int) {
        guard let first = ids.first else { return }
        let consecutive =
            ids.last.map { $0 &- first == TaskID(ids.count - 1) } ?? false
            && zip(ids, ids.dropFirst()).allSatisfy { $1 == $0 &+ 1 }
        guard consecutive else {
            for (offset, id) in ids.enumerated() { scattered[id] = firstIndex + offset }
            return
        }
        let run = Run(firstID: first, count: ids.count, firstIndex: firstIndex)
        let position = insertionPoint(for: first)
        runs.insert(run, at: position)
    }

    mutating func index(of id: TaskID) -> Int? {
        if lastRun < runs.count, let index = runs[lastRun].index(of: id) { return index }
        let position = insertionPoint(for: id &+ 1) - 1
        if position >= 0, let index = runs[position].index(of: id) {
            lastRun = position
            return index
        }
        return scattered[id]
    }

    /// The first run whose first id is not below `id`.
    private func insertionPoint(for id: TaskID) -> Int {
        var low = 0
        var high = runs.count
        while low < high {
            let mid = (low + high) / 2
            if runs[mid].firstID < id { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
