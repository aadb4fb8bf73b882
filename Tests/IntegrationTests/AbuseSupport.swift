import Foundation
import NIOCore
import Synchronization
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

/// The tests that prove the master's defenses against overload and abuse (the issue's
/// reproductions, each against a real task-master over loopback), and the soak. One suite,
/// serialized: they measure memory and latency, which tests running beside them would blur.
@Suite(.serialized) struct AbuseTests {}

extension MasterProcess {
    /// What the master process holds (`/proc/<pid>`).
    var gauge: ProcessGauge { ProcessGauge(pid: process.processIdentifier) }

    /// The master's log lines as objects (for a master started with `--log-format json`).
    var logEvents: [[String: Any]] {
        process.stderrLines.compactMap { line in
            guard line.hasPrefix("{") else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
    }

    /// The messages of the master's log lines at `level` (`warning`, `notice`, …).
    func logMessages(level: String) -> [String] {
        logEvents.filter { $0["level"] as? String == level }.compactMap { $0["message"] as? String }
    }

    /// The master's status document (`task-ctl stats --json`), as JSON.
    func statusDocument() async throws -> [String: Any] {
        let (status, stdout, stderr) = try await ctl(["stats", "--json"], within: .seconds(60))
        guard status == 0 else { throw TestFailure("task-ctl stats failed: \(stderr)") }
        let object = try JSONSerialization.jsonObject(with: Data(stdout.joined(separator: "\n").utf8))
        guard let document = object as? [String: Any] else { throw TestFailure("not a status document: \(stdout)") }
        return document
    }
}

extension [String: Any] {
    /// An integer field of a status document.
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }

    /// The queue objects of a status document, by name.
    var queues: [String: [String: Any]] {
        let list = (self["queues"] as? [[String: Any]]) ?? []
        return [String: [String: Any]](list.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Native protocol frames, for raw connections.
enum NativeFrames {
    /// A hello frame, with its length header.
    static func hello(_ name: String) -> [UInt8] {
        var buffer = ByteBuffer()
        Hello(name: name).encode(into: &buffer)
        return framed(buffer)
    }

    /// A request frame, with its length header.
    static func request(_ id: RequestID, _ message: ClientMessage) -> [UInt8] {
        var buffer = ByteBuffer()
        Request(id: id, message).encode(into: &buffer)
        return framed(buffer)
    }

    private static func framed(_ payload: ByteBuffer) -> [UInt8] {
        Array(FrameEncoder.frame(Array(payload.readableBytesView)).readableBytesView)
    }
}

/// A plain HTTP/1.1 GET on loopback (the admin endpoint), off the cooperative pool.
enum HTTPGet {
    struct Reply: Sendable {
        var status: Int
        var body: [UInt8]
        var elapsed: Duration
    }

    static func fetch(port: Int, path: String, timeout: Duration = .seconds(30)) async throws -> Reply {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try fetchNow(port: port, path: path, timeout: timeout) })
            }
        }
    }

    private static func fetchNow(port: Int, path: String, timeout: Duration) throws -> Reply {
        let start = ContinuousClock.now
        let fd = try connectLoopbackSocket(port: port, timeout: timeout)
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { throw TestFailure("HTTP request not sent (errno \(errno))") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else {
                throw TestFailure("HTTP response not read (errno \(errno)) after \(response.count) bytes")
            }
            response += buffer[0..<n]
        }
        let elapsed = ContinuousClock.now - start
        let separator = Array("\r\n\r\n".utf8)
        guard let headEnd = response.indices.first(where: { response[$0...].starts(with: separator) }) else {
            throw TestFailure("no HTTP head in \(response.count) bytes")
        }
        let statusLine = String(decoding: response[..<headEnd], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return Reply(status: status, body: Array(response[(headEnd + 4)...]), elapsed: elapsed)
    }
}

/// Round trips of one native client's pings, one every `interval`, on a task of their own
/// until stopped: how long other clients wait while the master is under a load.
final class PingProbe: Sendable {
    private let stopped = StopFlag()
    private let task: Task<[Duration], any Error>

    init(port: Int, authKey: String, interval: Duration = .milliseconds(10)) {
        let stopped = self.stopped
        task = Task {
            try await TaskMasterConnection.withConnection(
                to: "127.0.0.1",
                port: port,
                authKey: Array(authKey.utf8),
                name: "ping probe"
            ) { client in
                var times: [Duration] = []
                while !stopped.isSet {
                    let start = ContinuousClock.now
                    _ = try await client.ping()
                    times.append(ContinuousClock.now - start)
                    try? await Task.sleep(for: interval)
                }
                return times
            }
        }
    }

    /// Stops the probe (after the ping in flight) and returns its round trips, sorted.
    func stop() async throws -> [Duration] {
        stopped.set()
        return try await task.value.sorted()
    }
}

/// A flag one task sets and another reads.
final class StopFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}

extension [Duration] {
    /// The `q` quantile (0…1) of sorted durations.
    func quantile(_ q: Double) -> Duration {
        guard !isEmpty else { return .zero }
        return self[Swift.min(count - 1, Int((Double(count - 1) * q).rounded(.up)))]
    }
}

extension Duration {
    /// Milliseconds, fractional.
    var ms: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
