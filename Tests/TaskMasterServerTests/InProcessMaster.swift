import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TaskMasterConfiguration
import TaskMasterServer
import TestSupport

/// A whole task-master running in the test process, on a free loopback port, with the clock
/// the test gives it: its services in a `ServiceGroup`, as the daemon runs them.
///
/// ```swift
/// try await InProcessMaster.with { master in
///     try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: master.port, authKey: master.key) { … }
/// }
/// ```
final class InProcessMaster: Sendable {
    let port: Int
    let key: [UInt8]
    let master: TaskMaster
    let configuration: MasterConfiguration
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(
        port: Int,
        key: [UInt8],
        master: TaskMaster,
        configuration: MasterConfiguration,
        group: ServiceGroup,
        running: Task<Void, any Error>
    ) {
        self.port = port
        self.key = key
        self.master = master
        self.configuration = configuration
        self.group = group
        self.running = running
    }

    /// Starts a master with `configure` applied to a default configuration (port 0 on
    /// 127.0.0.1, a random key) and waits until it listens.
    static func start(
        clock: any Clock<Duration> = ContinuousClock(),
        configure: (inout MasterConfiguration) -> Void = { _ in }
    ) async throws -> InProcessMaster {
        let key = Array("in-process-\(UInt64.random(in: 0...UInt64.max))".utf8)
        var configuration = MasterConfiguration(authKey: Secret(key))
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configure(&configuration)
        let logger = Logger(label: "in-process-master")
        let (addresses, address) = AsyncStream<SocketAddress>.makeStream()
        let master = try TaskMaster(configuration: configuration, logger: logger, clock: clock) {
            address.yield($0)
            address.finish()
        }
        let group = ServiceGroup(configuration: .init(services: master.services, logger: logger))
        let running = Task { try await group.run() }
        let port = try await withThrowingTaskGroup(of: Int?.self) { waiting in
            waiting.addTask { await addresses.first { _ in true }?.port }
            waiting.addTask {
                try await Task.sleep(for: .seconds(20))
                return nil
            }
            defer { waiting.cancelAll() }
            return try await waiting.next() ?? nil
        }
        guard let port else {
            running.cancel()
            throw TestFailure("the in-process master did not start listening within 20 s")
        }
        return InProcessMaster(
            port: port,
            key: key,
            master: master,
            configuration: configuration,
            group: group,
            running: running
        )
    }

    /// Starts a master, runs `body`, and stops the master, also when `body` throws.
    static func with<Result>(
        clock: any Clock<Duration> = ContinuousClock(),
        configure: (inout MasterConfiguration) -> Void = { _ in },
        _ body: (InProcessMaster) async throws -> Result
    ) async throws -> Result {
        let master = try await start(clock: clock, configure: configure)
        let result: Result
        do {
            result = try await body(master)
        } catch {
            try? await master.stop()
            throw error
        }
        try await master.stop()
        return result
    }

    /// Shuts the master down as SIGTERM does and waits until every service has returned;
    /// rethrows what the group threw.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// Waits for the group to end by itself (a remote shutdown), at most `limit`.
    func waitForExit(within limit: Duration) async throws -> Bool {
        let running = self.running
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await running.value
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
    }
}
