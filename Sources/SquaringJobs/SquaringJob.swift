import TaskWorkerRuntime

/// The squaring job as a ``WorkerJob``: a task is a pickled integer of any size, its result
/// the Python `str` `"n * n = r"`. A task that is not an integer fails with the result
/// `"error: the task is a str, not an int; only integers can be squared"` (naming its type).
public struct SquaringJob: WorkerJob {
    public init() {}

    public func result(for task: WorkerTask) throws -> [UInt8] {
        let (payload, failed) = Square.result(forTask: task.payload)
        guard failed else { return payload }
        // Rare: the text again, for the log line.
        let text = Square.outcome(forTask: task.payload).text
        let reason = text.hasPrefix("error: ") ? String(text.dropFirst("error: ".count)) : text
        throw WorkerError.taskFailed(reason, result: payload)
    }

    /// A batch in one synchronous pass: squaring takes well under a microsecond, less than an
    /// `await` per task would.
    public func results(for tasks: [WorkerTask]) -> [Result<[UInt8], any Error>] {
        tasks.map { task in Result { try result(for: task) } }
    }
}
