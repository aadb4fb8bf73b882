import Foundation
import TaskWire
import TestSupport

/// A blocking loopback socket with a receive timeout, for sending bytes no well-behaved
/// client would send.
final class RawConnection: Sendable {
    private let fd: Int32

    init(port: Int, timeout: Duration = .seconds(10)) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw TestFailure("connect to port \(port) failed")
        }
    }

    deinit { close(fd) }

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
            if n == 0 { return nil }
            guard n > 0 else { throw TestFailure("recv failed or timed out (errno \(errno))") }
            got += n
        }
        return buffer
    }

    /// One frame's payload.
    func readFrame() throws -> [UInt8] {
        guard let header = try read(4) else { throw TestFailure("connection closed before a frame") }
        let length = Int(UInt32(header[0]) << 24 | UInt32(header[1]) << 16 | UInt32(header[2]) << 8 | UInt32(header[3]))
        guard let payload = try read(length) else { throw TestFailure("connection closed inside a frame") }
        return payload
    }

    /// Everything until the peer closes (bounded by the receive timeout).
    func readToEnd() throws -> [UInt8] {
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

    /// Runs the client side of the handshake.
    func authenticate(key: [UInt8]) throws {
        var machine = HandshakeStateMachine(
            role: .client,
            key: AuthKey(bytes: key)!,
            nonce: HandshakeStateMachine.randomNonce()
        )
        _ = machine.start()
        while true {
            switch machine.frameReceived(try readFrame()) {
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
