/// Which consumer holds which delivered task, until it acknowledges it.
struct LeaseTable {
    struct Lease {
        /// The queue's index in the engine.
        var queue: Int
        var consumer: ConsumerID
        var task: QueuedTask
    }

    private var leases: [TaskID: Lease] = [:]

    init() {
        leases.reserveCapacity(1024)
    }
    private var countByConsumer: [ConsumerID: Int] = [:]

    var count: Int { leases.count }

    func count(of consumer: ConsumerID) -> Int { countByConsumer[consumer, default: 0] }

    mutating func add(_ task: QueuedTask, queue: Int, consumer: ConsumerID) {
        leases[task.id] = Lease(queue: queue, consumer: consumer, task: task)
        countByConsumer[consumer, default: 0] += 1
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
