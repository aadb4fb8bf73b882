import Logging
import ManagerWire
import Pickle
import ServiceLifecycle
import TaskMasterClient
import TaskMasterStatus

extension Worker {
    /// Serves a Python `BaseManager` master (the classic `task_master.py`) with the requests a
    /// Python worker makes — `connect()`, `get_task_queue()`, `get_result_queue()`,
    /// `get(timeout=1)`, `put(result)` — so the Python master gets exactly what a Python
    /// worker would send.
    ///
    /// Python's manager has no acknowledgements: a task taken by a worker that dies is lost
    /// there. Against a TaskMaster master, use the native protocol instead.
    func runForPythonManager(progress: WorkerProgress) async throws {
        var options = TaskMasterConnection.Options()
        options.maxFrameBytes = configuration.connection.maxFrameBytes
        options.handshakeTimeout = configuration.connection.handshakeTimeout
        let clients = try configuration.connection.endpoints.map { endpoint in
            try PythonManagerClient(
                host: endpoint.host,
                port: endpoint.port,
                authKey: configuration.connection.authKey.bytes,
                options: options
            )
        }
        var backoff = Backoff(maximum: max(configuration.maxBackoff, .milliseconds(100)))
        var failedAttempts = 0
        var index = 0
        var failuresInRound = 0

        while !progress.isStopping, !Task.isShuttingDownGracefully, !Task.isCancelled {
            let client = clients[index]
            let master = "\(client.host):\(client.port)"
            do {
                try await client.connect()
                let taskQueue = try await client.create("get_\(configuration.taskQueue)_queue")
                let resultQueue = try await client.create("get_\(configuration.resultQueue)_queue")
                logger.info(
                    "connected to the Python manager",
                    metadata: ["master": "\(master)", "after_attempts": "\(failedAttempts)"]
                )
                failedAttempts = 0
                failuresInRound = 0
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
                logger.critical("\(error); use the master's authkey", metadata: ["master": "\(master)"])
                throw error
            } catch {
                if progress.isStopping || Task.isShuttingDownGracefully || Task.isCancelled { break }
                failedAttempts += 1
                failuresInRound += 1
                index = (index + 1) % clients.count
                // The next master at once; a pause only once every one of them failed.
                guard failuresInRound >= clients.count else {
                    logger.warning(
                        "Python manager unreachable: \(Self.reason(error)); trying the next one",
                        metadata: ["master": "\(master)", "attempt": "\(failedAttempts)"]
                    )
                    continue
                }
                failuresInRound = 0
                let pause = backoff.next()
                logger.warning(
                    "Python manager unreachable: \(Self.reason(error)); retrying in \(pause.formattedSeconds)",
                    metadata: ["master": "\(master)", "attempt": "\(failedAttempts)"]
                )
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }
            }
        }
    }

    /// The classic worker loop on one proxy connection.
    private func lane(_ proxy: ProxyConnection, tasks: String, results: String, progress: WorkerProgress) async throws {
        // A get is never cancelled half-way: Python's server would hand the next task to the
        // abandoned request and lose it. Waits are short, so stopping takes at most a second.
        while !progress.isStopping, !Task.isShuttingDownGracefully {
            let seconds = min(progress.nextWait(), .seconds(1)).seconds
            let reply = try await proxy.call(
                tasks,
                "get",
                keywords: [.init("timeout", PickleGraph(node: .float(seconds)))]
            )
            switch reply {
            case .returned(let value):
                let payload = (try? value.pickled()) ?? []
                let outcome = await JobOutcome.of(job, for: WorkerTask(id: nil, attempt: 0, payload: payload))
                // The result goes back as the Python value it pickles; bytes that are no
                // pickle as a Python bytes.
                let result = (try? PickleReader.read(outcome.payload)) ?? PickleGraph.bytes(outcome.payload)
                let put = try await proxy.call(results, "put", [result])
                guard case .returned = put else {
                    throw ClientError(
                        .serverError,
                        "put on the result queue failed: \(Self.describe(put))",
                        master: proxy.master
                    )
                }
                if let failure = outcome.failure {
                    logFailure(failure, task: nil)
                    progress.record(done: 0, failed: 1)
                } else {
                    progress.record(done: 1, failed: 0)
                }
            case .error(let exception) where PythonException.isEmpty(exception):
                progress.checkIdle()
            default:
                throw ClientError(
                    .serverError,
                    "get on the task queue failed: \(Self.describe(reply))",
                    master: proxy.master
                )
            }
        }
    }

    /// A manager's reply in a few words, for a log line.
    private static func describe(_ reply: ManagerReply) -> String {
        switch reply {
        case .returned: return "it returned a value"
        case .error(let exception): return "it raised \(exception.typeName)"
        case .traceback(let text), .unserializable(let text):
            let last = text.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }
            return "it failed: \(last.map(String.init) ?? "no details")"
        default: return "it answered something unexpected"
        }
    }
}
