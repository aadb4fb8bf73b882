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

    /// Runs `body` with a master with an admin port, two workers that report every 0.2 s, a
    /// finished batch of 2000, and one failed handshake; stops them all, also when it throws.
    static func afterABatch(_ body: (Fixture) async throws -> Void) async throws {
        try await MasterProcess.with(arguments: ["--admin-port", "0"]) { master in
            let adminPort = try await master.adminPort()
            let workers = try (1...2).map {
                try master.startWorker(["--heartbeat-interval", "0.2"], name: "worker \($0)")
            }
            let fixture = Fixture(master: master, adminPort: adminPort, workers: workers)
            do {
                let batch = try await master.ctl(["batch", "--count", "2000", "--json"])
                guard batch.status == 0 else { throw TestFailure("the batch failed: \(batch.stderr)") }
                let intruder = try ManagedProcess(
                    Binaries.ctl,
                    ["ping"],
                    environment: master.clientEnvironment.merging(["TASK_AUTHKEY": "wrong"]) { $1 }
                )
                _ = await intruder.waitForExit(within: .seconds(20))
                try await Task.sleep(for: .milliseconds(600))  // a heartbeat or two
                try await body(fixture)
            } catch {
                await fixture.stop()
                throw error
            }
            await fixture.stop()
        }
    }

    /// The keys docs/STATUS.md lists for the document, a queue and a client.
    static func documentedKeys() throws -> (document: Set<String>, queue: Set<String>, client: Set<String>) {
        let text = try String(
            contentsOf: Fixtures.repositoryRoot.appendingPathComponent("docs/STATUS.md"),
            encoding: .utf8
        )
        var sections: [String: Set<String>] = [:]
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") { section = String(line.dropFirst(3)) }
            if line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") {
                sections[section, default: []].insert(String(line[line.index(line.startIndex, offsetBy: 3)..<end]))
            }
        }
        return (sections["Document"] ?? [], sections["Queue"] ?? [], sections["Client"] ?? [])
    }

    /// The keys of a status document, of each of its queues and of each of its clients.
    static func keys(
        ofStatusJSON text: String
    ) throws -> (document: Set<String>, queue: Set<String>, client: Set<String>) {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let queues = try #require(json["queues"] as? [[String: Any]])
        let clients = try #require(json["clients"] as? [[String: Any]])
        try #require(!queues.isEmpty && !clients.isEmpty)
        return (
            Set(json.keys),
            queues.reduce(into: Set<String>()) { $0.formUnion($1.keys) },
            clients.reduce(into: Set<String>()) { $0.formUnion($1.keys) }
        )
    }

    @Test func theStatusDocumentHasExactlyTheDocumentedKeys() async throws {
        let documented = try Self.documentedKeys()
        #expect(documented.document.count >= 6 && documented.queue.count >= 12 && documented.client.count >= 10)
        try await Self.afterABatch { fixture in
            let response = try await HTTPTestConnection(port: fixture.adminPort).request("GET", "/api/stats")
            let (status, stdout, _) = try await fixture.master.ctl(["stats", "--json"])
            #expect(status == 0)
            for output in [response.text, stdout.joined(separator: "\n")] {
                let keys = try Self.keys(ofStatusJSON: output)
                #expect(keys.document == documented.document)
                #expect(keys.queue == documented.queue)
                #expect(keys.client == documented.client)
            }
        }
    }

    @Test func metricsAfterABatchAreValidPrometheusTextWithTheExpectedSeries() async throws {
        try await Self.afterABatch { fixture in
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
    }

    @Test func apiStatsAfterABatchShowsQueuesAndWorkersWithTheirHeartbeats() async throws {
        try await Self.afterABatch { fixture in
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
    }

    @Test func taskCtlStatsJSONAfterABatch() async throws {
        try await Self.afterABatch { fixture in
            let (status, stdout, _) = try await fixture.master.ctl(["stats", "--json"])
            #expect(status == 0)
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(stdout.joined().utf8)) as? [String: Any]
            )
            let queues = try #require(json["queues"] as? [[String: Any]])
            #expect(queues.first { $0["name"] as? String == "result" }?["total_put"] as? Int == 2000)
            let clients = try #require(json["clients"] as? [[String: Any]])
            #expect(clients.compactMap { $0["tasks_done"] as? Int }.reduce(0, +) == 2000)
        }
    }

    @Test(
        .enabled(Comment(rawValue: HeadlessBrowser.needs)) { Prerequisite.run(if: await HeadlessBrowser.path() != nil) }
    )
    func theStatusPageShowsTheDaemonsQueuesInABrowser() async throws {
        try await Self.afterABatch { fixture in
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
}
