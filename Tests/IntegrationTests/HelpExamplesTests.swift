import Foundation
import TestSupport
import Testing

/// Every example that `task-master`, `task-worker`, `task-ctl` and each task-ctl command print
/// in `--help` runs, as printed, against live masters: addresses, ports and the files it names
/// (`/etc/taskmaster/…`) are swapped for real ones, and the authkey comes from the environment.
@Suite(.serialized) struct HelpExamplesTests {
    /// A program's `--help`, bounded.
    private func help(_ arguments: [String], of binary: URL) async throws -> String {
        let process = try ManagedProcess(binary, arguments + ["--help"], name: binary.lastPathComponent)
        guard await process.waitForExit(within: .seconds(20)) == 0 else {
            process.kill9()
            throw TestFailure("\(binary.lastPathComponent) \(arguments) --help failed:\n\(process.transcript)")
        }
        return process.stdoutLines.joined(separator: "\n")
    }

    /// The subcommands a root help lists under SUBCOMMANDS.
    private func subcommands(in help: String) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("SUBCOMMANDS:") }) else { return [] }
        return lines[(start + 1)...].prefix { !$0.isEmpty }.compactMap { line in
            // "  batch                   Put N numbers, …": a name at two spaces' indent.
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
            return line.split(separator: " ").first.map(String.init)
        }
    }

    /// Every example of every help, with where it came from.
    private func allExamples() async throws -> [HelpExample] {
        var examples: [HelpExample] = []
        for (binary, name) in [(Binaries.master, "task-master"), (Binaries.worker, "task-worker")] {
            examples += HelpExample.all(inHelp: try await help([], of: binary), source: "\(name) --help")
        }
        let root = try await help([], of: Binaries.ctl)
        examples += HelpExample.all(inHelp: root, source: "task-ctl --help")
        let commands = subcommands(in: root)
        #expect(commands.count >= 9, "task-ctl's help lists \(commands)")
        for command in commands {
            examples += HelpExample.all(
                inHelp: try await help([command], of: Binaries.ctl),
                source: "task-ctl \(command) --help"
            )
        }
        return examples
    }

    /// Real stand-ins for what the examples name.
    private struct Stage {
        var master: MasterProcess
        var second: MasterProcess
        var directory: URL
        var replacements: [(String, String)]
        var environment: [String: String]
    }

    private func stage() async throws -> Stage {
        let key = "examples-\(UInt64.random(in: 0...UInt64.max))"
        let master = try await MasterProcess.start(authKey: key)
        let second = try await MasterProcess.start(authKey: key)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tm-examples-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let authkey = directory.appendingPathComponent("authkey").path
        try Data((key + "\n").utf8).write(to: URL(fileURLWithPath: authkey))
        chmod(authkey, 0o600)
        // The example configs, made to run here: loopback, any free port, a temporary data dir.
        func config(_ name: String, _ changes: [String: Any]) throws -> String {
            let example = Fixtures.repositoryRoot.appendingPathComponent("Config/\(name).example.json")
            var object = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: example)) as? [String: Any]
            )
            for (key, value) in changes { object[key] = value }
            let path = directory.appendingPathComponent("\(name).json").path
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
            return path
        }
        let masterConfig = try config(
            "master",
            [
                "host": "127.0.0.1", "port": 0, "admin_port": 0, "authkey_file": authkey,
                "data_dir": directory.appendingPathComponent("data").path,
            ]
        )
        let workerConfig = try config("worker", ["connect": master.address, "authkey_file": authkey])
        return Stage(
            master: master,
            second: second,
            directory: directory,
            replacements: [
                ("10.0.0.5:5000", master.address), ("10.0.0.6:5000", second.address),
                ("/etc/taskmaster/authkey", authkey), ("/etc/taskmaster/master.json", masterConfig),
                ("/etc/taskmaster/worker.json", workerConfig), ("--port 5000", "--port \(try freeLoopbackPort())"),
            ],
            environment: [
                "TASK_AUTHKEY": key, "TASK_MASTER_ADDRESS": master.address,
                "PATH": Binaries.directory.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
                ,
            ]
        )
    }

    /// Whether the example runs until it is stopped, and the line that shows it is up.
    private func daemon(_ command: [String]) -> (stream: KeyPath<ManagedProcess, [String]>, ready: String)? {
        switch command.first {
        case "task-master": return (\.stdoutLines, "task-master listening on")
        case "task-worker" where !command.contains("--exit-when-idle"):
            return (\.stderrLines, "connected to the master")
        case "task-ctl" where command.contains("watch") && !command.contains("--count"): return (\.stdoutLines, "QUEUE")
        default: return nil
        }
    }

    /// Runs one example; returns what went wrong, or nil.
    private func run(_ example: HelpExample, on stage: Stage) async throws -> String? {
        var text = example.text
        for (from, to) in stage.replacements { text = text.replacingOccurrences(of: from, with: to) }
        if text.contains("/etc/") || text.contains("10.0.0.") {
            return "it names a host or file this test has no stand-in for: \(text)"
        }
        let runnable = HelpExample(text: text, source: example.source)
        let (words, isPipeline) = runnable.words
        let command = runnable.command
        guard let program = command.first, ["task-master", "task-worker", "task-ctl"].contains(program) else {
            return "it does not start with task-master, task-worker or task-ctl (a wrapped line?)"
        }
        let process: ManagedProcess
        if isPipeline {
            process = try ManagedProcess(
                URL(fileURLWithPath: "/bin/bash"),
                ["-o", "pipefail", "-c", text],
                environment: stage.environment,
                name: text
            )
        } else {
            process = try ManagedProcess(
                Binaries.directory.appendingPathComponent(program),
                Array(command.dropFirst()),
                environment: stage.environment.merging(runnable.assignments) { $1 },
                name: words.joined(separator: " ")
            )
        }
        defer { process.kill9() }
        if let (stream, ready) = daemon(command) {
            guard await process.waitForLine(within: .seconds(30), stream: stream, where: { $0.contains(ready) }) != nil
            else { return "it never showed \"\(ready)\":\n\(process.transcript)" }
            try await Task.sleep(for: .milliseconds(200))
            guard process.isRunning else { return "it stopped by itself:\n\(process.transcript)" }
            process.signal(SIGTERM)
            let status = await process.waitForExit(within: .seconds(20))
            // watch has no SIGTERM handler: the signal ends it, and that is all it needs to do.
            if program != "task-ctl", status != 0 {
                return
                    "it did not stop cleanly on SIGTERM (status \(status.map(String.init) ?? "none")):\n\(process.transcript)"
            }
            return nil
        }
        guard let status = await process.waitForExit(within: .seconds(120)) else {
            return "it did not finish within 120 s:\n\(process.transcript)"
        }
        return status == 0 ? nil : "it exited \(status):\n\(process.transcript)"
    }

    @Test func everyExampleInEveryHelpRunsAgainstALiveMaster() async throws {
        let examples = try await allExamples()
        // Each program shows examples, task-ctl's commands too.
        for source in ["task-master --help", "task-worker --help", "task-ctl --help", "task-ctl batch --help"] {
            #expect(examples.contains { $0.source == source }, "no examples in \(source)")
        }
        #expect(examples.count >= 25, "\(examples)")

        let stage = try await stage()
        defer { try? FileManager.default.removeItem(at: stage.directory) }
        let worker = try stage.master.startWorker(name: "worker")
        defer { worker.kill9() }
        // Results to take for the `get` examples: squares of numbers put now.
        let seeded = try await stage.master.ctl(["put", "task"] + (1...50).map(String.init))
        #expect(seeded.status == 0, "\(seeded.stderr)")
        var results = 0
        for _ in 0..<100 where results < 50 {
            results = try await stage.master.stats().queue("result")?.depth ?? 0
            if results < 50 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(results >= 50, "the worker squared \(results) of 50 numbers")

        // jq, for task-ctl stats' example: a prerequisite (scripts/setup-system installs it).
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let hasJQ = path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/jq") }
        for example in examples {
            if example.text.contains("| jq"), !hasJQ {
                try Prerequisite.require(!Prerequisite.isCI, "jq (apt-get install jq), for the example \(example)")
                continue
            }
            if let problem = try await run(example, on: stage) {
                Issue.record("the example \(example) fails: \(problem)")
            }
        }
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(20)) == 0)
        await stage.master.stop()
        await stage.second.stop()
    }

    @Test func examplesAreFoundAsPrintedWithoutTheirComments() {
        let help = """
            OVERVIEW: Something.

            Examples:
              task-ctl get result                      # one item, at once
              task-ctl put notes "a # in quotes" 42 --string
              X_Y=1 task-ctl stats --json | jq '.queues'

            Example: task-ctl ping --connect 10.0.0.5:5000
            Prose that mentions task-ctl ping is no example.
            """
        let examples = HelpExample.all(inHelp: help, source: "test")
        #expect(
            examples.map(\.text) == [
                "task-ctl get result", "task-ctl put notes \"a # in quotes\" 42 --string",
                "X_Y=1 task-ctl stats --json | jq '.queues'", "task-ctl ping --connect 10.0.0.5:5000",
            ]
        )
        #expect(examples[1].command == ["task-ctl", "put", "notes", "a # in quotes", "42", "--string"])
        #expect(examples[2].assignments == ["X_Y": "1"] && examples[2].words.isPipeline)
        #expect(examples[2].command.first == "task-ctl" && !examples[0].words.isPipeline)
    }
}
