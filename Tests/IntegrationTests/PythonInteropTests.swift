import BigInt
import Foundation
import TestSupport
import Testing

/// Unmodified Python multiprocessing.managers programs against the real task-master, and
/// task-worker against Python's own manager server.
@Suite(.serialized) struct PythonInteropTests {
    static let versions = ["3.11", "3.13"]

    @Test(arguments: versions)
    func classicPythonWorkersSquareABatchFromTaskCtl(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        let master = try await MasterProcess.start()
        let workers = try (1...2).map { index in
            try python.start(
                script: PythonScripts.classicWorker,
                arguments: [master.address, "3"],
                environment: master.clientEnvironment,
                name: "python\(version) worker \(index)"
            )
        }
        let batch = try await master.ctl(["batch", "--count", "300", "--json", "--timeout", "60"])
        #expect(batch.status == 0, "\(batch.stderr)")
        let summary = try BatchSummary(stdout: batch.stdout)
        #expect(summary.completed == 300 && summary.wrong == 0 && summary.missing == 0 && summary.foreign == 0)
        var done = 0
        for worker in workers {
            #expect(await worker.waitForExit(within: .seconds(30)) == 0, "\(worker.transcript)")
            done += worker.stdoutLines.first { $0.hasPrefix("DONE") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        }
        #expect(done == 300)
        await master.stop()
    }

    @Test(arguments: versions)
    func aPythonProducerGetsItsSquaresFromSwiftWorkers(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        let master = try await MasterProcess.start()
        let workers = try (1...2).map { try master.startWorker([], name: "worker \($0)") }
        let numbers = ["2", "3", "-4", "1267650600228229401496703205376", "10", "11", "12", "13", "14", "15"]
        let run = try await python.run(
            script: PythonScripts.producer,
            arguments: [master.address, "[" + numbers.joined(separator: ",") + "]"],
            environment: master.clientEnvironment,
            timeout: .seconds(60)
        )
        #expect(run.status == 0, "\(run.stderrText)")
        let line = try #require(run.stdoutLines.first { $0.hasPrefix("RESULTS ") })
        let results = try JSONDecoder().decode([String].self, from: Data(line.dropFirst(8).utf8))
        let expected = numbers.map { text -> String in
            let n = BigInt(text)!
            return "\(n) * \(n) = \(n * n)"
        }
        #expect(results.sorted() == expected.sorted())
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(await worker.waitForExit(within: .seconds(20)) == 0) }
        await master.stop()
    }

    @Test(arguments: versions)
    func taskWorkerServesPythonsOwnManagerMaster(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        let key = "python-master-key"
        let pythonMaster = try python.start(
            script: PythonScripts.classicMaster,
            environment: ["TASK_AUTHKEY": key],
            name: "python\(version) master"
        )
        let ready = try #require(
            await pythonMaster.waitForLine(within: .seconds(30)) { $0.hasPrefix("READY") },
            "\(pythonMaster.transcript)"
        )
        let port = try #require(ready.split(separator: " ").last.map(String.init))
        let worker = try ManagedProcess(
            Binaries.worker,
            ["--connect", "127.0.0.1:\(port)", "--python-manager", "--exit-when-idle", "3"],
            environment: ["TASK_AUTHKEY": key],
            name: "task-worker"
        )
        let resultsLine = try #require(
            await pythonMaster.waitForLine(within: .seconds(60)) { $0.hasPrefix("RESULTS") },
            "\(pythonMaster.transcript)\n\(worker.transcript)"
        )
        let results = try JSONDecoder().decode([String].self, from: Data(resultsLine.dropFirst(8).utf8))
        let big = BigInt(1) << 70
        var expected =
            [7, 300, -12].map { "\($0) * \($0) = \($0 * $0)" } + (0..<20).map { "\($0) * \($0) = \($0 * $0)" }
        expected.append("\(big) * \(big) = \(big * big)")
        #expect(Set(results).isSuperset(of: expected), "\(results)")
        #expect(results.contains { $0.hasPrefix("error:") && $0.contains("str") })
        #expect(results.count == expected.count + 1)
        #expect(await pythonMaster.waitForExit(within: .seconds(30)) == 0)
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(30)) == 0, "\(worker.transcript)")
    }

    @Test(arguments: versions)
    func aWrongAuthkeyRaisesAuthenticationErrorInPython(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        let master = try await MasterProcess.start()
        let run = try await python.run(
            script: PythonScripts.wrongKey,
            arguments: [master.address],
            environment: master.clientEnvironment,
            timeout: .seconds(30)
        )
        #expect(run.stdoutLines.first?.hasPrefix("AUTH") == true, "\(run.stdoutText) \(run.stderrText)")
        #expect(master.process.isRunning)
        await master.stop()
    }

    @Test(arguments: versions)
    func queueSemanticsAreThoseOfPythonsQueue(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        let master = try await MasterProcess.start(arguments: ["--default-maxsize", "2"])
        let run = try await python.run(
            script: PythonScripts.semantics,
            arguments: [master.address],
            environment: master.clientEnvironment,
            timeout: .seconds(60)
        )
        #expect(run.status == 0, "\(run.stderrText)")
        let lines = run.stdoutLines
        let blocking = try #require(lines.first { $0.hasPrefix("BLOCKING_GET") })
        #expect(blocking.hasPrefix("BLOCKING_GET hello"))
        #expect((Double(blocking.split(separator: " ").last ?? "99") ?? 99) < 5)
        #expect(lines.contains("SIZES 2 False True"))
        #expect(lines.contains("FULL raised"))
        #expect(lines.contains("FULL_TIMEOUT raised"))
        #expect(lines.contains("GET_NOWAIT 1 2"))
        #expect(lines.contains("EMPTY raised"))
        #expect(lines.contains("NEGATIVE 'timeout' must be a non-negative number"))
        #expect(lines.contains("JOINED"))
        #expect(lines.contains("TASK_DONE task_done() called too many times"))
        #expect(lines.contains("NONSENSE True"))
        #expect(lines.contains("SHUTDOWN refused True"))
        #expect(master.process.isRunning)
        await master.stop()
    }

    @Test func valuesOfAnyKindPassUnchangedBetweenPythonClients() async throws {
        let master = try await MasterProcess.start()
        let putter = try await PythonInterpreter.require("3.11").run(
            script: PythonScripts.objects,
            arguments: [master.address, "put"],
            environment: master.clientEnvironment,
            timeout: .seconds(30)
        )
        #expect(putter.status == 0, "\(putter.stderrText)")
        let getter = try await PythonInterpreter.require("3.13").run(
            script: PythonScripts.objects,
            arguments: [master.address, "get"],
            environment: master.clientEnvironment,
            timeout: .seconds(30)
        )
        #expect(getter.status == 0, "\(getter.stderrText)")
        #expect(getter.stdoutLines.contains("SAME 11 11"), "\(getter.stdoutText)")
        await master.stop()
    }

    @Test func aPythonClientKilledInABlockingGetLosesNoItem() async throws {
        let python = try PythonInterpreter.require("3.13")
        let master = try await MasterProcess.start()
        let getter = try python.start(
            script: PythonScripts.blockedGetter,
            arguments: [master.address],
            environment: master.clientEnvironment
        )
        #expect(await getter.waitForLine(within: .seconds(30)) { $0 == "WAITING" } != nil, "\(getter.transcript)")
        try await Task.sleep(for: .milliseconds(300))
        getter.kill9()
        await getter.waitForExit(within: .seconds(10))
        try await Task.sleep(for: .milliseconds(300))
        // Python's own server would hand this item to the dead client's thread and lose it.
        _ = try await master.ctl(["put", "task", "42"])
        let got = try await master.ctl(["get", "task", "--timeout", "5"])
        #expect(got.status == 0 && got.stdout == ["42"], "\(got)")
        await master.stop()
    }
}
