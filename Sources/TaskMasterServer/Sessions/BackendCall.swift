import QueueBackend
import TaskMasterStatus

/// A queue operation a session wants made, as an action's payload: the session decides, its
/// channel handler calls the backend (``start(on:consumer:reply:)``), and the answer comes back
/// to the session as a ``BackendAnswer``.
enum BackendCall: Sendable, Equatable {
    case put([NewTask], queue: String, wait: WaitLimit)
    case get(queue: String, maxItems: Int, wait: WaitLimit)
    case ack([TaskID], queue: String, markDone: Bool)
    case nack([TaskID], queue: String)
    case complete([TaskID], taskQueue: String, results: [NewTask], resultQueue: String)
    case extendLeases
    case peek(queue: String, maxItems: Int)
    case requeueDead(queue: String)
    case purge(queue: String)
    case taskDone(queue: String)
    case join(queue: String)
    case status(queue: String)

    /// Starts the operation for `consumer`; `reply` gets its answer exactly once, maybe before
    /// this returns.
    func start(on backend: any QueueBackend, consumer: ConsumerID, reply: @escaping @Sendable (BackendAnswer) -> Void) {
        switch self {
        case .put(let tasks, let queue, let wait):
            backend.put(tasks, into: queue, wait: wait, consumer: consumer) { reply(.init($0, BackendAnswer.ids)) }
        case .get(let queue, let maxItems, let wait):
            backend.get(from: queue, maxItems: maxItems, wait: wait, consumer: consumer) {
                reply(.init($0, BackendAnswer.tasks))
            }
        case .ack(let ids, let queue, let markDone):
            backend.ack(ids, in: queue, consumer: consumer, markDone: markDone) {
                reply(.init($0, BackendAnswer.settled))
            }
        case .nack(let ids, let queue):
            backend.nack(ids, in: queue, consumer: consumer) { reply(.init($0, BackendAnswer.settled)) }
        case .complete(let ids, let taskQueue, let results, let resultQueue):
            backend.complete(ids, in: taskQueue, results: results, into: resultQueue, consumer: consumer) {
                reply(.init($0, BackendAnswer.completed))
            }
        case .extendLeases:
            backend.extendLeases(of: consumer) { reply(.init($0, BackendAnswer.count)) }
        case .peek(let queue, let maxItems):
            backend.peek(queue, maxItems: maxItems) { reply(.init($0, BackendAnswer.tasks)) }
        case .requeueDead(let queue):
            backend.requeueDead(queue) { reply(.init($0, BackendAnswer.count)) }
        case .purge(let queue):
            backend.purge(queue) { reply(.init($0, BackendAnswer.count)) }
        case .taskDone(let queue):
            backend.taskDone(queue) { reply(.init($0) { .done }) }
        case .join(let queue):
            backend.join(queue, consumer: consumer) { reply(.init($0) { .done }) }
        case .status(let queue):
            backend.status(of: queue) { reply(.init($0, BackendAnswer.status)) }
        }
    }

    /// Whether the call may wait for items, room or other clients (rather than only for the
    /// backend): such calls count against a connection's waiting limit.
    var mayWait: Bool {
        switch self {
        case .put(_, _, let wait), .get(_, _, let wait): return wait != .none
        case .join: return true
        default: return false
        }
    }
}

/// What a ``BackendCall`` came to.
enum BackendAnswer: Sendable {
    case ids([TaskID])
    case tasks([QueuedTask])
    case settled(AckResult)
    case completed(Completion)
    case count(Int)
    case done
    case status(QueueStatus)
    case failed(QueueError)

    init<T>(_ result: Result<T, QueueError>, _ make: (T) -> BackendAnswer) {
        switch result {
        case .success(let value): self = make(value)
        case .failure(let error): self = .failed(error)
        }
    }
}
