import Foundation
import TaskWire
import TestSupport

/// A loopback socket with a receive timeout, for sending bytes no well-behaved client would
/// send. Its reads block, so they run on a dispatch queue: a test blocking one of the few
/// Swift concurrency threads stalls every other test running meanwhile.
final class RawConnection: Sendable {
    private let fd: Int32

    init(port: Int, timeout: Duration = .seconds(10)) throws {
        fd = try connectLoopbackSocket(port: port, timeout: timeout)
    }

    deinit { close(fd) }

    /// The socket, for callers that send in bulk from a thread of their own.
    var descriptor: Int32 { fd }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw TestFailure("send failed") }
            offset += sent
        }
    }

    func sendFrame(_ payload: [UInt8]) throws {
        try send(Array(FrameEncoder.frame(payload).readableBytesView))
    }

    private func read(_ count: Int) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 || (n < 0 && errno == ECONNRESET) { return nil }
            guard n > 0 else { throw TestFailure("recv failed or timed out (errno \(errno))") }
            got += n
        }
        return buffer
    }

    /// Runs blocking socket work off the Swift concurrency threads.
    private func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// One frame's payload.
    func readFrame() async throws -> [UInt8] {
        try await offThePool { try self.readFrameNow() }
    }

    private func readFrameNow() throws -> [UInt8] {
        guard let header = try read(4) else { throw TestFailure("connection closed before a frame") }
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        guard let payload = try read(length) else { throw TestFailure("connection closed inside a frame") }
        return payload
    }

    /// The next frame's payload, or nil once the peer closed (or reset) the connection;
    /// blocking: call it from a thread of its own.
    func readFrameOrEnd() throws -> [UInt8]? {
        guard let header = try read(4) else { return nil }
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        return try read(length)
    }

    /// Everything until the peer closes (bounded by the receive timeout).
    func readToEnd() async throws -> [UInt8] {
        try await offThePool { try self.readToEndNow() }
    }

    private func readToEndNow() throws -> [UInt8] {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return all }
            if n < 0 {
                if errno == ECONNRESET { return all }
                throw TestFailure("recv failed or timed out (errno \(errno))")
            }
            all += buffer[0..<n]
        }
    }

    /// Runs the client side of the handshake; then sends `firstFrame`, if given, on the same
    /// thread at once: a test's task can wait seconds for a thread on a loaded machine, and the
    /// master's idle timer counts from the handshake's end.
    func authenticate(key: [UInt8], thenSend firstFrame: [UInt8]? = nil) async throws {
        try await offThePool {
            try self.authenticateNow(key: key)
            if let firstFrame { try self.sendFrame(firstFrame) }
        }
    }

    private func authenticateNow(key: [UInt8]) throws {
        var machine = HandshakeStateMachine(
            role: .client,
            key: AuthKey(bytes: key)!,
            nonce: HandshakeStateMachine.randomNonce()
        )
        _ = machine.start()
        while true {
            switch machine.frameReceived(try readFrameNow()) {
            case .send(let bytes): try sendFrame(bytes)
            case .sendAndSucceed(let bytes):
                try sendFrame(bytes)
                return
            case .succeed: return
            case .none: continue
            case .sendAndFail(_, let error), .fail(let error): throw error
            }
        }
    }
}
