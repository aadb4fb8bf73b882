import Foundation
import TestSupport

/// Chromium, run headless against the admin page.
enum HeadlessBrowser {
    /// Finds the browser once: `$TASKMASTER_BROWSER`, `chromium` or `chromium-browser` on PATH,
    /// else whatever `scripts/setup-browser` prints (it installs Debian's `chromium` when it runs
    /// as root). Nil when there is none.
    static func path() async -> String? {
        await locator.path()
    }

    private static let locator = Locator()

    /// What the browser tests need, for skip and failure messages.
    static let needs =
        "needs Chromium: none found ($TASKMASTER_BROWSER, chromium or chromium-browser on PATH)"
        + " and scripts/setup-browser could not install it (it needs root and apt-get)"

    private actor Locator {
        private var result: String??

        func path() async -> String? {
            if let result { return result }
            let found = await locate()
            result = .some(found)
            return found
        }

        private func locate() async -> String? {
            let environment = ProcessInfo.processInfo.environment
            if let path = environment["TASKMASTER_BROWSER"], !path.isEmpty {
                return FileManager.default.isExecutableFile(atPath: path) ? path : nil
            }
            for directory in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
                for name in ["chromium", "chromium-browser"] {
                    let path = "\(directory)/\(name)"
                    if FileManager.default.isExecutableFile(atPath: path) { return path }
                }
            }
            let script = Fixtures.repositoryRoot.appendingPathComponent("scripts/setup-browser")
            guard let setup = try? ManagedProcess(script, name: "setup-browser") else { return nil }
            // Installing takes a while on a busy machine; bounded all the same.
            guard await setup.waitForExit(within: .seconds(900)) == 0 else {
                setup.kill9()
                return nil
            }
            guard let path = setup.stdoutLines.last(where: { !$0.isEmpty }),
                FileManager.default.isExecutableFile(atPath: path)
            else { return nil }
            return path
        }
    }

    /// What a run of the browser left behind.
    struct Run {
        var status: Int32
        var stdout: String
        var transcript: String
    }

    /// Runs the browser headless on `url` with `arguments` added, in a fresh profile, letting the
    /// page run for `virtualTime` (timers fire as if that much time had passed; fetches still go
    /// to the real server). Killed if it takes longer than `limit`, and then tried once more:
    /// headless Chromium now and then hangs on a loaded machine, a fault of the browser, not of
    /// the page (a run that finishes is judged as it is).
    static func run(
        _ url: String,
        _ arguments: [String],
        virtualTime: Duration = .seconds(5),
        limit: Duration = .seconds(60),
        waitForStdout marker: String? = nil
    ) async throws -> Run {
        guard let path = await path() else {
            try Prerequisite.require(false, needs)
            throw AdminTestFailure(needs)
        }
        var transcripts: [String] = []
        for _ in 1...2 {
            let attempt = try await runOnce(path, url, arguments, virtualTime, limit, marker)
            if let run = attempt.run { return run }
            transcripts.append("the browser did not finish within \(limit)\n\(attempt.transcript)")
        }
        throw AdminTestFailure(transcripts.joined(separator: "\n"))
    }

    private static func runOnce(
        _ path: String,
        _ url: String,
        _ arguments: [String],
        _ virtualTime: Duration,
        _ limit: Duration,
        _ marker: String?
    ) async throws -> (run: Run?, transcript: String) {
        let profile = FileManager.default.temporaryDirectory
            .appendingPathComponent("taskmaster-admin-browser-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = try ManagedProcess(
            URL(fileURLWithPath: path),
            [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--user-data-dir=\(profile.path)",
                "--virtual-time-budget=\(virtualTime.components.seconds * 1000)",
            ] + arguments + [url],
            name: "chromium"
        )
        guard let status = await process.waitForExit(within: limit) else {
            process.kill9()
            _ = await process.waitForExit(within: .seconds(10))
            return (nil, process.transcript)
        }
        if let marker {
            // The pipe may deliver the last of the output just after the exit.
            _ = await process.waitForLine(within: .seconds(5)) { $0.contains(marker) }
        }
        let stdout = process.stdoutLines.joined(separator: "\n")
        let run = Run(status: status, stdout: stdout, transcript: process.transcript)
        return (run, run.transcript)
    }
}

/// The DOM Chromium serialized (`--dump-dom`), with just enough parsing to find the page's
/// stable hooks (ids, `data-queue`/`data-client-id` rows, `data-field` cells).
struct RenderedPage {
    var dom: String

    /// The opening tag of the element with `id`.
    func tag(id: String) -> String? {
        guard let regex = try? Regex(#"<[a-zA-Z]+[^>]*\bid=""# + id + #""[^>]*>"#),
            let match = dom.firstMatch(of: regex)
        else { return nil }
        return String(match.output[0].substring ?? "")
    }

    /// An attribute of the element with `id`.
    func attribute(_ name: String, id: String) -> String? {
        guard let tag = tag(id: id) else { return nil }
        return Self.attribute(name, in: tag)
    }

    /// The `data-value` of the element with `id`, as a number.
    func number(id: String) -> Double? {
        attribute("data-value", id: id).flatMap(Double.init)
    }

    /// The HTML of the `<tr>` whose `attribute` is `value` (as serialized, i.e. HTML-escaped).
    func row(_ attribute: String, _ value: String) -> String? {
        guard let start = dom.range(of: "<tr \(attribute)=\"\(value)\""),
            let end = dom[start.upperBound...].range(of: "</tr>")
        else { return nil }
        return String(dom[start.lowerBound..<end.upperBound])
    }

    /// The cell of `row` for `field`: its `data-value` and its text (tags stripped).
    static func cell(_ field: String, in row: String) -> (value: String?, text: String)? {
        guard let start = row.range(of: "<td data-field=\"\(field)\""),
            let close = row[start.upperBound...].range(of: ">"),
            let end = row[close.upperBound...].range(of: "</td>")
        else { return nil }
        let tag = String(row[start.lowerBound..<close.upperBound])
        let inner = String(row[close.upperBound..<end.lowerBound])
        let text = inner.replacing(#/<[^>]*>/#, with: "")
        return (attribute("data-value", in: tag), text)
    }

    private static func attribute(_ name: String, in tag: String) -> String? {
        guard let start = tag.range(of: " \(name)=\""),
            let end = tag[start.upperBound...].firstIndex(of: "\"")
        else { return nil }
        return String(tag[start.upperBound..<end])
    }
}
