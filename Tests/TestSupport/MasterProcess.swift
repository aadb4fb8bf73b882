import Foundation
import Synchronization

/// A `task-master` started for a test on an ephemeral loopback port.
public struct MasterProcess: Sendable {
    public let process: ManagedProcess
    public let port: Int
    public let authKey: String

    /// Starts the built `task-master` on 127.0.0.1 and a free port, and waits until it listens.
    public static func start(
        authKey: String = "test-key-\(UInt64.random(in: 0...UInt64.max))",
        arguments: [String] = [],
        environment: [String: String] = [:]
    ) async throws -> MasterProcess {
        var env = environment
        env["TASK_AUTHKEY"] = authKey
        let process = try ManagedProcess(
            Binaries.master,
            ["--host", "127.0.0.1", "--port", "0"] + arguments,
            environment: env,
            name: "task-master"
        )
        guard
            let line = await process.waitForLine(
                within: .seconds(30),
                where: { $0.hasPrefix("task-master listening on") }
            ),
            let port = line.split(separator: ":").last.flatMap({ Int($0) })
        else {
            process.kill9()
            throw TestFailure("task-master did not start listening:\n\(process.transcript)")
        }
        return MasterProcess(process: process, port: port, authKey: authKey)
    }

    /// Starts a master, runs `body` with it, and stops it, also when `body` throws.
    public static func with<Result>(
        arguments: [String] = [],
        environment: [String: String] = [:],
        _ body: (MasterProcess) async throws -> Result
    ) async throws -> Result {
        let master = try await start(arguments: arguments, environment: environment)
        let result: Result
        do {
            result = try await body(master)
        } catch {
            await master.stop()
            throw error
        }
        await master.stop()
        return result
    }

    /// The admin endpoint's port, for a master started with `--admin-port`.
    public func adminPort() async throws -> Int {
        guard
            let line = await process.waitForLine(within: .seconds(30), where: { $0.hasPrefix("task-master admin on") }),
            let port = line.split(separator: ":").last.flatMap({ Int($0) })
        else {
            throw TestFailure("task-master did not report its admin endpoint:\n\(process.transcript)")
        }
        return port
    }

    /// `host:port` for `--connect`.
    public var address: String { "127.0.0.1:\(port)" }

    /// The environment a worker or task-ctl needs to reach this master.
    public var clientEnvironment: [String: String] {
        ["TASK_AUTHKEY": authKey, "TASK_MASTER_ADDRESS": address]
    }

    /// Starts a `task-worker` against this master.
    public func startWorker(_ arguments: [String] = [], name: String = "task-worker") throws -> ManagedProcess {
        try ManagedProcess(Binaries.worker, arguments, environment: clientEnvironment, name: name)
    }

    /// Runs `task-ctl` to completion (bounded) and returns its exit status and output.
    public func ctl(
        _ arguments: [String],
        within limit: Duration = .seconds(120)
    ) async throws -> (
        status: Int32, stdout: [String], stderr: [String]
    ) {
        let process = try ManagedProcess(Binaries.ctl, arguments, environment: clientEnvironment, name: "task-ctl")
        guard let status = await process.waitForExit(within: limit) else {
            process.kill9()
            throw TestFailure(
                "task-ctl \(arguments.joined(separator: " ")) did not finish within \(limit):\n\(process.transcript)"
            )
        }
        return (status, process.stdoutLines, process.stderrLines)
    }

    /// Stops the master with SIGTERM and returns its exit status (nil if it hung).
    @discardableResult
    public func stop() async -> Int32? {
        process.signal(SIGTERM)
        let status = await process.waitForExit(within: .seconds(20))
        if status == nil { process.kill9() }
        return status
    }
}

/// A test precondition that did not hold, with the evidence.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A port on 127.0.0.1 that refuses connections while it is held: a socket bound to it without
/// listening. Unlike a port found by ``freeLoopbackPort()`` and released, no other test's server
/// (bound without `SO_REUSEADDR` on this socket's side) or connection can take it meanwhile, so
/// a test that expects "connection refused" gets it. Call ``release()`` before starting a server
/// on it; it is released when done with at the latest (a second call does nothing).
public final class RefusingLoopbackPort: Sendable {
    /// The port number.
    public let port: Int
    private let descriptor: Atomic<Int32>

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        do {
            port = try bindToAFreeLoopbackPort(fd)
        } catch {
            close(fd)
            throw error
        }
        descriptor = Atomic(fd)
    }

    /// Closes the socket: the port is free again.
    public func release() {
        let fd = descriptor.exchange(-1, ordering: .relaxed)
        if fd >= 0 { close(fd) }
    }

    // A test that throws before its release() does not leak the socket.
    deinit { release() }
}

/// A free TCP port on 127.0.0.1 (bound and released; fine for tests).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    return try bindToAFreeLoopbackPort(fd)
}

/// Binds `fd` to a port on 127.0.0.1 the kernel chooses, and returns it.
private func bindToAFreeLoopbackPort(_ fd: Int32) throws -> Int {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestFailure("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
