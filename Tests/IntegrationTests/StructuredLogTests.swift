import Foundation
import TestSupport
import Testing

/// `--log-format json`: what log collectors read from the real daemons.
@Suite struct StructuredLogTests {
    @Test func masterAndWorkerWriteJSONLinesWithConnectionEventsAndNeverTheAuthkey() async throws {
        let key = "log-secret-\(UInt64.random(in: 0...UInt64.max))"
        let master = try await MasterProcess.start(authKey: key, arguments: ["--log-format", "json"])
        let worker = try master.startWorker(["--log-format", "json", "--exit-when-idle", "1"], name: "worker")
        let (status, _, stderr) = try await master.ctl(["batch", "--count", "100"])
        #expect(status == 0, "\(stderr)")
        // A client with the wrong key: its failure is logged, the key it tried is not.
        var wrong = master.clientEnvironment
        wrong["TASK_AUTHKEY"] = "wrong-\(key)"
        let intruder = try ManagedProcess(Binaries.ctl, ["ping"], environment: wrong, name: "intruder")
        #expect(await intruder.waitForExit(within: .seconds(20)) == 2)
        #expect(await worker.waitForExit(within: .seconds(30)) == 0)
        #expect(await master.stop() == 0)

        func events(_ lines: [String], _ who: String) -> [[String: Any]] {
            lines.filter { !$0.isEmpty }.compactMap { line in
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object != nil, "\(who) wrote a line that is not JSON: \(line)")
                return object
            }
        }
        let masterEvents = events(master.process.stderrLines, "task-master")
        let workerEvents = events(worker.stderrLines, "task-worker")
        let messages = masterEvents.compactMap { $0["message"] as? String }
        #expect(messages.contains("native client connected"), "\(messages)")
        #expect(messages.contains("connection closed"), "\(messages)")
        #expect(messages.contains { $0.contains("authentication failed") || $0.contains("handshake") }, "\(messages)")
        #expect(masterEvents.allSatisfy { $0["ts"] is String && $0["level"] is String })
        #expect(workerEvents.contains { $0["message"] as? String == "connected to the master" })
        let everything = (master.process.stderrLines + worker.stderrLines).joined(separator: "\n")
        #expect(!everything.contains(key), "the authkey appeared in a log")
    }

    @Test func anUnknownLogFormatIsRefusedWithTheChoices() async throws {
        let process = try ManagedProcess(
            Binaries.master,
            ["--port", "0", "--log-format", "xml"],
            environment: ["TASK_AUTHKEY": "k"],
            name: "task-master"
        )
        #expect(await process.waitForExit(within: .seconds(20)) == 2)
        #expect(process.stderrLines.joined().contains("expected one of human, json"), "\(process.transcript)")
    }
}
