import Foundation
import TaskMasterClient
import TestSupport
import Testing

/// Several task-masters in front of one PostgreSQL database (`--backend`): real processes, a
/// throwaway cluster per test, every square checked.
@Suite(
    .serialized,
    .enabled(
        if: Prerequisite.postgres,
        "needs PostgreSQL's server binaries (Debian's postgresql package: scripts/setup-system installs it)"
    )
)
struct SharedPostgresTests {
    /// Numbers in the batches of the two-master tests: 40,000 by default, since the debug build
    /// of task-master the suite runs spends most of its time encoding and decoding PostgreSQL
    /// messages (100,000 took 65–125 s here); `TASK_TEST_PG_BATCH=100000` for the full size.
    static let batchCount =
        ProcessInfo.processInfo.environment["TASK_TEST_PG_BATCH"].flatMap { Int($0) } ?? 40_000

    /// Runs `body` with two masters on `url` (same key), stopped afterwards, also on failure.
    private func withTwoMasters(
        _ url: String,
        extra: [String] = [],
        _ body: (MasterProcess, MasterProcess) async throws -> Void
    ) async throws {
        let key = "shared-\(UInt64.random(in: 0...UInt64.max))"
        let a = try await MasterProcess.start(authKey: key, arguments: ["--backend", url] + extra)
        let b: MasterProcess
        do {
            b = try await MasterProcess.start(authKey: key, arguments: ["--backend", url] + extra)
        } catch {
            await a.stop()
            throw error
        }
        do {
            try await body(a, b)
        } catch {
            a.process.kill9()
            b.process.kill9()
            throw error
        }
        await a.stop()
        await b.stop()
    }

    private func leased(_ cluster: PostgresCluster) async throws -> Int {
        Int(try await cluster.value("SELECT count(*) FROM taskmaster.tasks WHERE lease_owner IS NOT NULL") ?? "-1")
            ?? -1
    }

    private func stopWorkers(_ workers: [ManagedProcess]) async {
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers where await worker.waitForExit(within: .seconds(20)) == nil { worker.kill9() }
    }

    @Test func twoMastersOverOneDatabaseSquareABatchExactlyOnce() async throws {
        try await PostgresCluster.with(name: "two_masters") { cluster in
            try await withTwoMasters(cluster.url) { a, b in
                let workers = [try a.startWorker(name: "worker a"), try b.startWorker(name: "worker b")]
                defer { for worker in workers { worker.kill9() } }
                let count = Self.batchCount
                let batch = try await a.ctl(
                    ["batch", "--count", "\(count)", "--json", "--timeout", "120"],
                    within: .seconds(150)
                )
                #expect(batch.status == 0, "\(batch.stderr)")
                let summary = try BatchSummary(stdout: batch.stdout)
                #expect(summary.completed == count && summary.wrong == 0 && summary.missing == 0)
                #expect(summary.duplicates == 0 && summary.foreign == 0)
                // Both masters served tasks: the worker on b took its share through b.
                let delivered = try await b.stats().queue("task")?.total_delivered ?? 0
                #expect(delivered > 0, "the worker on the second master got nothing")
                await stopWorkers(workers)
                #expect(try await leased(cluster) == 0)
                #expect(try await cluster.value("SELECT count(*) FROM taskmaster.tasks") == "0")
            }
        }
    }

    @Test func aBatchCompletesExactlyOnceWhenOneOfTwoMastersIsKilled() async throws {
        try await PostgresCluster.with(name: "killed_master") { cluster in
            try await withTwoMasters(cluster.url, extra: ["--lease-timeout", "5"]) { a, b in
                // Each worker knows both masters: the one on a moves to b when a dies.
                let workers = [
                    try a.startWorker(
                        [
                            "--connect", "\(a.address),\(b.address)", "--max-backoff", "0.5", "--heartbeat-interval",
                            "0.5",
                        ],
                        name: "worker a"
                    ),
                    try b.startWorker(
                        [
                            "--connect", "\(b.address),\(a.address)", "--max-backoff", "0.5", "--heartbeat-interval",
                            "0.5",
                        ],
                        name: "worker b"
                    ),
                ]
                defer { for worker in workers { worker.kill9() } }
                let count = Self.batchCount
                let batch = try ManagedProcess(
                    Binaries.ctl,
                    ["batch", "--count", "\(count)", "--json", "--timeout", "150"],
                    environment: b.clientEnvironment,
                    name: "batch"
                )
                defer { batch.kill9() }
                var done = 0
                let deadline = ContinuousClock.now.advanced(by: .seconds(60))
                while done < count / 5, ContinuousClock.now < deadline {
                    done =
                        Int(
                            (try? await cluster.value("SELECT count(*) FROM taskmaster.tasks WHERE queue = 'result'"))
                                ?? "0"
                        ) ?? 0
                    done += (try? await b.stats().queue("result")?.total_acked) ?? 0
                    try await Task.sleep(for: .milliseconds(100))
                }
                a.process.kill9()
                _ = await a.process.waitForExit(within: .seconds(10))
                guard let status = await batch.waitForExit(within: .seconds(160)) else {
                    Issue.record("the batch did not finish:\n\(batch.transcript)")
                    return
                }
                #expect(status == 0, "\(batch.transcript)")
                let summary = try BatchSummary(stdout: batch.stdoutLines)
                #expect(summary.completed == count && summary.wrong == 0 && summary.missing == 0, "\(batch.transcript)")
                #expect(summary.duplicates == 0)
                await stopWorkers(workers)
                #expect(try await leased(cluster) == 0)
            }
        }
    }

    @Test func aFrozenMastersLeasesExpireAndTheOtherMasterReturnsThem() async throws {
        try await PostgresCluster.with(name: "frozen_master") { cluster in
            try await withTwoMasters(cluster.url, extra: ["--lease-timeout", "1"]) { a, b in
                #expect(try await a.ctl(["put", "task"] + (1...20).map(String.init)).status == 0)
                let key = Array(a.authKey.utf8)
                try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: a.port, authKey: key) { client in
                    let taken = try await client.get(from: "task", maxItems: 10)
                    #expect(taken.count == 10)
                    try await a.process.freeze()
                    defer { a.process.thaw() }
                    // b's lease reaper returns them once their deadline passes.
                    var back = 0
                    let deadline = ContinuousClock.now.advanced(by: .seconds(15))
                    while back < 20, ContinuousClock.now < deadline {
                        back =
                            Int(
                                try await cluster.value(
                                    "SELECT count(*) FROM taskmaster.tasks WHERE queue = 'task' AND lease_owner IS NULL"
                                ) ?? "0"
                            ) ?? 0
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    #expect(back == 20)
                    let again = try await b.ctl(["get", "task", "--count", "20", "--timeout", "5"])
                    #expect(Set(again.stdout) == Set((1...20).map(String.init)), "\(again.stdout)")
                }
            }
        }
    }

    @Test func theMastersFindThePromotedStandbyAndTheBatchCompletesExactlyOnce() async throws {
        try await PostgresCluster.with(name: "failover") { primary in
            let standby = try await primary.makeSynchronousStandby(name: "standby1")
            let url = "postgres://postgres@127.0.0.1:\(primary.port),127.0.0.1:\(standby.port)/taskmaster"
            try await withTwoMasters(url) { a, b in
                let workers = [
                    try a.startWorker(["--connect", "\(a.address),\(b.address)"], name: "worker a"),
                    try b.startWorker(["--connect", "\(b.address),\(a.address)"], name: "worker b"),
                ]
                defer { for worker in workers { worker.kill9() } }
                let count = 30_000
                let batch = try ManagedProcess(
                    Binaries.ctl,
                    ["batch", "--count", "\(count)", "--json", "--timeout", "120"],
                    environment: a.clientEnvironment,
                    name: "batch"
                )
                defer { batch.kill9() }
                // Acknowledged puts that nobody takes: every one must be on the promoted standby.
                let acknowledged = (1...300).map(String.init)
                #expect(try await b.ctl(["put", "kept"] + acknowledged).status == 0)
                var done = 0
                let deadline = ContinuousClock.now.advanced(by: .seconds(60))
                while done < count / 4, ContinuousClock.now < deadline {
                    done = (try? await a.stats().queue("task")?.total_acked) ?? 0
                    done += (try? await b.stats().queue("task")?.total_acked) ?? 0
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await primary.kill9()
                try await standby.promote()
                guard let status = await batch.waitForExit(within: .seconds(130)) else {
                    let logA: String = a.process.stderrLines.filter { !$0.contains("PostgresNIO") }.suffix(60).joined(
                        separator: "\n"
                    )
                    let logB: String = b.process.stderrLines.filter { !$0.contains("PostgresNIO") }.suffix(60).joined(
                        separator: "\n"
                    )
                    Issue.record("the batch did not finish:\n\(batch.transcript)\n--- a:\n\(logA)\n--- b:\n\(logB)")
                    return
                }
                #expect(
                    status == 0,
                    "\(batch.transcript)\n\(a.process.stderrLines.filter { !$0.contains("PostgresNIO") }.suffix(80).joined(separator: "\n"))"
                )
                let summary = try BatchSummary(stdout: batch.stdoutLines)
                #expect(summary.completed == count && summary.wrong == 0 && summary.missing == 0, "\(batch.transcript)")
                #expect(summary.duplicates == 0)
                #expect(try await standby.value("SELECT count(*) FROM taskmaster.tasks WHERE queue = 'kept'") == "300")
                await stopWorkers(workers)
                #expect(
                    try await standby.value("SELECT count(*) FROM taskmaster.tasks WHERE lease_owner IS NOT NULL")
                        == "0"
                )
            }
        }
    }

    @Test(arguments: PythonInteropTests.versions)
    func classicPythonProgramsWorkThroughTwoMasters(version: String) async throws {
        let python = try PythonInterpreter.require(version)
        try await PostgresCluster.with(name: "python") { cluster in
            try await withTwoMasters(cluster.url) { a, b in
                let workers = try (1...2).map { index in
                    try python.start(
                        script: PythonScripts.classicWorker,
                        arguments: [b.address, "3"],
                        environment: b.clientEnvironment,
                        name: "python\(version) worker \(index)"
                    )
                }
                defer { for worker in workers { worker.kill9() } }
                let numbers = (1...40).map(String.init) + ["1267650600228229401496703205376"]
                let run = try await python.run(
                    script: PythonScripts.producer,
                    arguments: [a.address, "[" + numbers.joined(separator: ",") + "]"],
                    environment: a.clientEnvironment,
                    timeout: .seconds(60)
                )
                #expect(run.status == 0, "\(run.stderrText)")
                let line = try #require(run.stdoutLines.first { $0.hasPrefix("RESULTS ") })
                let results = try JSONDecoder().decode([String].self, from: Data(line.dropFirst(8).utf8))
                #expect(results.count == numbers.count)
                #expect(
                    results.contains(
                        "1267650600228229401496703205376 * 1267650600228229401496703205376 = 1606938044258990275541962092341162602522202993782792835301376"
                    )
                )
                #expect(results.contains("7 * 7 = 49"))
                var done = 0
                for worker in workers {
                    #expect(await worker.waitForExit(within: .seconds(30)) == 0, "\(worker.transcript)")
                    done +=
                        worker.stdoutLines.first { $0.hasPrefix("DONE") }.flatMap { Int($0.split(separator: " ")[1]) }
                        ?? 0
                }
                #expect(done == numbers.count)
            }
        }
    }

    @Test func poisonTasksAndFullQueuesAcrossMasters() async throws {
        try await PostgresCluster.with(name: "poison") { cluster in
            try await withTwoMasters(cluster.url, extra: ["--max-deliveries", "2", "--default-maxsize", "3"]) { a, b in
                #expect(try await a.ctl(["put", "task", "666"]).status == 0)
                // Taken through each master in turn by a consumer that vanishes.
                for master in [a, b] {
                    try await TaskMasterConnection.withConnection(
                        to: "127.0.0.1",
                        port: master.port,
                        authKey: Array(master.authKey.utf8)
                    ) { client in
                        let taken = try await client.get(from: "task", maxItems: 1, wait: .milliseconds(5000))
                        #expect(taken.count == 1)
                    }
                }
                var listed: [String] = []
                let deadline = ContinuousClock.now.advanced(by: .seconds(10))
                while !listed.contains(where: { $0.contains("666") }), ContinuousClock.now < deadline {
                    listed = try await a.ctl(["dead", "list", "task"]).stdout
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(listed.contains { $0.contains("666") && $0.contains("attempts 2") }, "\(listed)")
                #expect(try await b.ctl(["dead", "requeue", "task"]).stdout.first?.hasPrefix("moved 1") == true)
                #expect(try await a.ctl(["get", "task", "--timeout", "5"]).stdout == ["666"])

                // maxsize 3 holds across masters.
                #expect(try await a.ctl(["put", "small", "1", "2", "3"]).status == 0)
                let refused = try await b.ctl(["put", "small", "4", "--timeout", "0.5"])
                #expect(refused.status != 0)
                #expect(refused.stderr.joined().contains("full"), "\(refused.stderr)")
                #expect(try await a.ctl(["get", "small"]).stdout == ["1"])
                #expect(try await b.ctl(["put", "small", "4", "--timeout", "5"]).status == 0)
                #expect(try await cluster.value("SELECT count(*) FROM taskmaster.tasks WHERE queue = 'small'") == "3")
            }
        }
    }
}
