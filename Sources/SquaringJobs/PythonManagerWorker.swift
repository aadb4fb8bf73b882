import Logging
import ManagerWire
import Pickle
import ServiceLifecycle
import TaskMasterClient
import TaskMasterConfiguration

/// task-worker against a Python `BaseManager` master (the classic `task_master.py`): the same
/// requests a Python worker makes — `connect()`, `get_task_queue()`, `get_result_queue()`,
/// `get(timeout=1)`, `put('n * n = r')` — so the Python master gets exactly the results a
/// Python worker would send.
///
/// Python's manager has no acknowledgements: a task taken by a worker that dies is lost there.
/// Against a TaskMaster master, use the native protocol instead.
public struct PythonManagerWorker: Service {
    private let configuration: WorkerConfiguration
    private let logger: Logger

    public init(configuration: WorkerConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let progress = WorkerProgress(idleLimit: configuration.exitWhenIdle)
        let endpoint = configuration.connection.endpoint
        var options = TaskMasterConnection.Options()
        options.maxFrameBytes = configuration.connection.maxFrameBytes
        options.handshakeTimeout = configuration.connection.handshakeTimeout
        let client = try PythonManagerClient(
            host: endpoint.host,
            port: endpoint.port,
            authKey: configuration.connection.authKey.bytes,
            options: options
        )
        var backoff = Backoff(maximum: max(configuration.maxBackoff, .milliseconds(100)))
        var failedAttempts = 0

        while !progress.isStopping, !Task.isShuttingDownGracefully {
            do {
                try await client.connect()
                let taskQueue = try await client.create("get_\(configuration.taskQueue)_queue")
                let resultQueue = try await client.create("get_\(configuration.resultQueue)_queue")
                logger.info(
                    "connected to the Python manager",
                    metadata: ["master": "\(endpoint)", "after_attempts": "\(failedAttempts)"]
                )
                failedAttempts = 0
                backoff.reset()
                progress.resetIdleClock()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<configuration.concurrency {
                        group.addTask {
                            try await client.withProxyConnection { proxy in
                                try await lane(proxy, tasks: taskQueue, results: resultQueue, progress: progress)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                try? await client.decref(resultQueue)
                try? await client.decref(taskQueue)
            } catch let error as ClientError where error.code == .authenticationFailed {
                logger.critical("\(error.message)", metadata: ["master": "\(endpoint)"])
                throw error
            } catch {
                if progress.isStopping || Task.isShuttingDownGracefully { break }
                failedAttempts += 1
                let pause = backoff.next()
                logger.warning(
                    "Python manager unreachable; retrying",
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

    /// The classic worker loop on one proxy connection.
    private func lane(_ proxy: ProxyConnection, tasks: String, results: String, progress: WorkerProgress) async throws {
        // A get is never cancelled half-way: Python's server would hand the next task to the
        // abandoned request and lose it. Waits are short, so stopping takes at most a second.
        while !progress.isStopping, !Task.isShuttingDownGracefully {
            let seconds = Double(min(progress.nextWait(), .seconds(1)).milliseconds) / 1000
            let reply = try await proxy.call(
                tasks,
                "get",
                keywords: [.init("timeout", PickleGraph(node: .float(seconds)))]
            )
            switch reply {
            case .returned(let value):
                let payload = (try? value.pickled()) ?? []
                let outcome = Square.outcome(forTask: payload)
                let put = try await proxy.call(results, "put", [.string(outcome.text)])
                guard case .returned = put else {
                    throw ClientError(.serverError, "put on the result queue failed: \(put)", master: proxy.master)
                }
                if case .failed(let text) = outcome {
                    logger.warning("a task is not a number", metadata: ["result": "\(text)"])
                    progress.record(done: 0, failed: 1)
                } else {
                    progress.record(done: 1, failed: 0)
                }
            case .error(let exception) where PythonException.isEmpty(exception):
                progress.checkIdle()
            default:
                throw ClientError(.serverError, "get on the task queue failed: \(reply)", master: proxy.master)
            }
        }
    }
}
