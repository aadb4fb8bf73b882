import DequeModule
import TaskMasterStatus

/// One named FIFO queue with its waiting getters, waiting putters and counters.
///
/// Kept in an array and changed in place through it, under the engine's lock.
struct NamedQueue {
    struct GetWaiter {
        var id: UInt64
        var consumer: ConsumerID
        var maxItems: Int
        var continuation: CheckedContinuation<[QueuedTask], any Error>
        var timer: Task<Void, Never>?
    }

    struct PutWaiter {
        var id: UInt64
        var remaining: ArraySlice<NewTask>
        var accepted: [TaskID]
        var continuation: CheckedContinuation<[TaskID], any Error>
        var timer: Task<Void, Never>?
    }

    let name: String
    let maxSize: Int
    var items: Deque<QueuedTask> = []
    var getters: Deque<GetWaiter> = []
    var putters: Deque<PutWaiter> = []
    var joiners: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
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

    init(name: String, maxSize: Int) {
        self.name = name
        self.maxSize = maxSize
    }

    /// How many more items fit.
    var room: Int { maxSize == 0 ? Int.max : max(0, maxSize - items.count) }

    var isFull: Bool { maxSize > 0 && items.count >= maxSize }

    /// Puts tasks given back by consumers at the front, oldest first, so they are delivered next.
    mutating func requeueAtFront(_ tasks: [QueuedTask]) {
        for task in tasks.sorted(by: { $0.id > $1.id }) {
            items.prepend(task)
        }
    }

    var status: QueueStatus {
        QueueStatus(
            name: name,
            depth: items.count,
            inFlight: inFlight,
            maxSize: maxSize,
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
