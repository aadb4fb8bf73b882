import Foundation
import SquaringJobs
import TaskWire
import TestSupport
import Testing

extension AbuseTests {
    /// Puts one item on each of the queues `names` (pipelined, on one connection).
    static func putOneEach(_ master: MasterProcess, names: Range<Int>) async throws {
        let flood = try await RequestFlood(port: master.port, key: master.authKey)
        let outcome = await flood.run(count: names.count, limit: .seconds(60)) { id in
            .put(queue: "q\(names.lowerBound + Int(id))", items: [NewItem(payload: Square.task(Int(id)))], wait: .none)
        }
        #expect(outcome.answers == ["putAccepted": names.count], "\(outcome)")
    }

    /// Scrapes `/metrics` `times` times; returns each scrape's time and the last body.
    static func scrape(_ port: Int, times: Int) async throws -> (times: [Duration], body: String) {
        var elapsed: [Duration] = []
        var body = ""
        for _ in 0..<times {
            let start = ContinuousClock.now
            do {
                let reply = try await HTTPGet.fetch(port: port, path: "/metrics", timeout: .seconds(60))
                #expect(reply.status == 200)
                elapsed.append(reply.elapsed)
                body = String(decoding: reply.body, as: UTF8.self)
            } catch {
                throw TestFailure("a scrape failed after \(ContinuousClock.now - start): \(error)")
            }
        }
        return (elapsed, body)
    }

    /// Pings from four connections (spread over the master's event loops) while `body` runs;
    /// their round trips, sorted.
    static func pingingMeanwhile(_ master: MasterProcess, _ body: () async throws -> Void) async throws -> [Duration] {
        let probes = (0..<4).map { _ in
            PingProbe(port: master.port, authKey: master.authKey, interval: .milliseconds(5))
        }
        try await Task.sleep(for: .milliseconds(100))
        try await body()
        var times: [Duration] = []
        for probe in probes { times += try await probe.stop() }
        return times.sorted()
    }

    /// Issue reproduction 5: the first `/metrics` scrape froze the master, quadratic in queues.
    /// The first scrape after 2,500 queues appeared and the first after 10,000 (and three more
    /// of each): linear in queues, and a client pinging meanwhile is answered promptly.
    @Test func metricsScrapeTimeIsLinearInQueuesAndOtherClientsAreServedMeanwhile() async throws {
        try await MasterProcess.with(
            arguments: ["--admin-port", "0"],
            environment: ["TASK_MASTER_MAX_QUEUES": "20000"]
        ) { master in
            let admin = try await master.adminPort()
            _ = try await Self.scrape(admin, times: 2)  // the endpoint's own first time

            try await Self.putOneEach(master, names: 1..<2_501)
            var small: (times: [Duration], body: String) = ([], "")
            let smallPings = try await Self.pingingMeanwhile(master) { small = try await Self.scrape(admin, times: 4) }
            #expect(small.body.contains(#"queue="q2500""#))

            try await Self.putOneEach(master, names: 2_501..<10_001)
            var large: (times: [Duration], body: String) = ([], "")
            let pings = try await Self.pingingMeanwhile(master) { large = try await Self.scrape(admin, times: 4) }
            #expect(large.body.contains(#"queue="q10000""#))
            #expect(
                large.body.split(separator: "\n").filter { $0.hasPrefix("taskmaster_queue_depth{") }.count == 10_000
            )

            let firstRatio = large.times[0] / small.times[0]
            let medianRatio = large.times.dropFirst().sorted()[1] / small.times.dropFirst().sorted()[1]
            print(
                "metrics: first scrape \(String(format: "%.1f", small.times[0].ms)) ms at 2,500 queues,"
                    + " \(String(format: "%.1f", large.times[0].ms)) ms at 10,000 (×\(String(format: "%.1f", firstRatio)));"
                    + " later scrapes \(small.times.dropFirst().map { String(format: "%.1f", $0.ms) }) ms and"
                    + " \(large.times.dropFirst().map { String(format: "%.1f", $0.ms) }) ms (median ×\(String(format: "%.1f", medianRatio)));"
                    + " \(large.body.utf8.count / 1000) kB; pings during the scrapes p99"
                    + " \(String(format: "%.1f", smallPings.quantile(0.99).ms)) ms and \(String(format: "%.1f", pings.quantile(0.99).ms)) ms,"
                    + " max \(String(format: "%.1f", (pings.last ?? .zero).ms)) ms (\(pings.count) pings)"
            )
            // Four times the queues: about four times the time (quadratic would be sixteen).
            #expect(firstRatio < 8, "first scrape ×\(firstRatio) for ×4 queues")
            #expect(medianRatio < 8, "scrape ×\(medianRatio) for ×4 queues")
            #expect(large.times.max()! < .seconds(2))
            #expect(pings.quantile(0.99) < .milliseconds(100), "ping p99 \(pings.quantile(0.99)) during the scrapes")
        }
    }
}
