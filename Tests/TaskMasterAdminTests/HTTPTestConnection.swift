import Foundation
import TestSupport

/// A failed expectation in a test helper, with a message saying what went wrong.
struct AdminTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One parsed HTTP response.
struct HTTPTestResponse: Sendable {
    var status: Int
    /// Header names lowercased; a repeated header keeps its last value.
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A plain loopback TCP connection speaking HTTP/1.1 by hand, so tests control every byte
/// (keep-alive, HTTP/1.0, oversized requests). Every read has a timeout, and the blocking
/// socket calls run on a dispatch queue, not on Swift's cooperative threads, which the server
/// under test needs.
final class HTTPTestConnection: Sendable {
    private let fd: Int32
    private let queue = DispatchQueue(label: "HTTPTestConnection")
    private let port: Int

    init(port: Int, timeout: Duration = .seconds(10)) throws {
        self.port = port
        fd = try connectLoopbackSocket(port: port, timeout: timeout)
    }

    deinit { close(fd) }

    /// Runs blocking socket work off the cooperative thread pool.
    private func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await blocking { try self.sendNow(bytes) }
    }

    private func sendNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw AdminTestFailure("send failed (errno \(errno))") }
            offset += sent
        }
    }

    /// Sends a request and reads its response.
    func request(
        _ method: String,
        _ path: String,
        headers: [(String, String)] = [],
        body: [UInt8] = []
    ) async throws -> HTTPTestResponse {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        try await send(Array(text.utf8) + body)
        return try await readResponse(hasBody: method != "HEAD")
    }

    /// Reads one response; `hasBody: false` for the answer to a HEAD request.
    func readResponse(hasBody: Bool = true) async throws -> HTTPTestResponse {
        try await blocking { try self.readResponseNow(hasBody: hasBody) }
    }

    /// Waits for the server to close the connection: true if it did (end of stream or reset)
    /// within the receive timeout, false if data arrived or the wait timed out.
    func closedByPeer() async throws -> Bool {
        try await blocking {
            var byte: UInt8 = 0
            let n = recv(self.fd, &byte, 1, 0)
            return n == 0 || (n < 0 && errno == ECONNRESET)
        }
    }

    /// Waits up to `limit` for the server to close the connection, across receive timeouts:
    /// true if it did, false if data arrived or `limit` passed.
    func closedByPeer(within limit: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while true {
            let outcome = try await blocking { () -> Int32? in
                var byte: UInt8 = 0
                let n = recv(self.fd, &byte, 1, 0)
                if n == 0 || (n < 0 && errno == ECONNRESET) { return 1 }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return nil }  // timed out
                return 0
            }
            if let outcome { return outcome == 1 }
            if ContinuousClock.now >= deadline { return false }
        }
    }

    // Reads are byte-at-a-time up to the end of the head, so no bytes of a following response
    // are swallowed; tests read a few responses, not megabytes.
    private func readByte() throws -> UInt8? {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        if n == 0 { return nil }
        guard n == 1 else { throw AdminTestFailure("recv failed or timed out (errno \(errno))") }
        return byte
    }

    private func readResponseNow(hasBody: Bool) throws -> HTTPTestResponse {
        var head: [UInt8] = []
        while !head.ends(with: [13, 10, 13, 10]) {
            guard let byte = try readByte() else {
                throw AdminTestFailure("connection closed in a response head: \(String(decoding: head, as: UTF8.self))")
            }
            head.append(byte)
            guard head.count < 64 * 1024 else { throw AdminTestFailure("response head too long") }
        }
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard let statusLine = lines.first else { throw AdminTestFailure("empty response head") }
        let statusParts = statusLine.split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw AdminTestFailure("bad status line: \(statusLine)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw AdminTestFailure("bad header line: \(line)") }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        var body: [UInt8] = []
        if hasBody {
            if headers["transfer-encoding"] != nil {
                throw AdminTestFailure("unexpected transfer-encoding \(headers["transfer-encoding"] ?? "")")
            }
            guard let lengthText = headers["content-length"], let length = Int(lengthText) else {
                throw AdminTestFailure("response without Content-Length: \(statusLine)")
            }
            body.reserveCapacity(length)
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while body.count < length {
                let want = min(chunk.count, length - body.count)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, want, 0) }
                guard n > 0 else {
                    throw AdminTestFailure("body cut short at \(body.count) of \(length) bytes (errno \(errno))")
                }
                body.append(contentsOf: chunk[0..<n])
            }
        }
        return HTTPTestResponse(status: status, headers: headers, body: body)
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
