import Foundation
import Logging
import ServiceLifecycle
import TaskMasterAdmin
import TestSupport
import Testing

@Suite("HTTP behaviour")
struct HTTPBehaviourTests {
    @Test("unknown paths get 404, other methods than GET and HEAD get 405")
    func notFoundAndMethodNotAllowed() async throws {
        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))
        let connection = try server.connect()

        let missing = try await connection.request("GET", "/nope")
        #expect(missing.status == 404)
        let missingAPI = try await connection.request("GET", "/api/stats/extra")
        #expect(missingAPI.status == 404)
        let post = try await connection.request("POST", "/metrics", body: Array("x=1".utf8))
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let delete = try await connection.request("DELETE", "/")
        #expect(delete.status == 405)
        let put = try await connection.request("PUT", "/api/stats", body: Array("{}".utf8))
        #expect(put.status == 405)
        // The query string doesn't matter.
        let withQuery = try await connection.request("GET", "/api/stats?t=123")
        #expect(withQuery.status == 200)

        // HEAD: GET's headers, Content-Length included, no body (the next response follows at once).
        let head = try await connection.request("HEAD", "/metrics")
        #expect(head.status == 200)
        #expect(Int(head.headers["content-length"] ?? "") ?? 0 > 0)
        #expect(head.body.isEmpty)
        let after = try await connection.request("GET", "/api/stats")
        #expect(after.status == 200)
        try await server.stop()
    }

    @Test("keep-alive: many requests on one connection; Connection: close and HTTP/1.0 close it")
    func keepAlive() async throws {
        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))

        let connection = try server.connect()
        for path in ["/", "/metrics", "/api/stats", "/metrics"] {
            let response = try await connection.request("GET", path)
            #expect(response.status == 200, "\(path)")
            #expect(response.headers["connection"] == nil, "\(path)")
            #expect(Int(response.headers["content-length"] ?? "") == response.body.count)
        }
        let last = try await connection.request("GET", "/api/stats", headers: [("Connection", "close")])
        #expect(last.status == 200)
        #expect(last.headers["connection"] == "close")
        #expect(try await connection.closedByPeer())

        // Pipelined: two requests sent at once, answered in order.
        let pipelined = try server.connect()
        try await pipelined.send("GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await pipelined.readResponse().status == 200)
        #expect(try await pipelined.readResponse().status == 404)

        let old = try server.connect()
        try await old.send("GET /api/stats HTTP/1.0\r\n\r\n")
        let response = try await old.readResponse()
        #expect(response.status == 200)
        #expect(response.headers["connection"] == "close")
        #expect(try await old.closedByPeer())

        let oldKeepAlive = try server.connect()
        try await oldKeepAlive.send("GET /api/stats HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try await oldKeepAlive.readResponse().headers["connection"] == "keep-alive")
        try await oldKeepAlive.send("GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try await oldKeepAlive.readResponse().status == 200)
        try await server.stop()
    }

    @Test("requests are bounded: a big body gets 413, a big header 4xx, and the connection closes")
    func boundedRequests() async throws {
        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))

        let body = try server.connect()
        try await body.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        try await body.send([UInt8](repeating: 0x61, count: 20 * 1024))
        let tooLarge = try await body.readResponse()
        #expect(tooLarge.status == 413)
        #expect(tooLarge.headers["connection"] == "close")
        #expect(try await body.closedByPeer())

        let header = try server.connect()
        let big = String(repeating: "b", count: 20 * 1024)
        try await header.send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n")
        let refused = try await header.readResponse()
        #expect((400..<500).contains(refused.status))
        #expect(try await header.closedByPeer())

        // The server still serves others.
        #expect(try await server.fetch("/metrics").status == 200)
        try await server.stop()
    }

    @Test("past the limit a new connection takes the place of the idlest")
    func connectionLimit() async throws {
        let server = try await RunningAdminServer.start(
            source: FakeStatusSource(Samples.first),
            maxConnections: 2,
            idleTimeout: .seconds(120)  // no idle timeout within the test: only the limit closes
        )
        let first = try server.connect()
        let second = try server.connect()
        #expect(try await first.request("GET", "/api/stats").status == 200)
        #expect(try await second.request("GET", "/api/stats").status == 200)
        // Both are idle between requests: the third takes the place of the first, the idlest.
        let third = try server.connect()
        #expect(try await third.request("GET", "/api/stats").status == 200)
        #expect(try await first.closedByPeer())
        #expect(try await second.request("GET", "/api/stats").status == 200)
        try await server.stop()
    }

    @Test("idle connections time out, silent ones and kept-alive ones")
    func idleTimeout() async throws {
        let server = try await RunningAdminServer.start(
            source: FakeStatusSource(Samples.first),
            idleTimeout: .seconds(2)
        )
        let opened = ContinuousClock.now
        let silent = try server.connect()
        let keptAlive = try server.connect()
        do {
            #expect(try await keptAlive.request("GET", "/api/stats").status == 200)
        } catch {
            // Only a loaded machine that let the timeout pass before the request may go unanswered.
            #expect(ContinuousClock.now - opened >= .seconds(2), "no answer within the timeout: \(error)")
        }
        // The server closes both: nothing else closes an idle connection here. Waits span the
        // test connection's 10 s receive timeouts: a loaded machine (the whole suite in
        // parallel with two busy loops on two cores) once took over 10 s to close one, as
        // Swift's cooperative threads were busy with other tests.
        #expect(try await silent.closedByPeer(within: .seconds(60)))
        #expect(try await keptAlive.closedByPeer(within: .seconds(60)))
        // By the idle timeout: not before it.
        #expect(ContinuousClock.now - opened >= .seconds(2))
        try await server.stop()
    }

    @Test("a port in use is a bindFailed error")
    func bindFailure() async throws {
        let first = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))
        let second = AdminServer(port: first.port, source: FakeStatusSource(Samples.first), logger: Logger(label: "t"))
        let error = await #expect(throws: AdminError.self) {
            try await withTimeout(.seconds(10), "binding a used port") { try await second.run() }
        }
        #expect(error?.code == .bindFailed)
        #expect(error?.message.contains("\(first.port)") == true)
        try await first.stop()
    }

    @Test("graceful shutdown stops accepting, closes idle connections and returns")
    func gracefulShutdown() async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = AdminServer(
            source: FakeStatusSource(Samples.first),
            logger: Logger(label: "t"),
            idleTimeout: .seconds(120),  // only the shutdown closes the idle connection here
            onListening: { continuation.yield($0.port ?? 0) }
        )
        let group = ServiceGroup(services: [server], logger: Logger(label: "t"))
        let running = Task { try await group.run() }
        let port = try await withTimeout(.seconds(20), "starting") {
            for await port in ports { return port }
            return 0
        }
        let idle = try HTTPTestConnection(port: port)
        #expect(try await idle.request("GET", "/api/stats").status == 200)

        await group.triggerGracefulShutdown()
        try await withTimeout(.seconds(10), "the graceful shutdown") { try await running.value }
        #expect(try await idle.closedByPeer())
        #expect(throws: TestFailure.self) { try HTTPTestConnection(port: port) }
    }
}
