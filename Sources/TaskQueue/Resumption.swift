/// A waiter to wake once the engine's lock is released: continuations are never resumed
/// while it is held.
enum Resumption {
    case delivered(CheckedContinuation<[QueuedTask], any Error>, [QueuedTask], timer: Task<Void, Never>?)
    case accepted(CheckedContinuation<[TaskID], any Error>, [TaskID], timer: Task<Void, Never>?)
    case getFailed(CheckedContinuation<[QueuedTask], any Error>, any Error, timer: Task<Void, Never>?)
    case putFailed(CheckedContinuation<[TaskID], any Error>, any Error, timer: Task<Void, Never>?)
    case joined(CheckedContinuation<Void, any Error>)
    case joinFailed(CheckedContinuation<Void, any Error>, any Error)

    func run() {
        switch self {
        case .delivered(let continuation, let tasks, let timer):
            timer?.cancel()
            continuation.resume(returning: tasks)
        case .accepted(let continuation, let ids, let timer):
            timer?.cancel()
            continuation.resume(returning: ids)
        case .getFailed(let continuation, let error, let timer):
            timer?.cancel()
            continuation.resume(throwing: error)
        case .putFailed(let continuation, let error, let timer):
            timer?.cancel()
            continuation.resume(throwing: error)
        case .joined(let continuation):
            continuation.resume()
        case .joinFailed(let continuation, let error):
            continuation.resume(throwing: error)
        }
    }
}

extension Array where Element == Resumption {
    func run() {
        for resumption in self { resumption.run() }
    }
}
