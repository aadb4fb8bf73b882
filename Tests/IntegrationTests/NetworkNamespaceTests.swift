import Foundation
import TestSupport
import Testing

/// Hosts made of Linux network namespaces joined by veth pairs: the master in one, a worker in
/// each of two others. Needs root and iproute2 (`scripts/setup-system` installs it).
enum Namespaces {
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static let needs: Comment =
        "needs root and iproute2 (ip netns) to make network namespaces; run as root after scripts/setup-system"

    /// Whether namespaces can be made here: tries to make and delete one.
    static let available: Bool = {
        guard let ip, geteuid() == 0 else { return false }
        let name = "tmprobe\(getpid())"
        return run([ip, "netns", "add", name]) && run([ip, "netns", "del", name])
    }()

    @discardableResult
    static func run(_ command: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

@Suite(
    .serialized,
    .enabled(if: Prerequisite.run(if: Namespaces.available), Namespaces.needs)
)
struct NetworkNamespaceTests {
    @Test func aWorkerCutOffMidBatchLosesNothing() async throws {
        try Prerequisite.require(Namespaces.available, Namespaces.needs.rawValue)
        let ip = try #require(Namespaces.ip)
        let tag = String(getpid() % 100_000)
        let master = "tmm\(tag)"
        let workers = ["tmw1\(tag)", "tmw2\(tag)"]
        var setup: [[String]] = [[ip, "netns", "add", master]]
        for (index, worker) in workers.enumerated() {
            let (outside, inside) = ("tmv\(index)m\(tag)", "tmv\(index)w\(tag)")
            setup += [
                [ip, "netns", "add", worker],
                [ip, "link", "add", outside, "type", "veth", "peer", "name", inside],
                [ip, "link", "set", outside, "netns", master],
                [ip, "link", "set", inside, "netns", worker],
                [ip, "-n", master, "addr", "add", "10.77.\(index + 1).1/24", "dev", outside],
                [ip, "-n", worker, "addr", "add", "10.77.\(index + 1).2/24", "dev", inside],
                [ip, "-n", master, "link", "set", outside, "up"],
                [ip, "-n", worker, "link", "set", inside, "up"],
                [ip, "-n", worker, "link", "set", "lo", "up"],
            ]
        }
        setup.append([ip, "-n", master, "link", "set", "lo", "up"])
        defer {
            for namespace in [master] + workers { Namespaces.run([ip, "netns", "del", namespace]) }
        }
        for command in setup {
            try #require(Namespaces.run(command), "failed: \(command.joined(separator: " "))")
        }

        let key = "netns-key-\(tag)"
        let port = 5000
        let masterProcess = try ManagedProcess(
            URL(fileURLWithPath: ip),
            [
                "netns", "exec", master, Binaries.master.path, "--host", "0.0.0.0", "--port", "\(port)",
                "--lease-timeout", "3",
            ],
            environment: ["TASK_AUTHKEY": key],
            name: "task-master"
        )
        defer { masterProcess.kill9() }
        #expect(await masterProcess.waitForLine(within: .seconds(30)) { $0.contains("listening on") } != nil)
        func startWorker(_ index: Int) throws -> ManagedProcess {
            try ManagedProcess(
                URL(fileURLWithPath: ip),
                [
                    "netns", "exec", workers[index], Binaries.worker.path, "--connect", "10.77.\(index + 1).1:\(port)",
                    "--prefetch", "500", "--heartbeat-interval", "0.5",
                ],
                environment: ["TASK_AUTHKEY": key],
                name: "worker \(index + 1)"
            )
        }
        // Worker 1 works alone at first, so it surely takes tasks; worker 2 joins once worker 1
        // is frozen holding some.
        var workerProcesses = [try startWorker(0)]
        defer { for worker in workerProcesses { worker.kill9() } }
        func ctl(_ arguments: [String]) throws -> ManagedProcess {
            try ManagedProcess(
                URL(fileURLWithPath: ip),
                ["netns", "exec", master, Binaries.ctl.path] + arguments,
                environment: ["TASK_AUTHKEY": key, "TASK_MASTER_ADDRESS": "127.0.0.1:\(port)"],
                name: "task-ctl"
            )
        }
        var connected = 0
        for _ in 0..<100 where connected < 1 {
            let stats = try ctl(["stats", "--json"])
            _ = await stats.waitForExit(within: .seconds(10))
            connected = stats.stdoutLines.joined().components(separatedBy: "task-worker").count - 1
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(connected == 1)

        let count = 20000
        // Worker 1 is frozen while idle, its blocking get waiting at the master, before the batch
        // starts: the master serves that get while it is frozen. (Should the get run out first,
        // the queue fills meanwhile and the lone worker holds tasks nearly all the time once
        // thawed: the next freezes catch it.) Then worker 2 starts, worker 1's cable is cut, and
        // worker 1 runs on. No FIN, no RST reaches the master, which only learns from the lease
        // timeout.
        try await workerProcesses[0].freeze()
        let batch = try ctl(["batch", "--count", "\(count)", "--json", "--timeout", "120"])
        func taskStats() async throws -> [String: Any] {
            let stats = try ctl(["stats", "--json"])
            _ = await stats.waitForExit(within: .seconds(10))
            let json = try? JSONSerialization.jsonObject(with: Data(stats.stdoutLines.joined().utf8))
            return json as? [String: Any] ?? [:]
        }
        let cutName = "task-worker \(workerProcesses[0].processIdentifier)@"
        let held = try await workerProcesses[0].freezeHoldingTasks {
            let clients = try await taskStats()["clients"] as? [[String: Any]] ?? []
            return clients.first { ($0["name"] as? String)?.hasPrefix(cutName) == true }?["leased"] as? Int ?? 0
        }
        #expect(held > 0, "worker 1 never held a task:\n\(workerProcesses[0].transcript)")
        workerProcesses.append(try startWorker(1))
        #expect(Namespaces.run([ip, "-n", workers[0], "link", "set", "tmv0w\(tag)", "down"]))
        workerProcesses[0].thaw()

        guard let status = await batch.waitForExit(within: .seconds(150)) else {
            batch.kill9()
            Issue.record("the batch did not finish:\n\(batch.transcript)")
            return
        }
        #expect(status == 0, "\(batch.transcript)")
        let summary = try BatchSummary(stdout: batch.stdoutLines)
        #expect(summary.completed == count && summary.wrong == 0 && summary.missing == 0)
        let stats = try ctl(["stats", "--json"])
        _ = await stats.waitForExit(within: .seconds(10))
        let json = try JSONSerialization.jsonObject(with: Data(stats.stdoutLines.joined().utf8)) as? [String: Any]
        let queues = json?["queues"] as? [[String: Any]] ?? []
        let redelivered = queues.first { $0["name"] as? String == "task" }?["total_redelivered"] as? Int ?? 0
        #expect(redelivered > 0, "the cut worker held nothing: the test proved nothing")
    }
}
