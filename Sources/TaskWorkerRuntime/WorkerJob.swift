import Pickle

/// What a worker does with each task: turns its payload into a result payload.
///
/// A job is any `Sendable` type with this one method; ``JobFunction`` makes one of a closure.
/// Payloads are pickles, so Python clients share the queues: read a task with
/// ``WorkerTask/value()`` and write a result with `PickleValue.pickled()`.
///
/// Throw to fail a task: the worker then puts a failed result for it (the Python `str`
/// `"error: <reason>"`, or the payload a ``WorkerError/taskFailed(_:result:)`` carries),
/// acknowledges it, counts it as failed, logs a warning and goes on with the next task. A
/// failed task is not retried: retrying is for tasks whose worker died, which the master
/// does by itself.
///
/// ```swift
/// struct WordCount: WorkerJob {
///     func result(for task: WorkerTask) async throws -> [UInt8] {
///         guard let text = try task.value().stringValue else {
///             throw WorkerError.taskFailed("the task is not a str")
///         }
///         return try PickleValue.int(text.split(separator: " ").count).pickled()
///     }
/// }
/// ```
public protocol WorkerJob: Sendable {
    /// The result payload for `task`. Called for many tasks at once (one per lane, see
    /// `concurrency`), each task once per delivery.
    func result(for task: WorkerTask) async throws -> [UInt8]

    /// The results of a batch of tasks as the worker took them, in their order: each a result
    /// payload, or the error that failed its task.
    ///
    /// The worker calls this once per batch. The default calls ``result(for:)`` for each task
    /// in turn. Implement it to do a batch at once (one query for all its tasks, say), or to
    /// spare a fast synchronous job an `await` per task.
    func results(for tasks: [WorkerTask]) async -> [Result<[UInt8], any Error>]
}

extension WorkerJob {
    public func results(for tasks: [WorkerTask]) async -> [Result<[UInt8], any Error>] {
        var results: [Result<[UInt8], any Error>] = []
        results.reserveCapacity(tasks.count)
        for task in tasks {
            do {
                results.append(.success(try await result(for: task)))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }
}

/// A job given as a function from task to result payload.
public struct JobFunction: WorkerJob {
    private let function: @Sendable (WorkerTask) async throws -> [UInt8]

    public init(_ function: @escaping @Sendable (WorkerTask) async throws -> [UInt8]) {
        self.function = function
    }

    public func result(for task: WorkerTask) async throws -> [UInt8] {
        try await function(task)
    }
}

/// One task as a job sees it.
public struct WorkerTask: Sendable {
    /// The task's id at the master; nil for a task from a Python `BaseManager` master, which
    /// has no ids.
    public var id: UInt64?
    /// Which delivery this is: 1 the first time, more when an earlier worker took the task and
    /// died before finishing it (0 when the master does not say).
    public var attempt: Int
    /// The task's payload, as it was put: a pickle when a Python client or `task-ctl put`
    /// put it.
    public var payload: [UInt8]

    public init(id: UInt64?, attempt: Int, payload: [UInt8]) {
        self.id = id
        self.attempt = attempt
        self.payload = payload
    }

    /// The payload read as a pickled Python value.
    ///
    /// - Throws: `PickleError` when it is not a pickle; thrown on from a job, the task fails.
    public func value() throws -> PickleValue {
        try PickleValue(pickle: payload)
    }
}

/// A task's result as the worker puts it, and whether the job failed it.
struct JobOutcome {
    var payload: [UInt8]
    /// Why the task failed, for the log; nil when it succeeded.
    var failure: String?

    /// Runs `job` for `task`; a thrown error becomes a failed result, never a failed worker.
    static func of<Job: WorkerJob>(_ job: Job, for task: WorkerTask) async -> JobOutcome {
        do {
            return JobOutcome(payload: try await job.result(for: task), failure: nil)
        } catch {
            return failed(error)
        }
    }

    /// What a job's answer for one task becomes.
    static func of(_ result: Result<[UInt8], any Error>) -> JobOutcome {
        switch result {
        case .success(let payload): return JobOutcome(payload: payload, failure: nil)
        case .failure(let error): return failed(error)
        }
    }

    /// The failed result for `error`: the payload a ``WorkerError`` carries, or its reason as
    /// the Python str `"error: <reason>"`.
    private static func failed(_ error: any Error) -> JobOutcome {
        if let error = error as? WorkerError {
            let payload = error.result ?? PickleWriter.pickle(string: "error: \(error.message)")
            return JobOutcome(payload: payload, failure: error.message)
        }
        let reason = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
        return JobOutcome(payload: PickleWriter.pickle(string: "error: \(reason)"), failure: reason)
    }
}
