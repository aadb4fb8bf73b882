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
    /// In these disjoint ranges sorted by lower bound: the index of the first whose last id is
    /// at least `id` (`count` if none), by binary search.
    func firstIndex(endingAtOrAfter id: TaskID) -> Int {
        var (low, high) = (0, count)
        while low < high {
            let middle = (low + high) / 2
            if self[middle].upperBound < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether `id` is in one of these disjoint ranges, sorted by lower bound.
    func containsInSorted(_ id: TaskID) -> Bool {
        let index = firstIndex(endingAtOrAfter: id)
        return index < count && self[index].contains(id)
    }
}
