import Foundation

/// The Python interpreters installed on the machine (through pyenv), for interop tests.
public enum Python {
    /// The versions the interop tests run against.
    public static let testedVersions = ["3.11", "3.12", "3.13"]

    /// The interpreter for `version` (e.g. "3.12"): pyenv's real binary if there is one
    /// (a pyenv shim only runs the global version), else `pythonX.Y` on PATH.
    public static func interpreter(_ version: String) -> URL? {
        let environment = ProcessInfo.processInfo.environment
        let root = environment["PYENV_ROOT"] ?? (NSHomeDirectory() + "/.pyenv")
        let versionsDir = URL(fileURLWithPath: root).appendingPathComponent("versions")
        let candidates = ((try? FileManager.default.contentsOfDirectory(atPath: versionsDir.path)) ?? [])
            .filter { $0 == version || $0.hasPrefix(version + ".") }
            .sorted()
            .reversed()
            .map { versionsDir.appendingPathComponent($0).appendingPathComponent("bin/python\(version)") }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        for dir in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("python\(version)")
            if FileManager.default.isExecutableFile(atPath: candidate.path), !candidate.path.contains("/shims/") {
                return candidate
            }
        }
        return nil
    }

    /// The interpreter for `version`, or a failure saying how to install it.
    public static func require(_ version: String) throws -> URL {
        guard let url = interpreter(version) else {
            throw TestFailure("python\(version) is not installed (pyenv install \(version)); the interop tests need it")
        }
        return url
    }

    /// Runs `script` (source text) with `arguments`, feeding `stdin`; returns the exit status
    /// and output once it ends, killing it after `limit`.
    public static func run(
        _ version: String, script: String, arguments: [String] = [], stdin: Data? = nil,
        environment: [String: String] = [:], within limit: Duration = .seconds(60)
    ) async throws -> (status: Int32, stdout: [String], stderr: [String]) {
        let process = try start(version, script: script, arguments: arguments, stdin: stdin, environment: environment)
        guard let status = await process.waitForExit(within: limit) else {
            process.kill9()
            throw TestFailure("python\(version) did not finish within \(limit):\n\(process.transcript)")
        }
        return (status, process.stdoutLines, process.stderrLines)
    }

    /// Starts `script` with `arguments` and returns the running process.
    public static func start(
        _ version: String, script: String, arguments: [String] = [], stdin: Data? = nil,
        environment: [String: String] = [:], name: String? = nil
    ) throws -> ManagedProcess {
        let python = try require(version)
        return try ManagedProcess(
            python, ["-u", "-c", script] + arguments, environment: environment.merging(["PYTHONHASHSEED": "0"]) { a, _ in a },
            name: name ?? "python\(version)", stdin: stdin)
    }
}
