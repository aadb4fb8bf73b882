import Foundation
import TaskMasterAdmin
import TaskMasterStatus
import Testing

@Suite("GET /api/stats and GET /")
struct StatsAndPageTests {
    @Test("/api/stats is the snapshot as JSON with stable snake_case keys")
    func statsJSON() async throws {
        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))
        let response = try await server.fetch("/api/stats")
        try await server.stop()

        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["cache-control"] == "no-store")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(
            Set(object.keys)
                == [
                    "uptime_seconds", "queues", "clients", "authentication_failures", "bytes_in", "bytes_out",
                    "memory_used_bytes", "memory_limit_bytes",
                ]
        )
        #expect(object["uptime_seconds"] as? Double == 3725.5)
        #expect(object["authentication_failures"] as? Int == 4)
        #expect(object["bytes_in"] as? Int == 123_456)
        #expect(object["bytes_out"] as? Int == 654_321)

        let queues = try #require(object["queues"] as? [[String: Any]])
        #expect(queues.map { $0["name"] as? String } == ["task", "result", Samples.oddQueue])
        let queueKeys: Set<String> = [
            "name", "depth", "in_flight", "max_size", "bytes", "max_bytes", "waiting_consumers", "waiting_producers",
            "total_put", "total_delivered", "total_acked", "total_nacked", "total_redelivered", "total_dead",
        ]
        for queue in queues { #expect(Set(queue.keys) == queueKeys) }
        #expect(queues[0]["depth"] as? Int == 42)
        #expect(queues[0]["in_flight"] as? Int == 3)
        #expect(queues[0]["total_put"] as? Int == 1000)
        #expect(queues[0]["total_dead"] as? Int == 1)

        let clients = try #require(object["clients"] as? [[String: Any]])
        let clientKeys: Set<String> = [
            "id", "kind", "address", "name", "leased", "connected_seconds", "tasks_done", "tasks_failed",
            "worker_uptime_seconds", "last_heartbeat_seconds_ago",
        ]
        for client in clients { #expect(Set(client.keys) == clientKeys) }
        #expect(clients.map { $0["kind"] as? String } == ["native", "native", "python"])
        #expect(clients[0]["tasks_done"] as? Int == 500)
        #expect(clients[0]["last_heartbeat_seconds_ago"] as? Double == 0.5)
        // Unknown worker-reported values are null, not missing.
        #expect(clients[2]["tasks_done"] is NSNull)
        #expect(clients[2]["last_heartbeat_seconds_ago"] is NSNull)

        // And it decodes back into the same snapshot.
        let decoded = try JSONDecoder().decode(StatusSnapshot.self, from: Data(response.body))
        #expect(decoded == Samples.first)
    }

    @Test("/ is one HTML page that loads nothing from anywhere else")
    func pageIsSelfContained() async throws {
        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))
        let response = try await server.fetch("/")
        try await server.stop()

        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/html; charset=utf-8")
        let policy = try #require(response.headers["content-security-policy"])
        #expect(policy.contains("default-src 'none'"))
        #expect(policy.contains("connect-src 'self'"))
        let html = response.text
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("<script>") && html.contains("<style>"))

        // Every src/href/action/poster/srcset/data attribute value is a relative URL: no scheme, no
        // `//host`.
        let attribute = try Regex(#"(?i)\b(src|href|action|poster|srcset|data|formaction)\s*=\s*["']?([^"'\s>]*)"#)
        var references: [String] = []
        for match in html.matches(of: attribute) {
            let value = String(match.output[2].substring ?? "")
            references.append(value)
            #expect(!value.hasPrefix("//"), "protocol-relative reference \(value)")
            #expect(!value.contains(":"), "absolute reference \(value)")
        }
        #expect(references.sorted() == ["api/stats", "metrics"])
        // No CSS imports or url() at all, no other fetches than api/stats.
        #expect(!html.contains("@import"))
        #expect(!html.contains("url("))
        for match in html.matches(of: try Regex(#"fetch\(\s*([^,)]*)"#)) {
            #expect(String(match.output[1].substring ?? "") == "\"api/stats\"")
        }
        #expect(!html.contains("XMLHttpRequest") && !html.contains("WebSocket") && !html.contains("EventSource"))
        // The one absolute URL is the SVG namespace name, which is never fetched.
        for match in html.matches(of: try Regex(#"https?://[^"'\s]*"#)) {
            #expect(String(match.output[0].substring ?? "") == "http://www.w3.org/2000/svg")
        }
        // Daemon data goes in as text only.
        #expect(!html.contains("innerHTML") && !html.contains("outerHTML") && !html.contains("document.write"))
    }
}
