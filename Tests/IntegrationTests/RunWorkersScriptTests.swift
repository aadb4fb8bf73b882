import Foundation
import TestSupport
import Testing

/// `Config/run-workers.sh N`: N workers on one host, stopped together.
@Suite struct RunWorkersScriptTests {
    @Test func threeWorkersFromTheScriptSquareABatchAndStopTogetherOnSIGTERM() async throws {
        let master = try await MasterProcess.start()
        var environment = master.clientEnvironment
        environment["TASK_WORKER"] = Binaries.worker.path
        let script = Fixtures.repositoryRoot.appendingPathComponent("Config/run-workers.sh")
        // Started with an empty signal mask, as from a shell or systemd: Foundation launches
        // children with the mask of the launching thread, which blocks SIGTERM, and bash
        // can't unblock it.
        let python = try PythonInterpreter.require("3.13")
        let unblocked =
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        let workers = try ManagedProcess(
            python.executable,
            ["-c", unblocked, script.path, "3", "--concurrency", "1"],
            environment: environment,
            name: "run-workers"
        )
        // All three connected (their names are in the master's client list).
        var connected = 0
        for _ in 0..<100 where connected < 3 {
            connected = try await master.stats().clients.filter { $0.name.hasPrefix("task-worker") }.count
            if connected < 3 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(connected == 3, "\(workers.transcript)")
        let (status, stdout, stderr) = try await master.ctl(["batch", "--count", "3000", "--json"])
        #expect(status == 0, "\(stderr)")
        let summary = try BatchSummary(stdout: stdout)
        #expect(summary.completed == 3000 && summary.wrong == 0 && summary.missing == 0)
        // Each worker's lines carry its number.
        let lines = workers.stderrLines
        for number in 1...3 {
            #expect(lines.contains { $0.hasPrefix("[worker \(number)] ") && $0.contains("connected") }, "\(lines)")
        }

        workers.signal(SIGTERM)
        #expect(await workers.waitForExit(within: .seconds(30)) == 0, "\(workers.transcript)")
        var left = 3
        for _ in 0..<100 where left > 0 {
            left = try await master.stats().clients.filter { $0.name.hasPrefix("task-worker") }.count
            if left > 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(left == 0, "workers still connected after the script stopped")
        await master.stop()
    }
}
