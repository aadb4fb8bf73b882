import Foundation
import Pickle
import TaskMasterClient
import TaskWire
import TestSupport
import Testing

/// docs/WORKERS.md's example, `Examples/WordCountWorker`: a worker for a job of one's own,
/// built on TaskWorkerRuntime, run against a real task-master.
@Suite struct ExampleWorkerTests {
    @Test func theWordCountWorkerCountsEveryTextAndFailsWhatIsNotText() async throws {
        let master = try await MasterProcess.start()
        let worker = try ManagedProcess(
            Binaries.wordCountWorker,
            ["--connect", master.address, "--concurrency", "2"],
            environment: ["TASK_AUTHKEY": master.authKey],
            unset: ["TASK_MASTER_ADDRESS"],
            name: "word-count-worker"
        )
        defer { worker.kill9() }
        let texts = ["one", "two words", "  three   spaced words ", "", "a b c d e f g h i j"]
        let tasks =
            try texts.map { NewItem(payload: try PickleValue.string($0).pickled()) } + [
                NewItem(payload: try PickleValue.int(42).pickled())
            ]
        let results = try await TaskMasterConnection.withConnection(
            to: "127.0.0.1",
            port: master.port,
            authKey: Array(master.authKey.utf8)
        ) { connection in
            let ids = try await connection.put(tasks, into: "task")
            var results: [TaskID: PickleValue] = [:]
            let deadline = ContinuousClock.now.advanced(by: .seconds(30))
            while results.count < ids.count, ContinuousClock.now < deadline {
                let got = try await connection.get(from: "result", maxItems: 100, wait: .milliseconds(500))
                for delivery in got { results[delivery.reference] = try PickleValue(pickle: delivery.bytes) }
                if !got.isEmpty { try await connection.ack(got.map(\.id), in: "result") }
            }
            return ids.map { results[$0] }
        }
        #expect(
            results.prefix(texts.count).map { $0 } == [.int(1), .int(2), .int(3), .int(0), .int(10)],
            "\(worker.transcript)"
        )
        #expect(results.last == .string("error: expected a str, got a Python int"), "\(worker.transcript)")
        // The failure is logged and counted; the worker goes on and stops cleanly.
        #expect(worker.stderrLines.contains { $0.contains("failed: expected a str, got a Python int") })
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(20)) == 0, "\(worker.transcript)")
        let stopped = worker.stderrLines.first { $0.contains("word-count-worker stopped") }
        #expect(
            stopped?.contains("tasks_done=5") == true && stopped?.contains("tasks_failed=1") == true,
            "\(worker.transcript)"
        )
        await master.stop()
    }

    @Test func theExampleWorkerHasTaskWorkersOptionsAndSaysUsageErrorsInOneLine() async throws {
        let help = try ManagedProcess(Binaries.wordCountWorker, ["--help"], name: "word-count-worker --help")
        #expect(await help.waitForExit(within: .seconds(20)) == 0)
        let text = help.stdoutLines.joined(separator: "\n")
        for option in ["--connect", "--authkey-file", "--config", "--concurrency", "--exit-when-idle", "--tls-ca"] {
            #expect(text.contains(option), "\(option) missing from:\n\(text)")
        }
        let wrong = try ManagedProcess(
            Binaries.wordCountWorker,
            ["--concurrency", "0"],
            environment: ["TASK_AUTHKEY": "k"],
            name: "word-count-worker"
        )
        #expect(await wrong.waitForExit(within: .seconds(20)) == 2)
        #expect(
            wrong.stderrLines == [
                "word-count-worker: invalid value \"0\" for concurrency (from flag --concurrency): expected an integer from 1 to 1024"
            ],
            "\(wrong.transcript)"
        )
    }
}
