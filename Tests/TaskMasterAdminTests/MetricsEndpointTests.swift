import Foundation
import TaskMasterAdmin
import TaskMasterStatus
import Testing

@Suite("GET /metrics")
struct MetricsEndpointTests {
    private func scrape(_ server: RunningAdminServer) async throws -> PrometheusText {
        let response = try await server.fetch("/metrics")
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusText(parsing: response.text)
    }

    @Test("every series is there with HELP, TYPE and the snapshot's values")
    func firstScrape() async throws {
        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))
        let metrics = try await scrape(server)
        try await server.stop()

        let expectedTypes: [String: String] = [
            "taskmaster_uptime_seconds": "gauge",
            "taskmaster_queue_depth": "gauge",
            "taskmaster_queue_in_flight": "gauge",
            "taskmaster_queue_max_size": "gauge",
            "taskmaster_queue_bytes": "gauge",
            "taskmaster_queue_max_bytes": "gauge",
            "taskmaster_memory_used_bytes": "gauge",
            "taskmaster_memory_limit_bytes": "gauge",
            "taskmaster_queue_waiting_consumers": "gauge",
            "taskmaster_queue_waiting_producers": "gauge",
            "taskmaster_queue_put_total": "counter",
            "taskmaster_queue_delivered_total": "counter",
            "taskmaster_queue_acked_total": "counter",
            "taskmaster_queue_nacked_total": "counter",
            "taskmaster_queue_redelivered_total": "counter",
            "taskmaster_queue_dead_total": "counter",
            "taskmaster_connected_clients": "gauge",
            "taskmaster_authentication_failures_total": "counter",
            "taskmaster_received_bytes_total": "counter",
            "taskmaster_sent_bytes_total": "counter",
        ]
        for (name, type) in expectedTypes {
            #expect(metrics.types[name] == type, "TYPE of \(name)")
            #expect(!(metrics.help[name] ?? "").isEmpty, "HELP of \(name)")
        }

        let task = ["queue": "task"]
        #expect(metrics.value("taskmaster_uptime_seconds") == 3725.5)
        #expect(metrics.value("taskmaster_queue_depth", task) == 42)
        #expect(metrics.value("taskmaster_queue_in_flight", task) == 3)
        #expect(metrics.value("taskmaster_queue_max_size", task) == 100)
        #expect(metrics.value("taskmaster_queue_waiting_consumers", task) == 2)
        #expect(metrics.value("taskmaster_queue_waiting_producers", task) == 1)
        #expect(metrics.value("taskmaster_queue_put_total", task) == 1000)
        #expect(metrics.value("taskmaster_queue_delivered_total", task) == 960)
        #expect(metrics.value("taskmaster_queue_acked_total", task) == 950)
        #expect(metrics.value("taskmaster_queue_nacked_total", task) == 7)
        #expect(metrics.value("taskmaster_queue_redelivered_total", task) == 5)
        #expect(metrics.value("taskmaster_queue_dead_total", task) == 1)
        #expect(metrics.value("taskmaster_queue_depth", ["queue": "result"]) == 17)
        #expect(metrics.value("taskmaster_queue_acked_total", ["queue": "result"]) == 933)
        // The label value went through escaping and came back intact.
        #expect(metrics.value("taskmaster_queue_depth", ["queue": Samples.oddQueue]) == 5)
        #expect(metrics.series("taskmaster_queue_depth").count == 3)

        #expect(metrics.value("taskmaster_connected_clients", ["kind": "native"]) == 2)
        #expect(metrics.value("taskmaster_connected_clients", ["kind": "python"]) == 1)
        #expect(metrics.value("taskmaster_authentication_failures_total") == 4)
        #expect(metrics.value("taskmaster_received_bytes_total") == 123_456)
        #expect(metrics.value("taskmaster_sent_bytes_total") == 654_321)
    }

    @Test("counters advance by the delta between scrapes; gone queues and clients drop out")
    func laterScrapes() async throws {
        let source = FakeStatusSource(Samples.first)
        let server = try await RunningAdminServer.start(source: source)
        _ = try await scrape(server)
        source.set(Samples.second)
        let metrics = try await scrape(server)

        let task = ["queue": "task"]
        #expect(metrics.value("taskmaster_queue_put_total", task) == 1300)
        #expect(metrics.value("taskmaster_queue_delivered_total", task) == 1290)
        #expect(metrics.value("taskmaster_queue_acked_total", task) == 1286)
        #expect(metrics.value("taskmaster_queue_nacked_total", task) == 9)
        #expect(metrics.value("taskmaster_queue_redelivered_total", task) == 6)
        #expect(metrics.value("taskmaster_queue_dead_total", task) == 1)
        #expect(metrics.value("taskmaster_queue_depth", task) == 10)
        #expect(metrics.value("taskmaster_queue_waiting_consumers", task) == 0)
        #expect(metrics.value("taskmaster_queue_acked_total", ["queue": "result"]) == 1266)
        #expect(metrics.value("taskmaster_queue_depth", ["queue": Samples.oddQueue]) == nil)
        #expect(metrics.series("taskmaster_queue_put_total").count == 2)
        #expect(metrics.value("taskmaster_connected_clients", ["kind": "native"]) == 1)
        #expect(metrics.value("taskmaster_connected_clients", ["kind": "python"]) == 1)
        #expect(metrics.value("taskmaster_authentication_failures_total") == 6)
        #expect(metrics.value("taskmaster_received_bytes_total") == 200_000)
        #expect(metrics.value("taskmaster_sent_bytes_total") == 900_000)

        // The same snapshot again: nothing moves.
        let again = try await scrape(server)
        #expect(again.value("taskmaster_queue_put_total", task) == 1300)
        #expect(again.value("taskmaster_received_bytes_total") == 200_000)

        // Totals that went down (the source started over) restart the counters from zero.
        source.set(StatusSnapshot(uptimeSeconds: 1, queues: [QueueStatus(name: "task", totalPut: 20)], bytesIn: 10))
        let restarted = try await scrape(server)
        #expect(restarted.value("taskmaster_queue_put_total", task) == 20)
        #expect(restarted.value("taskmaster_received_bytes_total") == 10)
        #expect(restarted.value("taskmaster_connected_clients", ["kind": "native"]) == 0)
        try await server.stop()
    }

    @Test("concurrent scrapes of one snapshot count each total once")
    func concurrentScrapes() async throws {
        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { _ = try await server.fetch("/metrics") }
            }
            try await group.waitForAll()
        }
        let metrics = try await scrape(server)
        try await server.stop()
        #expect(metrics.value("taskmaster_queue_put_total", ["queue": "task"]) == 1000)
        #expect(metrics.value("taskmaster_sent_bytes_total") == 654_321)
    }

    @Test("two servers sharing one AdminMetrics count each total once")
    func sharedMetrics() async throws {
        let metrics = AdminMetrics()
        let source = FakeStatusSource(Samples.first)
        let one = try await RunningAdminServer.start(source: source, metrics: metrics)
        let two = try await RunningAdminServer.start(source: source, metrics: metrics)
        _ = try await scrape(one)
        let text = try await scrape(two)
        try await one.stop()
        try await two.stop()
        #expect(text.value("taskmaster_queue_put_total", ["queue": "task"]) == 1000)
        #expect(text.value("taskmaster_authentication_failures_total") == 4)
    }

    @Test("task latency recorded through AdminMetrics renders as a histogram")
    func latencyHistogram() async throws {
        let metrics = AdminMetrics()
        for _ in 0..<3 { metrics.recordTaskLatency(queue: "task", seconds: 0.2) }
        metrics.recordTaskLatency(queue: "task", duration: .seconds(2))
        metrics.recordTaskLatency(queue: "result", seconds: 0.004)
        metrics.recordTaskLatency(queue: "task", seconds: -1)  // ignored
        metrics.recordTaskLatency(queue: "task", seconds: .nan)  // ignored

        let server = try await RunningAdminServer.start(source: FakeStatusSource(Samples.first), metrics: metrics)
        let text = try await scrape(server)
        try await server.stop()

        let name = "taskmaster_task_latency_seconds"
        #expect(text.types[name] == "histogram")
        #expect(!(text.help[name] ?? "").isEmpty)
        func bucket(_ queue: String, _ le: String) -> Double? {
            text.value(name + "_bucket", ["queue": queue, "le": le])
        }
        #expect(bucket("task", "0.1") == 0)
        #expect(bucket("task", "0.25") == 3)
        #expect(bucket("task", "1.0") == 3)
        #expect(bucket("task", "2.5") == 4)
        #expect(bucket("task", "+Inf") == 4)
        #expect(text.value(name + "_count", ["queue": "task"]) == 4)
        let sum = try #require(text.value(name + "_sum", ["queue": "task"]))
        #expect(abs(sum - 2.6) < 1e-9)
        #expect(bucket("result", "0.005") == 1)
        #expect(bucket("result", "0.001") == 0)

        // Buckets are cumulative and end with +Inf == count, for every queue.
        for queue in ["task", "result"] {
            let buckets = text.series(name + "_bucket").filter { $0.labels["queue"] == queue }
            #expect(buckets.count == AdminMetrics.defaultLatencyBuckets.count + 1)
            let counts = buckets.sorted { (Double($0.labels["le"] ?? "") ?? 0) < (Double($1.labels["le"] ?? "") ?? 0) }
                .map(\.value)
            #expect(counts == counts.sorted())
        }
    }

    @Test("the parser rejects malformed expositions")
    func parserRejectsGarbage() {
        #expect(throws: AdminTestFailure.self) { try PrometheusText(parsing: "x 1\n") }  // no TYPE
        #expect(throws: AdminTestFailure.self) { try PrometheusText(parsing: "# TYPE x gauge\nx{a=\"1} 1\n") }
        #expect(throws: AdminTestFailure.self) { try PrometheusText(parsing: "# TYPE x gauge\nx one\n") }
        #expect(throws: AdminTestFailure.self) { try PrometheusText(parsing: "# TYPE x gauge\nx 1\nx 2\n") }
        #expect(throws: Never.self) { try PrometheusText(parsing: "# HELP x h\n# TYPE x gauge\nx{a=\"\\\"\"} 1\n") }
    }

    @Test("a scrape costs time linear in the number of queues")
    func manyQueues() async throws {
        func scrapeTime(_ queues: Int) async throws -> Duration {
            let snapshot = StatusSnapshot(
                uptimeSeconds: 1,
                queues: (0..<queues).map { QueueStatus(name: "queue-\($0)", depth: $0, totalPut: UInt64($0)) }
            )
            let server = try await RunningAdminServer.start(source: FakeStatusSource(snapshot))
            let start = ContinuousClock.now
            let response = try await server.fetch("/metrics")
            let elapsed = ContinuousClock.now - start
            try await server.stop()
            #expect(response.status == 200)
            let metrics = try PrometheusText(parsing: response.text)
            #expect(metrics.value("taskmaster_queue_depth", ["queue": "queue-\(queues - 1)"]) == Double(queues - 1))
            return elapsed
        }
        let small = try await scrapeTime(2_500)
        let large = try await scrapeTime(10_000)
        // Quadratic would be 16 times as long; linear about 4, plus noise.
        #expect(large < small * 8 + .milliseconds(500), "2,500 queues: \(small), 10,000 queues: \(large)")
        #expect(large < .seconds(5))
    }
}
