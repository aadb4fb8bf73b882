import Foundation
import TaskMasterAdmin
import TestSupport
import Testing

/// The status page in a real (headless) Chromium: its script runs, polls, and renders.
@Suite(
    "status page in headless Chromium",
    .enabled(Comment(rawValue: HeadlessBrowser.needs)) { Prerequisite.run(if: await HeadlessBrowser.path() != nil) }
)
struct BrowserTests {
    /// Per poll of the page, queue `task` gets 7 puts and 5 acks and deliveries, the network
    /// 1000 bytes in and 3000 out; everything else stays as in `Samples.first`.
    private static func growingSource() -> FakeStatusSource {
        FakeStatusSource(Samples.first) { snapshot in
            snapshot.queues[0].totalPut += 7
            snapshot.queues[0].totalDelivered += 5
            snapshot.queues[0].totalAcked += 5
            snapshot.bytesIn += 1000
            snapshot.bytesOut += 3000
            snapshot.uptimeSeconds += 1
        }
    }

    @Test("the rendered DOM holds the live numbers: the script ran, polled and computed rates")
    func renderedDOM() async throws {
        let source = Self.growingSource()
        let server = try await RunningAdminServer.start(source: source)
        let run = try await HeadlessBrowser.run(
            "http://127.0.0.1:\(server.port)/",
            ["--dump-dom"],
            virtualTime: .seconds(5),
            waitForStdout: "</html>"
        )
        try await server.stop()
        try #require(run.status == 0, "\(run.transcript)")
        let page = RenderedPage(dom: run.stdout)
        try #require(page.dom.contains("</html>"), "no DOM on stdout:\n\(run.transcript)")

        // No script errors, and the poll loop ran several times against our server.
        #expect(page.dom.contains(#"<div id="js-errors" role="alert"></div>"#), "script errors in \(page.dom)")
        #expect(page.attribute("data-state", id: "status") == "live")
        let polls = try #require(page.attribute("data-polls", id: "status").flatMap(Int.init))
        #expect(polls >= 3, "the page polled \(polls) times")
        #expect(source.calls >= polls)

        // Summary numbers from the snapshot.
        #expect(page.number(id: "total-depth") == 64)  // 42 + 17 + 5
        #expect(page.number(id: "total-in-flight") == 3)
        #expect(page.number(id: "client-count") == 3)
        #expect(page.number(id: "auth-failures") == 4)
        // Rates come from deltas between polls: 7 puts and 5 acks per poll, polls ≥ 1 s apart.
        let putRate = try #require(page.number(id: "put-rate"))
        let ackRate = try #require(page.number(id: "ack-rate"))
        #expect(putRate > 1 && putRate <= 7.01, "put rate \(putRate)")
        #expect(ackRate > 0.7 && ackRate <= 5.01, "ack rate \(ackRate)")

        // The queue rows, cell by cell.
        let task = try #require(page.row("data-queue", "task"), "no row for queue task")
        func cell(_ field: String, _ row: String = task) -> (value: String?, text: String)? {
            RenderedPage.cell(field, in: row)
        }
        #expect(cell("depth")?.value == "42")
        #expect(cell("in_flight")?.value == "3")
        #expect(cell("max_size")?.value == "100")
        #expect(cell("waiting_consumers")?.value == "2")
        #expect(cell("total_dead")?.value == "1")
        // The last poll the page rendered saw 7 more puts per earlier call.
        let totalPut = try #require(cell("total_put")?.value.flatMap(Int.init))
        #expect(totalPut > 1000 && (totalPut - 1000) % 7 == 0, "total put \(totalPut)")
        #expect(cell("put_rate")?.value.flatMap(Double.init).map { $0 > 1 } == true)
        let result = try #require(page.row("data-queue", "result"))
        #expect(cell("depth", result)?.value == "17")
        #expect(cell("max_size", result)?.text == "∞")
        // A queue name with markup in it is shown as text, not interpreted.
        let odd = try #require(page.row("data-queue", "we&quot;ird\\queue &lt;b&gt;&amp;"))
        #expect(cell("name", odd)?.text == "we\"ird\\queue &lt;b&gt;&amp;")
        #expect(!page.dom.contains("queue <b>"))

        // The clients.
        let worker = try #require(page.row("data-client-id", "1"))
        #expect(cell("kind", worker)?.text == "native")
        #expect(cell("address", worker)?.text == "10.0.0.2:51234")
        #expect(cell("leased", worker)?.value == "2")
        #expect(cell("tasks_done", worker)?.value == "500")
        #expect(cell("tasks_failed", worker)?.value == "3")
        #expect(cell("connected_seconds", worker)?.text == "2 m 00 s")
        #expect(cell("last_heartbeat_seconds_ago", worker)?.text == "0.5 s ago")
        let python = try #require(page.row("data-client-id", "5"))
        #expect(cell("kind", python)?.text == "python")
        #expect(cell("tasks_done", python)?.value == "")
        #expect(cell("tasks_done", python)?.text == "–")

        // The charts have lines.
        #expect(page.dom.contains(#"class="line s-depth""#))
        #expect(page.dom.contains(#"class="line s-put""#))
    }

    @Test("a screenshot of the page is the right size and not blank")
    func screenshot() async throws {
        let server = try await RunningAdminServer.start(source: Self.growingSource())
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("taskmaster-admin-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try await HeadlessBrowser.run(
            "http://127.0.0.1:\(server.port)/",
            ["--screenshot=\(file.path)", "--window-size=1280,1000", "--hide-scrollbars"],
            virtualTime: .seconds(5)
        )
        try await server.stop()
        try #require(run.status == 0, "\(run.transcript)")
        let data = try #require(FileManager.default.contents(atPath: file.path), "no screenshot written")
        // To look at it: TASKMASTER_ADMIN_SCREENSHOT=/tmp/admin.png swift test --filter BrowserTests
        if let keep = ProcessInfo.processInfo.environment["TASKMASTER_ADMIN_SCREENSHOT"] {
            try data.write(to: URL(fileURLWithPath: keep))
        }

        let image = try PNGImage(data)
        #expect(image.width == 1280 && image.height == 1000)

        // Not blank: many colours, plenty of pixels off the background, and the accent blue of the
        // depth chart and the "native" badges.
        var histogram: [Int: Int] = [:]
        var accent = 0
        var green = 0
        for y in 0..<image.height {
            for x in 0..<image.width {
                let (r, g, b) = image.rgb(x, y)
                histogram[r << 16 | g << 8 | b, default: 0] += 1
                if abs(r - 0x25) < 40, abs(g - 0x63) < 40, abs(b - 0xEB) < 40 { accent += 1 }
                if abs(r - 0x16) < 40, abs(g - 0xA3) < 40, abs(b - 0x4A) < 40 { green += 1 }
            }
        }
        let total = image.width * image.height
        let background = histogram.values.max() ?? total
        #expect(histogram.count >= 100, "only \(histogram.count) colours")
        #expect(Double(total - background) / Double(total) > 0.05, "\(total - background) non-background pixels")
        #expect(accent > 200, "\(accent) accent-blue pixels")
        #expect(green > 20, "\(green) green pixels (live dot, acked line, python badge)")
    }
}
