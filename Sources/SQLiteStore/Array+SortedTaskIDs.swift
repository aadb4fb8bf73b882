import QueueBackend

extension Array where Element == TaskID {
    /// The index of `id` in this array sorted in increasing order, by binary search.
    func indexInSorted(of id: TaskID) -> Int? {
        var (low, high) = (0, count)
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low < count && self[low] == id ? low : nil
    }
}

extension Array where Element == ClosedRange<TaskID> {
    /// Whether `id` is in one of these disjoint ranges, sorted by lower bound (binary search).
    func containsInSorted(_ id: TaskID) -> Bool {
        var (low, high) = (0, count)
        while low < high {
            let middle = (low + high) / 2
            if self[middle].upperBound < id { low = middle + 1 } else { high = middle }
        }
        return low < count && self[low].contains(id)
    }
}
