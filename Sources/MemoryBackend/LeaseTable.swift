import QueueBackend

/// Which consumer holds which delivered task, until it acknowledges it.
struct LeaseTable {
    struct Lease {
        /// The queue's slot in the engine.
        var queue: Int
        var consumer: ConsumerID
        var entry: NamedQueue.Entry
        /// When the lease ends without an ack or a heartbeat (engine time).
        var expires: Duration
    }

    private var leases: [TaskID: Lease] = [:]
    private var countByConsumer: [ConsumerID: Int] = [:]

    init() {
        leases.reserveCapacity(1024)
    }

    var count: Int { leases.count }

    var byConsumer: [ConsumerID: Int] { countByConsumer }

    func count(of consumer: ConsumerID) -> Int { countByConsumer[consumer, default: 0] }

    mutating func add(_ entry: NamedQueue.Entry, queue: Int, consumer: ConsumerID, expires: Duration) {
        leases[entry.task.id] = Lease(queue: queue, consumer: consumer, entry: entry, expires: expires)
        countByConsumer[consumer, default: 0] += 1
    }

    /// Pushes back the end of every lease `consumer` holds: it is alive and working.
    mutating func extend(of consumer: ConsumerID, until expires: (Int) -> Duration) -> Int {
        guard countByConsumer[consumer] != nil else { return 0 }
        var count = 0
        for (id, lease) in leases where lease.consumer == consumer {
            leases[id]?.expires = expires(lease.queue)
            count += 1
        }
        return count
    }

    /// Removes and returns the leases that ended before `now`. Scans the table: it holds only
    /// what is in flight, and runs about once a second.
    mutating func removeExpired(before now: Duration) -> [Lease] {
        var expired: [Lease] = []
        for (id, lease) in leases where lease.expires <= now {
            expired.append(lease)
            leases[id] = nil
            decrement(lease.consumer)
        }
        return expired
    }

    /// Removes the lease on `id` if `consumer` holds it in `queue`.
    mutating func remove(_ id: TaskID, queue: Int, consumer: ConsumerID) -> Lease? {
        guard let index = leases.index(forKey: id) else { return nil }
        let lease = leases.values[index]
        guard lease.consumer == consumer, lease.queue == queue else { return nil }
        leases.remove(at: index)
        decrement(consumer)
        return lease
    }

    /// Removes every lease `consumer` holds. Scans the table: it runs once per disconnect,
    /// and the table holds only what is in flight.
    mutating func removeAll(of consumer: ConsumerID) -> [Lease] {
        guard countByConsumer[consumer] != nil else { return [] }
        var removed: [Lease] = []
        for (id, lease) in leases where lease.consumer == consumer {
            removed.append(lease)
            leases[id] = nil
        }
        countByConsumer[consumer] = nil
        return removed
    }

    /// Removes every lease, e.g. at shutdown.
    mutating func removeAll() -> [Lease] {
        let all = Array(leases.values)
        leases.removeAll()
        countByConsumer.removeAll()
        return all
    }

    private mutating func decrement(_ consumer: ConsumerID) {
        let left = countByConsumer[consumer, default: 1] - 1
        countByConsumer[consumer] = left > 0 ? left : nil
    }
}
