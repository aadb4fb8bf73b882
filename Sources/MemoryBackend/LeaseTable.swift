import QueueBackend

/// Which consumer holds which delivered task, until it acknowledges it.
///
/// Leases are kept per delivered batch, the way consumers take and settle them: a get leases a
/// batch, and acks and completions mostly settle whole batches. A batch keeps its tasks sorted
/// by id, so an id is found by a binary search in one of its consumer's few batches: no hashing
/// and no entry per task in a table. A batch shares one lease deadline; a heartbeat moves it.
/// Scans (expiry, a consumer's end) walk batches, not tasks.
struct LeaseTable {
    struct Lease {
        /// The queue's slot in the engine.
        var queue: Int
        var consumer: ConsumerID
        var entry: NamedQueue.Entry
        /// When the lease ends without an ack or a heartbeat (engine time).
        var expires: Duration
    }

    /// Tasks delivered to one consumer in one get.
    private struct Batch {
        var queue: Int
        var expires: Duration
        /// Ids in ascending order, and the entries in the same order (nil once settled).
        var ids: [TaskID]
        var entries: [NamedQueue.Entry?]
        var remaining: Int
        /// Where the next id is looked for first: acks come mostly in delivery order.
        var next = 0

        /// The index of `id`'s unsettled entry, if it is one of this batch's.
        func index(of id: TaskID) -> Int? {
            if next < ids.count, ids[next] == id { return entries[next] != nil ? next : nil }
            guard let first = ids.first, let last = ids.last, id >= first, id <= last else { return nil }
            var low = 0
            var high = ids.count
            while low < high {
                let middle = (low + high) / 2
                if ids[middle] < id { low = middle + 1 } else { high = middle }
            }
            return low < ids.count && ids[low] == id && entries[low] != nil ? low : nil
        }

        /// Takes the entry at `index` out of the batch.
        mutating func settle(_ index: Int) -> NamedQueue.Entry {
            next = index + 1
            remaining -= 1
            return entries[index].take()!
        }
    }

    private var batches: [ConsumerID: [Batch]] = [:]
    private var countByConsumer: [ConsumerID: Int] = [:]
    private(set) var count = 0

    var byConsumer: [ConsumerID: Int] { countByConsumer }

    func count(of consumer: ConsumerID) -> Int { countByConsumer[consumer, default: 0] }

    /// Leases every entry of `entries` (one get's delivery) to `consumer`.
    mutating func add(_ entries: consuming [NamedQueue.Entry?], queue: Int, consumer: ConsumerID, expires: Duration) {
        guard !entries.isEmpty else { return }
        var ids = entries.map { $0!.task.id }
        // Given-back tasks go to the front of their queue, so a delivery may be out of order.
        if !zip(ids, ids.dropFirst()).allSatisfy({ $0 < $1 }) {
            entries.sort { $0!.task.id < $1!.task.id }
            ids = entries.map { $0!.task.id }
        }
        let count = ids.count
        batches[consumer, default: []].append(
            Batch(queue: queue, expires: expires, ids: ids, entries: entries, remaining: count)
        )
        countByConsumer[consumer, default: 0] += count
        self.count += count
    }

    /// Removes the leases `consumer` holds in `queue` on each of `ids`, telling `body` each id
    /// with its lease (nil when it is not one of them), in order. Returns how many it removed.
    @discardableResult
    mutating func remove(
        _ ids: [TaskID],
        queue: Int,
        consumer: ConsumerID,
        _ body: (TaskID, Lease?) -> Void
    ) -> Int {
        guard var held = batches.removeValue(forKey: consumer) else {
            for id in ids { body(id, nil) }
            return 0
        }
        var removed = 0
        var current = 0  // the batch the last id was found in: the next one is usually there too
        for id in ids {
            var found: (batch: Int, index: Int)?
            if current < held.count, held[current].queue == queue, let index = held[current].index(of: id) {
                found = (current, index)
            } else {
                for candidate in held.indices where held[candidate].queue == queue {
                    if let index = held[candidate].index(of: id) {
                        found = (candidate, index)
                        break
                    }
                }
            }
            guard let (b, index) = found else {
                body(id, nil)
                continue
            }
            current = b
            let entry = held[b].settle(index)
            removed += 1
            body(id, Lease(queue: queue, consumer: consumer, entry: entry, expires: held[b].expires))
        }
        held.removeAll { $0.remaining == 0 }
        if !held.isEmpty { batches[consumer] = held }
        if removed > 0 { decrement(consumer, by: removed) }
        return removed
    }

    /// Pushes back the end of every lease `consumer` holds: it is alive and working.
    mutating func extend(of consumer: ConsumerID, until expires: (Int) -> Duration) -> Int {
        guard batches[consumer] != nil else { return 0 }
        for index in batches[consumer]!.indices {
            batches[consumer]![index].expires = expires(batches[consumer]![index].queue)
        }
        return countByConsumer[consumer, default: 0]
    }

    /// Removes and returns the leases that ended before `now`.
    mutating func removeExpired(before now: Duration) -> [Lease] {
        var expired: [Lease] = []
        for consumer in Array(batches.keys) {
            guard batches[consumer]!.contains(where: { $0.expires <= now }) else { continue }
            var held = batches.removeValue(forKey: consumer)!
            for batch in held where batch.expires <= now {
                expired += leases(of: batch, consumer: consumer)
            }
            held.removeAll { $0.expires <= now }
            if !held.isEmpty { batches[consumer] = held }
        }
        for lease in expired { decrement(lease.consumer, by: 1) }
        return expired
    }

    /// Removes every lease `consumer` holds.
    mutating func removeAll(of consumer: ConsumerID) -> [Lease] {
        guard let held = batches.removeValue(forKey: consumer) else { return [] }
        let all = held.flatMap { leases(of: $0, consumer: consumer) }
        decrement(consumer, by: all.count)
        return all
    }

    /// Removes every lease, e.g. at shutdown.
    mutating func removeAll() -> [Lease] {
        var all: [Lease] = []
        for consumer in Array(batches.keys) { all += removeAll(of: consumer) }
        return all
    }

    private func leases(of batch: Batch, consumer: ConsumerID) -> [Lease] {
        batch.entries.compactMap { entry in
            entry.map { Lease(queue: batch.queue, consumer: consumer, entry: $0, expires: batch.expires) }
        }
    }

    private mutating func decrement(_ consumer: ConsumerID, by count: Int) {
        self.count -= count
        let left = countByConsumer[consumer, default: count] - count
        countByConsumer[consumer] = left > 0 ? left : nil
    }
}
