import Logging
import NIOCore
import Pickle
import ServiceLifecycle
import TaskMasterClient
import TaskWire

extension Worker {
    /// Serves TaskMaster masters until stopped: connects, runs the lanes, and when the
    /// connection fails moves on to the next master, pausing with backoff after each failure.
    func runForTaskMaster(progress: WorkerProgress) async throws {
        let masters = MasterConnector(settings: configuration.connection, name: name)
        let addresses = masters.endpoints.map(\.description).joined(separator: ",")
        var backoff = Backoff(maximum: max(configuration.maxBackoff, .milliseconds(100)))
        var failedAttempts = 0

        while !progress.isStopping, !Task.isShuttingDownGracefully, !Task.isCancelled {
            var connected = false
            do {
                try await masters.withConnection { master in
                    connected = true
                    if failedAttempts > 0 {
                        logger.info(
                            "reconnected to the master \(master.master)",
                            metadata: ["master": "\(master.master)", "after_attempts": "\(failedAttempts)"]
                        )
                    } else {
                        logger.info(
                            "connected to the master",
                            metadata: [
                                "master": "\(master.master)", "task_queue": "\(configuration.taskQueue)",
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
                logger.critical("\(error); use the master's authkey", metadata: ["master": "\(addresses)"])
                throw error
            } catch {
                if progress.isStopping || Task.isShuttingDownGracefully || Task.isCancelled { break }
                failedAttempts += 1
                let pause = backoff.next()
                let what = connected ? "lost the master" : "master unreachable"
                logger.warning(
                    "\(what): \(Self.reason(error)); retrying in \(pause.formattedSeconds)",
                    metadata: ["master": "\(addresses)", "attempt": "\(failedAttempts)"]
                )
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            }
        }
    }

    /// An error in one line for the log.
    static func reason(_ error: any Error) -> String {
        "\(error)".split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// Runs `concurrency` lanes on one connection until stopped or disconnected, with a
    /// heartbeat beside them that keeps the master's leases on our tasks alive.
    ///
    /// The lanes run on the connection's event loop: a get's answer resumes its lane on the
    /// thread that read it, and the lane's completion is written from there, with no thread hop
    /// per batch. On graceful shutdown the waiting gets are abandoned (tasks handed to them
    /// later go back); what a lane holds is finished and acknowledged.
    private func runLanes(_ master: TaskMasterConnection, progress: WorkerProgress) async throws {
        let heartbeat = Task { await beat(master, progress: progress) }
        defer { heartbeat.cancel() }
        try await withGracefulShutdownHandler {
            try await master.onEventLoop {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<configuration.concurrency {
                        group.addTask { try await lane(master, progress: progress) }
                    }
                    try await group.waitForAll()
                }
            }
        } onGracefulShutdown: {
            progress.stop("asked to stop")
            master.abandonWaitingGets()
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

    /// Get a batch, run the job on each task, complete the batch (ack and put results in one
    /// step), again. The next get goes out with the completion, not after its answer: the
    /// master has it waiting by the time it has taken the results.
    private func lane(_ master: TaskMasterConnection, progress: WorkerProgress) async throws {
        var tasks = try await nextTasks(master, progress: progress)
        while let batch = tasks {
            guard !batch.isEmpty else {
                progress.checkIdle()
                tasks = try await nextTasks(master, progress: progress)
                continue
            }
            let (ids, results, failed) = await run(batch)
            // Not cancelled by shutdown: what is in hand is finished and acknowledged.
            async let completing = master.complete(
                ids,
                in: configuration.taskQueue,
                results: results,
                into: configuration.resultQueue
            )
            async let following = nextTasks(master, progress: progress)
            let outcome = try await completing
            if !outcome.ack.unknown.isEmpty {
                logger.notice(
                    "some tasks were no longer ours when completed (requeued elsewhere); their results were dropped",
                    metadata: ["tasks": "\(outcome.ack.unknown.count)"]
                )
            }
            progress.record(done: batch.count - failed, failed: failed)
            tasks = try await following
        }
    }

    /// The lane's next batch: empty when the wait ran out, nil when the worker is stopping.
    private func nextTasks(_ master: TaskMasterConnection, progress: WorkerProgress) async throws -> [Delivery]? {
        guard !progress.isStopping else { return nil }
        do {
            let wait = WaitTime.milliseconds(UInt32(clamping: progress.nextWait().milliseconds))
            return try await master.get(from: configuration.taskQueue, maxItems: configuration.prefetch, wait: wait)
        } catch is CancellationError {
            progress.stop("asked to stop")
            return nil
        }
    }

    /// Runs the job on each task of a batch: the ids to acknowledge, a result for each, and
    /// how many failed.
    private func run(_ tasks: [Delivery]) async -> (ids: [TaskID], results: [NewItem], failed: Int) {
        var payloads: [[UInt8]] = []
        payloads.reserveCapacity(tasks.count)
        var failed = 0
        // One call per batch: no await per task for a job that needs none.
        let answers = await job.results(
            for: tasks.map { WorkerTask(id: $0.id, attempt: Int($0.attempt), payload: $0.bytes) }
        )
        for (task, answer) in zip(tasks, answers) {
            let outcome = JobOutcome.of(answer)
            if let failure = outcome.failure {
                failed += 1
                logFailure(failure, task: task.id)
            }
            payloads.append(outcome.payload)
        }
        // A job that answered for fewer tasks than it was given fails the rest.
        for task in tasks.dropFirst(answers.count) {
            failed += 1
            logFailure("the job gave no result for it", task: task.id)
            payloads.append(PickleWriter.pickle(string: "error: no result"))
        }
        // The results as slices of one buffer, written whole before any is sliced off.
        var buffer = ByteBufferAllocator().buffer(capacity: payloads.reduce(0) { $0 + $1.count })
        for payload in payloads { buffer.writeBytes(payload) }
        var start = 0
        let results = zip(tasks, payloads).map { task, payload in
            defer { start += payload.count }
            return NewItem(payload: buffer.getSlice(at: start, length: payload.count)!, reference: task.id)
        }
        return (tasks.map(\.id), results, failed)
    }
}
