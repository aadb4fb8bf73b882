import Foundation
import Logging
import ServiceLifecycle
import TaskMasterConfiguration

/// A worker: takes tasks from the task queue, runs a ``WorkerJob`` for each, and puts the
/// results (each carrying its task's id) on the result queue, acknowledging the tasks in the
/// same step.
///
/// It keeps going until told to stop. It connects to the first master of
/// `configuration.connection.endpoints` that answers and, when it loses that master, moves to
/// the next one; while none answers it retries with capped exponential backoff and jitter,
/// one round of the addresses at a time, and says so in its log. Heartbeats keep its tasks
/// leased while a job runs. On graceful shutdown (SIGTERM/SIGINT in a `ServiceGroup`) it
/// stops taking work, finishes and acknowledges what it holds, and returns; so it does once
/// the task queue stayed empty for `exitWhenIdle`. With `pythonManager` set it serves a Python
/// `BaseManager` master instead.
///
/// ```swift
/// let worker = Worker(configuration: configuration, logger: logger) { task in
///     try PickleValue.string("done: \(task.payload.count) bytes").pickled()
/// }
/// try await worker.run()
/// ```
///
/// ``WorkerOptions`` does all of it for a command-line program, flags included.
public struct Worker<Job: WorkerJob>: Service {
    let job: Job
    let configuration: WorkerConfiguration
    let logger: Logger
    /// The name the master shows for this worker, e.g. `task-worker 1234@host-b`.
    public let name: String

    /// - Parameters:
    ///   - name: how the master lists this worker; default ``defaultName(program:)`` with the
    ///     logger's label.
    public init(job: Job, configuration: WorkerConfiguration, logger: Logger, name: String? = nil) {
        self.job = job
        self.configuration = configuration
        self.logger = logger
        self.name = name ?? Self.defaultName(program: logger.label)
    }

    /// `<program> <pid>@<host>`.
    public static func defaultName(program: String) -> String {
        "\(program) \(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)"
    }

    /// Works until stopped. Throws only when a master refused the authkey (`ClientError`
    /// `.authenticationFailed`): retrying can't help then.
    public func run() async throws {
        let progress = WorkerProgress(idleLimit: configuration.exitWhenIdle)
        if configuration.pythonManager {
            try await runForPythonManager(progress: progress)
        } else {
            try await runForTaskMaster(progress: progress)
        }
        let (done, failed) = progress.counts
        logger.info(
            "\(logger.label) stopped",
            metadata: [
                "reason":
                    "\(Task.isShuttingDownGracefully || Task.isCancelled ? "asked to stop" : progress.stopReason)",
                "tasks_done": "\(done)", "tasks_failed": "\(failed)",
            ]
        )
    }

    /// Logs a failed task.
    func logFailure(_ reason: String, task id: UInt64?) {
        if let id {
            logger.warning("task \(id) failed: \(reason)", metadata: ["task": "\(id)"])
        } else {
            logger.warning("a task failed: \(reason)")
        }
    }
}

extension Worker where Job == JobFunction {
    /// A worker for a job given as a function from task to result payload.
    public init(
        configuration: WorkerConfiguration,
        logger: Logger,
        name: String? = nil,
        job: @escaping @Sendable (WorkerTask) async throws -> [UInt8]
    ) {
        self.init(job: JobFunction(job), configuration: configuration, logger: logger, name: name)
    }
}
