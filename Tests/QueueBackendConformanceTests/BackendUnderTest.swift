import Foundation
import Logging
import MemoryBackend
import PostgresBackend
import QueueBackend
import SQLiteStore
import ServiceLifecycle
import TaskMasterConfiguration
import TestSupport

/// A backend the conformance suite runs against: how to start one with given limits, and
/// whether it keeps its queues across a restart.
struct BackendUnderTest: Sendable, CustomStringConvertible {
    var name: String
    /// Whether a restart on the same store finds the queues again.
    var isDurable: Bool
    /// Starts a backend with `limits` on the store called `store` (a fresh one for each test;
    /// the same name again is the same store, for restarts).
    var start: @Sendable (_ limits: QueueLimits, _ store: String) async throws -> RunningBackend

    var description: String { name }

    /// Every backend the suite runs against on this machine.
    /// PostgreSQL joins where its server binaries are (and always under CI=true, where a
    /// missing PostgreSQL fails its tests).
    static let all: [BackendUnderTest] = [memory, sqlite] + (Prerequisite.postgres ? [postgres] : [])

    /// The durable ones.
    static let durable: [BackendUnderTest] = all.filter(\.isDurable)

    static let memory = BackendUnderTest(name: "memory", isDurable: false) { limits, _ in
        let backend = try MemoryBackend(limits: limits)
        return RunningBackend(backend: backend, services: backend.services)
    }

    static let sqlite = BackendUnderTest(name: "sqlite", isDurable: true) { limits, store in
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("conformance-\(store)").path
        let sqlite = try SQLiteTaskStore(directory: directory, syncPolicy: .batch)
        let journal = Journal(defersCompletions: true)
        let backend = try MemoryBackend(limits: limits, journal: journal, restoring: try sqlite.loadAll())
        let writer = StoreWriter(store: sqlite, journal: journal, logger: Logger(label: "test"))
        return RunningBackend(backend: backend, services: [writer] + backend.services) {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}

extension BackendUnderTest {
    /// Queues in PostgreSQL: one throwaway cluster for the whole suite, a schema per store.
    static let postgres = postgres()

    /// Queues in PostgreSQL, waiters looking again every `pollInterval` (the backend's default
    /// when nil).
    static func postgres(pollInterval: Duration? = nil) -> BackendUnderTest {
        BackendUnderTest(name: "postgres", isDurable: true) { limits, store in
            let cluster = try await SharedPostgres.cluster()
            let schema = "s_" + String(store.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(40))
            let url = try PostgresURL("\(cluster.url)?schema=\(schema)")
            // The whole suite starts at once on two cores: the first migrations can take a while.
            var settings = PostgresBackendSettings(url: url, unavailableTimeout: .seconds(60))
            if let pollInterval { settings.pollInterval = pollInterval }
            let backend = try PostgresBackend(
                settings: settings,
                limits: limits,
                logger: Logger(label: "conformance-postgres")
            )
            return RunningBackend(backend: backend, services: backend.services)
        }
    }
}

/// The suite's one PostgreSQL cluster, started on first use and killed at exit. Tests run in
/// parallel, each backend with up to five connections (its lanes and its listener) besides
/// the tests' own `psql`s: PostgreSQL's default of 100 connections ran out in a full test
/// run once a queue's puts got a lane of their own.
enum SharedPostgres {
    private static let started = Task {
        try await PostgresCluster.start(name: "conformance", settings: ["max_connections": "400"])
    }

    static func cluster() async throws -> PostgresCluster {
        try await started.value
    }
}

/// A backend with its services running in a `ServiceGroup`, as the master runs them.
final class RunningBackend: Sendable {
    let backend: any QueueBackend
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private let cleanup: @Sendable () -> Void

    init(backend: any QueueBackend, services: [any Service], cleanup: @escaping @Sendable () -> Void = {}) {
        self.backend = backend
        self.cleanup = cleanup
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, logger: Logger(label: "test"))
        )
        self.group = group
        running = Task { try await group.run() }
    }

    /// Shuts the backend down as the master does at exit, and stops its services (a durable
    /// backend has then stored everything). Keeps the store.
    func stop() async throws {
        try? await backend.shutDown()
        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// Stops and removes the store.
    func stopAndRemove() async throws {
        try await stop()
        cleanup()
    }
}

extension BackendUnderTest {
    /// Starts a backend on a fresh store, runs `body`, and stops it (and removes its store), also
    /// when `body` throws.
    func with(_ limits: QueueLimits = QueueLimits(), _ body: (any QueueBackend) async throws -> Void) async throws {
        let running = try await start(limits, UUID().uuidString)
        do {
            try await body(running.backend)
        } catch {
            try? await running.stopAndRemove()
            throw error
        }
        try await running.stopAndRemove()
    }
}

/// Items of one byte each.
func items(_ values: [UInt8]) -> [NewTask] { values.map { NewTask(payload: [$0]) } }

/// The first payload byte of each task.
func values(_ tasks: [QueuedTask]) -> [UInt8] { tasks.map { $0.payload.getInteger(at: $0.payload.readerIndex) ?? 0 } }

/// Polls `condition` every few milliseconds, failing after `limit`.
func waitUntil(
    within limit: Duration = .seconds(10),
    _ what: String = "condition",
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("\(what) not met within \(limit)") }
        try await Task.sleep(for: .milliseconds(2))
    }
}
