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
