import QueueBackend

/// A waiter's reply, to call once the engine's lock is released: replies never run while it is
/// held.
enum Resumption {
    /// A waiting get's tasks (or its end).
    case delivered(QueueReply<[QueuedTask]>, Result<[QueuedTask], QueueError>)
    /// A waiting put's ids (or its end). Ids that went in are answered once the store has them.
    case accepted(QueueReply<[TaskID]>, Result<[TaskID], QueueError>)
    /// A join's end.
    case joined(QueueReply<Void>, Result<Void, QueueError>)
}
