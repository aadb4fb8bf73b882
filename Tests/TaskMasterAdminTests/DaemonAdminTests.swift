import Foundation
import TestSupport
import Testing

/// The real task-master's admin endpoint after a real batch: metrics, /api/stats, the page in
/// Chromium, and task-ctl stats --json.
@Suite(.serialized) struct DaemonAdminTests {
    struct Fixture {
        var master: MasterProcess
        var adminPort: Int
        var workers: [ManagedProcess]

        func stop() async {
            for worker in workers { worker.signal(SIGTERM) }
            for worker in workers { await worker.waitForExit(within: .seconds(20)) }
            await master.stop()
        }
    }

    /// A master with an admin port, two workers that report every 0.2 s, a finished batch of
    /// 2000, and one failed handshake.
    static func afterABatch() async throws -> Fixture {
        let master = try await MasterProcess.start(arguments: ["--admin-port", "0"])
        let adminPort = try await master.adminPort()
        let workers = try (1...2).map { try master.startWorker(["--heartbeat-interval", "0.2"], name: "worker \($0)") }
        let batch = try await master.ctl(["batch", "--count", "2000", "--json"])
        guard batch.status == 0 else { throw TestFailure("the batch failed: \(batch.stderr)") }
        let intruder = try ManagedProcess(
            Binaries.ctl,
            ["ping"],
            environment: master.clientEnvironment.merging(["TASK_AUTHKEY": "wrong"]) { $1 }
        )
        _ = await intruder.waitForExit(within: .seconds(20))
        try await Task.sleep(for: .milliseconds(600))  // a heartbeat or two
        return Fixture(master: master, adminPort: adminPort, workers: workers)
    }

    @Test func metricsAfterABatchAreValidPrometheusTextWithTheExpectedSeries() async throws {
        let fixture = try await Self.afterABatch()
        defer { Task { await fixture.stop() } }
        let response = try await HTTPTestConnection(port: fixture.adminPort).request("GET", "/metrics")
        #expect(response.status == 200)
        let metrics = try PrometheusText(parsing: response.text)
        #expect(metrics.value("taskmaster_queue_put_total", ["queue": "task"]) == 2000)
        #expect(metrics.value("taskmaster_queue_acked_total", ["queue": "task"]) == 2000)
        #expect(metrics.value("taskmaster_queue_put_total", ["queue": "result"]) == 2000)
        #expect(metrics.value("taskmaster_queue_depth", ["queue": "task"]) == 0)
        #expect(metrics.value("taskmaster_queue_in_flight", ["queue": "task"]) == 0)
        #expect((metrics.value("taskmaster_connected_clients", ["kind": "native"]) ?? 0) >= 2)
        #expect((metrics.value("taskmaster_authentication_failures_total") ?? 0) >= 1)
        #expect((metrics.value("taskmaster_received_bytes_total") ?? 0) > 20_000)
        #expect((metrics.value("taskmaster_sent_bytes_total") ?? 0) > 20_000)
        // Every task of both queues was timed from put to done.
        #expect(metrics.value("taskmaster_task_latency_seconds_count", ["queue": "task"]) == 2000)
        #expect(metrics.value("taskmaster_task_latency_seconds_count", ["queue": "result"]) == 2000)
        #expect(metrics.value("taskmaster_task_latency_seconds_bucket", ["queue": "task", "le": "+Inf"]) == 2000)
    }

    @Test func apiStatsAfterABatchShowsQueuesAndWorkersWithTheirHeartbeats() async throws {
        let fixture = try await Self.afterABatch()
        defer { Task { await fixture.stop() } }
        let response = try await HTTPTestConnection(port: fixture.adminPort).request("GET", "/api/stats")
        #expect(response.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
        let queues = try #require(json["queues"] as? [[String: Any]])
        let task = try #require(queues.first { $0["name"] as? String == "task" })
        #expect(task["total_put"] as? Int == 2000)
        #expect(task["total_acked"] as? Int == 2000)
        let clients = try #require(json["clients"] as? [[String: Any]])
        let workers = clients.filter { ($0["name"] as? String)?.hasPrefix("task-worker") == true }
        #expect(workers.count == 2)
        let done = workers.compactMap { $0["tasks_done"] as? Int }.reduce(0, +)
        #expect(done == 2000)
        #expect(workers.allSatisfy { ($0["last_heartbeat_seconds_ago"] as? Double ?? 99) < 5 })
        #expect(workers.allSatisfy { ($0["address"] as? String)?.hasPrefix("127.0.0.1:") == true })
    }

    @Test func taskCtlStatsJSONAfterABatch() async throws {
        let fixture = try await Self.afterABatch()
        defer { Task { await fixture.stop() } }
        let (status, stdout, _) = try await fixture.master.ctl(["stats", "--json"])
        #expect(status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stdout.joined().utf8)) as? [String: Any])
        let queues = try #require(json["queues"] as? [[String: Any]])
        #expect(queues.first { $0["name"] as? String == "result" }?["total_put"] as? Int == 2000)
        let clients = try #require(json["clients"] as? [[String: Any]])
        #expect(clients.compactMap { $0["tasks_done"] as? Int }.reduce(0, +) == 2000)
    }

    @Test(
        .enabled(Comment(rawValue: HeadlessBrowser.needs)) { Prerequisite.run(if: await HeadlessBrowser.path() != nil) }
    )
    func theStatusPageShowsTheDaemonsQueuesInABrowser() async throws {
        let fixture = try await Self.afterABatch()
        defer { Task { await fixture.stop() } }
        let run = try await HeadlessBrowser.run(
            "http://127.0.0.1:\(fixture.adminPort)/",
            ["--dump-dom"],
            virtualTime: .seconds(3),
            waitForStdout: "</html>"
        )
        try #require(run.status == 0, "\(run.transcript)")
        let page = RenderedPage(dom: run.stdout)
        #expect(page.attribute("data-state", id: "status") == "live")
        let taskRow = try #require(page.row("data-queue", "task"), "no row for the task queue")
        #expect(RenderedPage.cell("depth", in: taskRow)?.value == "0")
        #expect(page.row("data-queue", "result") != nil)
        #expect((page.number(id: "client-count") ?? 0) >= 2)
    }
}
