import MemoryBackend
import QueueBackend
import TestSupport

/// Items of one byte each.
func items(_ values: [UInt8]) -> [NewTask] { values.map { NewTask(payload: [$0]) } }

/// The first payload byte of each task.
func values(_ tasks: [QueuedTask]) -> [UInt8] { tasks.map { $0.payload.getInteger(at: $0.payload.readerIndex) ?? 0 } }

/// Runs the backend's wait timer for the duration of `body`.
func withWaitTimer<T>(_ backend: MemoryBackend, _ body: () async throws -> T) async throws -> T {
    let timers = backend.services
    let running = Task {
        await withTaskGroup(of: Void.self) { group in
            for timer in timers { group.addTask { await timer.run() } }
        }
    }
    defer { running.cancel() }
    return try await body()
}

/// Polls `condition` every millisecond, failing after `limit`.
func waitUntil(within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("condition not met within \(limit)") }
        try await Task.sleep(for: .milliseconds(1))
    }
}
