import Foundation
import Logging
import Synchronization
import TaskMasterAdmin
import TaskMasterStatus

/// A `StatusSource` whose snapshot the test sets, optionally changed after every call (so the
/// page sees totals grow).
final class FakeStatusSource: StatusSource {
    private struct State {
        var snapshot: StatusSnapshot
        var calls = 0
    }

    private let state: Mutex<State>
    private let step: @Sendable (inout StatusSnapshot) -> Void

    init(_ snapshot: StatusSnapshot, afterEachCall step: @escaping @Sendable (inout StatusSnapshot) -> Void = { _ in })
    {
        state = Mutex(State(snapshot: snapshot))
        self.step = step
    }

    func statusSnapshot() -> StatusSnapshot {
        state.withLock { state in
            let current = state.snapshot
            state.calls += 1
            step(&state.snapshot)
            return current
        }
    }

    func set(_ snapshot: StatusSnapshot) {
        state.withLock { $0.snapshot = snapshot }
    }

    /// How many snapshots were taken.
    var calls: Int { state.withLock { $0.calls } }
}

/// Runs `body`, failing with a message naming `what` if it takes longer than `limit`. On a
/// timeout the work is cancelled and left behind rather than awaited, so the test can't hang.
func withTimeout<T: Sendable>(
    _ limit: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let once = ResumeOnce(continuation)
        let work = Task {
            once.resume(with: await outcome { try await body() })
        }
        Task {
            try? await Task.sleep(for: limit)
            if once.resume(with: .failure(AdminTestFailure("\(what) took more than \(limit)"))) { work.cancel() }
        }
    }
}

/// Resumes a continuation the first time only.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation = Mutex(continuation)
    }

    /// True if this call resumed it.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        guard let continuation = self.continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(with: result)
        return true
    }
}

/// What `body` returned or threw.
func outcome<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

/// An `AdminServer` running in a task on 127.0.0.1 with a free port.
struct RunningAdminServer {
    let port: Int
    let task: Task<Void, any Error>

    static func start(
        source: any StatusSource,
        metrics: AdminMetrics = AdminMetrics(),
        maxConnections: Int = 64,
        idleTimeout: Duration = .seconds(30)
    ) async throws -> RunningAdminServer {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = AdminServer(
            host: "127.0.0.1",
            port: 0,
            source: source,
            metrics: metrics,
            logger: Logger(label: "admin-test"),
            maxConnections: maxConnections,
            idleTimeout: idleTimeout,
            onListening: { address in
                continuation.yield(address.port ?? 0)
                continuation.finish()
            }
        )
        let task = Task {
            defer { continuation.finish() }
            try await server.run()
        }
        let port = try await withTimeout(.seconds(20), "starting the admin server") {
            for await port in ports { return port }
            return 0
        }
        guard port > 0 else {
            task.cancel()
            let result = await outcome { try await task.value }
            throw AdminTestFailure("the admin server did not start: \(result)")
        }
        return RunningAdminServer(port: port, task: task)
    }

    /// Stops the server (by cancelling its task) and waits, bounded, for it to return or throw
    /// `CancellationError`.
    func stop() async throws {
        task.cancel()
        let task = self.task
        try await withTimeout(.seconds(10), "stopping the admin server") {
            do {
                try await task.value
            } catch is CancellationError {
                // How a cancelled service may end.
            }
        }
    }

    /// Opens a connection to the server.
    func connect(timeout: Duration = .seconds(10)) throws -> HTTPTestConnection {
        try HTTPTestConnection(port: port, timeout: timeout)
    }

    /// GETs (or whatever `method`) `path` on a fresh connection.
    func fetch(_ path: String, method: String = "GET") async throws -> HTTPTestResponse {
        try await connect().request(method, path)
    }
}
