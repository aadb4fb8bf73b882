import DequeModule
import QueueBackend
import TaskMasterStatus

/// One named FIFO queue with its waiting getters, putters and joiners, and its counters.
///
/// Kept in the engine's slot array and changed in place through it, under the engine's lock.
struct NamedQueue {
    /// A queued (or leased) task and when it was put, for the put-to-done latency.
    struct Entry {
        var task: QueuedTask
        var enqueuedAt: Duration

        /// What the task counts against the memory limit: its payload and its bookkeeping.
        var cost: Int { task.payload.readableBytes + NamedQueue.entryOverhead }
    }

    struct GetWaiter {
        var id: UInt64
        var consumer: ConsumerID
        var maxItems: Int
        var reply: QueueReply<[QueuedTask]>
    }

    struct PutWaiter {
        var id: UInt64
        var consumer: ConsumerID
        var remaining: ArraySlice<NewTask>
        var accepted: [TaskID]
        var reply: QueueReply<[TaskID]>
    }

    struct Joiner {
        var id: UInt64
        var consumer: ConsumerID
        var reply: QueueReply<Void>
    }

    /// Bytes of bookkeeping per task, beyond its payload (the entry, the deque slot, a lease),
    /// counted against the memory limit so that a million tiny tasks count as what they hold.
    static let entryOverhead = 128

    let name: String
    /// Capacity in items; 0 is unbounded.
    let maxSize: Int
    /// Capacity in payload bytes of queued items; 0 is unbounded.
    let maxBytes: Int
    var items = TaskLine<Entry>()
    /// Payload bytes of the queued items.
    var bytes = 0
    var getters: Deque<GetWaiter> = []
    var putters: Deque<PutWaiter> = []
    var joiners: [Joiner] = []
    /// Items leased out and not yet settled.
    var inFlight = 0
    /// Items put and not yet done (acked or `task_done()`): what `join()` waits for.
    var unfinished = 0
    var totalPut: UInt64 = 0
    var totalDelivered: UInt64 = 0
    var totalAcked: UInt64 = 0
    var totalNacked: UInt64 = 0
    var totalRedelivered: UInt64 = 0
    var totalDead: UInt64 = 0

    init(name: String, maxSize: Int, maxBytes: Int) {
        self.name = name
        self.maxSize = maxSize
        self.maxBytes = maxBytes
    }

    /// Whether nothing is in it, leased from it, or waiting on it: it may be reclaimed.
    var isIdle: Bool {
        items.isEmpty && inFlight == 0 && unfinished == 0 && getters.isEmpty && putters.isEmpty && joiners.isEmpty
    }

    /// Whether the queue ever held anything (a queue made only by waiting reads did not).
    var hasHistory: Bool { totalPut > 0 || totalDead > 0 }

    /// How many of `tasks` (from the front) fit under the item and byte capacities.
    func fitting(_ tasks: ArraySlice<NewTask>) -> Int {
        var count = maxSize == 0 ? tasks.count : min(tasks.count, max(0, maxSize - items.count))
        if maxBytes > 0 {
            var room = maxBytes - bytes
            var fits = 0
            for task in tasks.prefix(count) {
                room -= task.payload.readableBytes
                if room < 0 { break }
                fits += 1
            }
            count = fits
        }
        return count
    }

    /// Puts tasks given back by consumers at the front, oldest first, so they are delivered next.
    mutating func requeueAtFront(_ entries: [Entry]) {
        for entry in entries.sorted(by: { $0.task.id > $1.task.id }) {
            items.prepend(entry)
            bytes += entry.task.payload.readableBytes
        }
    }

    mutating func append(_ entry: Entry) {
        items.append(entry)
        bytes += entry.task.payload.readableBytes
    }

    mutating func removeFirst() -> Entry {
        let entry = items.removeFirst()
        bytes -= entry.task.payload.readableBytes
        return entry
    }

    mutating func removeAll() -> [Entry] {
        bytes = 0
        return items.removeAll()
    }

    var status: QueueStatus {
        QueueStatus(
            name: name,
            depth: items.count,
            inFlight: inFlight,
            maxSize: maxSize,
            bytes: bytes,
            maxBytes: maxBytes,
            waitingConsumers: getters.count,
            waitingProducers: putters.count,
            totalPut: totalPut,
            totalDelivered: totalDelivered,
            totalAcked: totalAcked,
            totalNacked: totalNacked,
            totalRedelivered: totalRedelivered,
            totalDead: totalDead
        )
    }
}
