import Foundation

/// A CPython interpreter of a given version on this machine, for interop tests: find one,
/// run a script with given stdin and arguments, get its exit status and output, and never
/// wait longer than a hard timeout (the process is killed then).
///
/// ```swift
/// let python = try PythonInterpreter.require("3.13")
/// let run = try await python.run(script: "import sys; print(sys.version)", timeout: .seconds(30))
/// ```
public struct PythonInterpreter: Hashable, Sendable, CustomStringConvertible {
    /// The version asked for, e.g. "3.11".
    public let version: String
    /// The interpreter binary.
    public let executable: URL

    /// An interpreter at a known path.
    public init(version: String, executable: URL) {
        self.version = version
        self.executable = executable
    }

    public var description: String { "python\(version) (\(executable.path))" }

    /// Why a run could not give a result.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    // MARK: Finding

    /// `python<version>` (version like "3.11"): pyenv's own binary under `$PYENV_ROOT` or
    /// `~/.pyenv/versions/<version>*/bin` first, newest patch release first, then the first
    /// one on `PATH` that is not a pyenv shim (a shim runs only the versions pyenv enables).
    public static func find(_ version: String) -> PythonInterpreter? {
        let fileManager = FileManager.default
        let environment = ProcessInfo.processInfo.environment
        let binary = "python\(version)"
        let pyenvRoot = environment["PYENV_ROOT"] ?? (fileManager.homeDirectoryForCurrentUser.path + "/.pyenv")
        let versions = URL(fileURLWithPath: pyenvRoot).appendingPathComponent("versions")
        let installed = ((try? fileManager.contentsOfDirectory(atPath: versions.path)) ?? [])
            .filter { $0 == version || $0.hasPrefix(version + ".") }
            .sorted { $0.compare($1, options: .numeric) == .orderedDescending }
        for name in installed {
            let candidate = versions.appendingPathComponent(name).appendingPathComponent("bin").appendingPathComponent(
                binary
            )
            if fileManager.isExecutableFile(atPath: candidate.path) {
                return PythonInterpreter(version: version, executable: candidate)
            }
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") where !directory.hasSuffix("/shims") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(binary)
            if fileManager.isExecutableFile(atPath: candidate.path) {
                return PythonInterpreter(version: version, executable: candidate)
            }
        }
        return nil
    }

    /// The interpreter for `version`, or a failure saying it is missing.
    public static func require(_ version: String) throws -> PythonInterpreter {
        guard let python = find(version) else {
            throw Failure(
                "python\(version) was not found (looked in ~/.pyenv/versions/\(version)*/bin and on PATH); "
                    + "install it, e.g. `pyenv install \(version)`: this test needs it"
            )
        }
        return python
    }

    // MARK: Running

    /// What a finished run left.
    public struct Run: Sendable {
        /// The exit status (for a process ended by a signal, the signal number).
        public var status: Int32
        /// Everything written to stdout.
        public var stdout: Data
        /// Everything written to stderr.
        public var stderr: Data

        /// stdout as UTF-8 text.
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        /// stderr as UTF-8 text.
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        /// stdout split into lines (without the newlines).
        public var stdoutLines: [String] {
            stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropLastIfEmpty()
        }
    }

    /// Runs `script` (Python source) with `arguments` (as `sys.argv[1:]`) and `stdin`, and
    /// returns its status and output once it exits.
    ///
    /// Output goes to files rather than pipes, so a chatty script never blocks on a full pipe.
    /// `environment` is added to this process's own; `PYTHONHASHSEED=0` makes set order and
    /// hashes repeatable unless the caller says otherwise.
    ///
    /// - Throws: ``Failure`` if the process can't start, or if it still runs after `timeout`
    ///   (it is killed with SIGKILL first; the failure holds what it had printed).
    public func run(
        script: String,
        arguments: [String] = [],
        stdin: Data = Data(),
        environment: [String: String] = [:],
        timeout: Duration = .seconds(120)
    ) async throws -> Run {
        let fileManager = FileManager.default
        let directory = fileManager.temporaryDirectory.appendingPathComponent("python-run-\(UUID().uuidString)")
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: directory) }
        let scriptURL = directory.appendingPathComponent("script.py")
        let stdinURL = directory.appendingPathComponent("stdin")
        let stdoutURL = directory.appendingPathComponent("stdout")
        let stderrURL = directory.appendingPathComponent("stderr")
        try Data(script.utf8).write(to: scriptURL)
        try stdin.write(to: stdinURL)
        try Data().write(to: stdoutURL)
        try Data().write(to: stderrURL)

        let input = try FileHandle(forReadingFrom: stdinURL)
        let output = try FileHandle(forWritingTo: stdoutURL)
        let errors = try FileHandle(forWritingTo: stderrURL)
        defer {
            try? input.close()
            try? output.close()
            try? errors.close()
        }

        let process = Process()
        process.executableURL = executable
        process.arguments = [scriptURL.path] + arguments
        var merged = ProcessInfo.processInfo.environment
        merged["PYTHONHASHSEED"] = "0"
        merged["PYTHONDONTWRITEBYTECODE"] = "1"
        merged["PYTHONIOENCODING"] = "utf-8"
        merged.merge(environment) { $1 }
        process.environment = merged
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw Failure("\(self) could not start: \(error)")
        }

        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var killed = false
        while process.isRunning {
            if !killed, clock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                killed = true
            }
            // A killed process is reaped at once; the cap only guards against a stuck wait.
            if killed, clock.now >= deadline.advanced(by: .seconds(10)) { break }
            try? await Task.sleep(for: .milliseconds(5))
        }
        let stdoutData = (try? Data(contentsOf: stdoutURL)) ?? Data()
        let stderrData = (try? Data(contentsOf: stderrURL)) ?? Data()
        if killed {
            throw Failure(
                "\(self) was still running after \(timeout) and was killed.\n--- stdout (end):\n"
                    + String(decoding: stdoutData.suffix(2000), as: UTF8.self) + "\n--- stderr (end):\n"
                    + String(decoding: stderrData.suffix(4000), as: UTF8.self)
            )
        }
        return Run(status: process.terminationStatus, stdout: stdoutData, stderr: stderrData)
    }
}

extension PythonInterpreter {
    /// Starts `script` in the background (a long-running peer, such as a manager server or a
    /// worker) and returns the running process; the caller bounds every wait on it.
    public func start(
        script: String,
        arguments: [String] = [],
        environment: [String: String] = [:],
        name: String? = nil
    ) throws -> ManagedProcess {
        let base = [
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1",
        ]
        return try ManagedProcess(
            executable,
            ["-c", script] + arguments,
            environment: base.merging(environment) { $1 },
            name: name ?? "python\(version)"
        )
    }
}

extension Array where Element == String {
    fileprivate func dropLastIfEmpty() -> [String] {
        last == "" ? Array(dropLast()) : self
    }
}
