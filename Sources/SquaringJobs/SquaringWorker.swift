import Foundation
import Logging
import ServiceLifecycle
import TaskMasterClient
import TaskMasterConfiguration
import TaskWire

/// The task-worker: takes numbers from the task queue, squares them exactly, and puts
/// `"n * n = r"` results (carrying their task's id) on the result queue.
///
/// It keeps going until told to stop. While the master is unreachable it retries with capped
/// exponential backoff and jitter. On graceful shutdown (SIGTERM/SIGINT) it stops taking
/// work, finishes and acknowledges what it holds, and returns.
public struct SquaringWorker: Service {
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let name: String

    public init(configuration: WorkerConfiguration, logger: Logger, name: String = SquaringWorker.defaultName()) {
        self.configuration = configuration
        self.logger = logger
        self.name = name
    }

    /// `task-worker <pid>@<host>`.
    public static func defaultName() -> String {
        "task-worker \(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)"
    }

    public func run() async throws {
        let progress = WorkerProgress(idleLimit: configuration.exitWhenIdle)
        let endpoint = configuration.connection.endpoint
        var backoff = Backoff(maximum: max(configuration.maxBackoff, .milliseconds(100)))
        var failedAttempts = 0
        let options = TaskMasterConnection.Options(configuration.connection)

        while !progress.isStopping, !Task.isShuttingDownGracefully {
            do {
                try await TaskMasterConnection.withConnection(
                    to: endpoint.host,
                    port: endpoint.port,
                    authKey: configuration.connection.authKey.bytes,
                    name: name,
                    options: options
                ) { master in
                    if failedAttempts > 0 {
                        logger.info(
                            "reconnected to the master",
                            metadata: ["master": "\(endpoint)", "after_attempts": "\(failedAttempts)"]
                        )
                    } else {
                        logger.info(
                            "connected to the master",
                            metadata: [
                                "master": "\(endpoint)", "task_queue": "\(configuration.taskQueue)",
                                "result_queue": "\(configuration.resultQueue)",
                            ]
                        )
                    }
                    failedAttempts = 0
                    backoff.reset()
                    progress.resetIdleClock()
                    try await runLanes(master, progress: progress)
                }
            } catch let error as ClientError where error.code == .authenticationFailed {
                logger.critical("\(error.message)", metadata: ["master": "\(endpoint)"])
                throw error
            } catch {
                if progress.isStopping || Task.isShuttingDownGracefully { break }
                failedAttempts += 1
                let pause = backoff.next()
                logger.warning(
                    "master unreachable; retrying",
                    metadata: [
                        "master": "\(endpoint)", "error": "\(error)", "attempt": "\(failedAttempts)",
                        "retry_in": "\(pause.formattedSeconds)",
                    ]
                )
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            }
        }
        let (done, failed) = progress.counts
        logger.info(
            "task-worker stopped",
            metadata: [
                "reason": "\(Task.isShuttingDownGracefully ? "asked to stop" : progress.stopReason)",
                "tasks_done": "\(done)", "tasks_failed": "\(failed)",
            ]
        )
    }

    /// Runs `concurrency` lanes on one connection until stopped or disconnected, with a
    /// heartbeat beside them that keeps the master's leases on our tasks alive.
    private func runLanes(_ master: TaskMasterConnection, progress: WorkerProgress) async throws {
        let heartbeat = Task { await beat(master, progress: progress) }
        defer { heartbeat.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<configuration.concurrency {
                group.addTask { try await lane(master, progress: progress) }
            }
            try await group.waitForAll()
        }
    }

    /// Reports progress every `heartbeatInterval` until cancelled. A worker busy with a long
    /// task keeps its leases this way; a hung one (no heartbeat) loses them.
    private func beat(_ master: TaskMasterConnection, progress: WorkerProgress) async {
        let started = ContinuousClock.now
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.heartbeatInterval)
                let (done, failed) = progress.counts
                let uptime = UInt64((ContinuousClock.now - started).components.seconds)
                try await master.heartbeat(
                    WorkerReport(tasksDone: UInt64(done), tasksFailed: UInt64(failed), uptimeSeconds: uptime)
                )
            } catch {
                return  // cancelled, or the connection ended: the lanes notice too
            }
        }
    }

    /// Get a batch, square it, complete it (ack and put results in one step), again.
    private func lane(_ master: TaskMasterConnection, progress: WorkerProgress) async throws {
        let taskQueue = configuration.taskQueue
        let resultQueue = configuration.resultQueue
        while !progress.isStopping {
            let tasks: [Delivery]
            do {
                let wait = WaitTime.milliseconds(UInt32(clamping: progress.nextWait().milliseconds))
                tasks = try await cancelWhenGracefulShutdown {
                    try await master.get(from: taskQueue, maxItems: configuration.prefetch, wait: wait)
                }
            } catch is CancellationError {
                progress.stop("asked to stop")
                return
            }
            guard !tasks.isEmpty else {
                progress.checkIdle()
                continue
            }
            var results: [NewItem] = []
            results.reserveCapacity(tasks.count)
            var failed = 0
            for task in tasks {
                let (payload, didFail) = Square.result(forTask: task.payload)
                if didFail {
                    failed += 1
                    logger.warning("task \(task.id) is not a number", metadata: ["task": "\(task.id)"])
                }
                results.append(NewItem(payload: payload, reference: task.id))
            }
            // Not cancelled by shutdown: what is in hand is finished and acknowledged.
            let outcome = try await master.complete(
                tasks.map(\.id),
                in: taskQueue,
                results: results,
                into: resultQueue
            )
            if !outcome.ack.unknown.isEmpty {
                logger.notice(
                    "some tasks were no longer ours when completed (requeued elsewhere); their results were dropped",
                    metadata: ["tasks": "\(outcome.ack.unknown.count)"]
                )
            }
            progress.record(done: tasks.count - failed, failed: failed)
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    var formattedSeconds: String {
        let ms = milliseconds
        return "\(ms / 1000).\(String(format: "%03d", Int(ms % 1000)))s"
    }
}
