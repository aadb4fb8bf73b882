import QueueBackend

/// The chunk rows on disk, by the ids they hold, and which of their tasks are done: how the
/// writer knows where a task's delete or move goes and when a chunk row can go.
///
/// A put of many tasks is stored as one row (a chunk of consecutive ids) rather than a row per
/// task; its tasks are done one by one (or move out of it to a row of their own), recorded as
/// ranges of done ids, and the row is deleted once all of them are. Pure bookkeeping: the SQL
/// is in ``BatchStatements``.
struct ChunkIndex: Sendable {
    struct Chunk: Sendable, Equatable {
        /// The ids it holds, all of them (done or not).
        var ids: ClosedRange<TaskID>
        /// Its done ids, as sorted, disjoint, non-adjacent ranges.
        var done: [ClosedRange<TaskID>] = []
        var doneCount: UInt64 = 0

        var size: UInt64 { ids.upperBound - ids.lowerBound + 1 }
        var isEmptied: Bool { doneCount == size }
    }

    /// What a done range changed in one chunk.
    struct Done: Equatable {
        /// The chunk's ids.
        var chunk: ClosedRange<TaskID>
        /// The ids newly done (not done before), as ranges.
        var pieces: [ClosedRange<TaskID>]
        /// All its tasks are done: the row and its done ranges can go.
        var emptied: Bool
    }

    /// Sorted by first id; emptied chunks stay until they are half of the array (removing each
    /// from the front at once would move the whole array every time).
    private var chunks: [Chunk] = []
    private var emptiedCount = 0

    /// How many chunks hold tasks not yet done.
    var liveCount: Int { chunks.count - emptiedCount }

    /// Records a chunk row, none of its tasks done (written, or read back). Its ids must be in
    /// no other chunk (``overlaps(_:)``).
    mutating func add(_ ids: ClosedRange<TaskID>) {
        let chunk = Chunk(ids: ids)
        // Chunks mostly arrive in id order (appended); held-back results a few commits late.
        if let last = chunks.last, last.ids.lowerBound > ids.lowerBound {
            chunks.insert(chunk, at: (index(atOrBefore: ids.lowerBound) ?? -1) + 1)
        } else {
            chunks.append(chunk)
        }
    }

    /// The first id of the chunk holding `id`, not done, if any.
    func chunk(holding id: TaskID) -> TaskID? {
        guard let index = index(containing: id), !chunks[index].isEmptied,
            !chunks[index].done.containsInSorted(id)
        else { return nil }
        return chunks[index].ids.lowerBound
    }

    /// Whether a chunk with tasks not done holds any of `ids`.
    func overlaps(_ ids: ClosedRange<TaskID>) -> Bool {
        var index = self.index(atOrBefore: ids.lowerBound) ?? 0
        while index < chunks.count, chunks[index].ids.lowerBound <= ids.upperBound {
            if !chunks[index].isEmptied, chunks[index].ids.overlaps(ids) { return true }
            index += 1
        }
        return false
    }

    /// Marks `range` done in every chunk it meets; returns what changed, chunk by chunk.
    mutating func markDone(_ range: ClosedRange<TaskID>) -> [Done] {
        var changes: [Done] = []
        var index = self.index(atOrBefore: range.lowerBound) ?? 0
        while index < chunks.count, chunks[index].ids.lowerBound <= range.upperBound {
            defer { index += 1 }
            let chunk = chunks[index]
            guard !chunk.isEmptied, chunk.ids.overlaps(range) else { continue }
            let pieces = Self.subtractAndMerge(range.clamped(to: chunk.ids), into: &chunks[index])
            guard !pieces.isEmpty else { continue }
            let emptied = chunks[index].isEmptied
            if emptied {
                emptiedCount += 1
                chunks[index].done = []  // no longer needed
            }
            changes.append(Done(chunk: chunk.ids, pieces: pieces, emptied: emptied))
        }
        if emptiedCount > 64, emptiedCount * 2 > chunks.count {
            chunks.removeAll { $0.isEmptied }
            emptiedCount = 0
        }
        return changes
    }

    /// The chunks, emptied ones included (for tests).
    var all: [Chunk] { chunks }

    /// The index of the last chunk whose first id is at most `id`.
    private func index(atOrBefore id: TaskID) -> Int? {
        var (low, high) = (0, chunks.count)
        while low < high {
            let middle = (low + high) / 2
            if chunks[middle].ids.lowerBound <= id { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : low - 1
    }

    private func index(containing id: TaskID) -> Int? {
        guard let index = index(atOrBefore: id), chunks[index].ids.contains(id) else { return nil }
        return index
    }

    /// Adds `range` (within the chunk) to its done ranges; returns the parts that were not done.
    /// Logarithmic in the chunk's done ranges, plus the ones `range` meets.
    private static func subtractAndMerge(_ range: ClosedRange<TaskID>, into chunk: inout Chunk) -> [ClosedRange<TaskID>]
    {
        let (lower, upper) = (range.lowerBound, range.upperBound)
        var pieces: [ClosedRange<TaskID>] = []
        var next = lower  // the first id of `range` not yet accounted for
        var finished = false
        var index = chunk.done.firstIndex(endingAtOrAfter: lower)
        while index < chunk.done.count, chunk.done[index].lowerBound <= upper {
            let done = chunk.done[index]
            if done.lowerBound > next { pieces.append(next...(done.lowerBound - 1)) }
            if done.upperBound >= upper {
                finished = true
                break
            }
            next = done.upperBound + 1
            index += 1
        }
        if !finished { pieces.append(next...upper) }
        guard !pieces.isEmpty else { return [] }
        chunk.doneCount += pieces.reduce(0) { $0 + ($1.upperBound - $1.lowerBound + 1) }
        // The done ranges that overlap `range` or touch it become one.
        let first = chunk.done.firstIndex(endingAtOrAfter: lower == 0 ? 0 : lower - 1)
        var end = first
        var joined = range
        while end < chunk.done.count, upper == .max || chunk.done[end].lowerBound <= upper + 1 {
            joined =
                min(joined.lowerBound, chunk.done[end].lowerBound)...max(joined.upperBound, chunk.done[end].upperBound)
            end += 1
        }
        chunk.done.replaceSubrange(first..<end, with: CollectionOfOne(joined))
        return pieces
    }
}
