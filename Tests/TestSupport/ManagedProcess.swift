import Foundation
import Synchronization

/// A child process for integration tests: output captured line by line, every wait bounded,
/// and killed when the test lets go of it.
public final class ManagedProcess: Sendable {
    private struct Output {
        var stdout: [String] = []
        var stderr: [String] = []
        var partialOut = Data()
        var partialErr = Data()
        /// Pipes read to their end (0, 1 or 2).
        var pipesAtEnd = 0
    }

    /// Owns the captured output, so the pipe handlers can hold it without holding the process.
    private final class OutputBox: Sendable {
        let state = Mutex(Output())
    }

    private let process: Process
    private let box = OutputBox()
    /// A short name for messages.
    public let name: String

    /// Starts `executable` with `arguments`; `environment` is added to this process's own,
    /// without the variables named in `unset`.
    public init(
        _ executable: URL,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        unset: [String] = [],
        name: String? = nil,
        stdin: Data? = nil
    ) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for name in unset { merged[name] = nil }
        process.environment = merged
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        self.process = process
        self.name = name ?? executable.lastPathComponent
        Self.drain(out.fileHandleForReading) { [box] data in
            box.state.withLock {
                Self.split(data, into: &$0.stdout, partial: &$0.partialOut)
                if data.isEmpty { $0.pipesAtEnd += 1 }
            }
        }
        Self.drain(err.fileHandleForReading) { [box] data in
            box.state.withLock {
                Self.split(data, into: &$0.stderr, partial: &$0.partialErr)
                if data.isEmpty { $0.pipesAtEnd += 1 }
            }
        }
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
    }

    /// Reads `handle` on a thread of its own until end of file, handing each chunk (and the
    /// empty one at the end) to `sink`, then closes it.
    ///
    /// Not `readabilityHandler`: a handler holds its handle and the handle its handler, so
    /// the pipe is never closed unless the handler is cleared, and clearing it races with
    /// dispatch. Leaked pipes (a test run launches hundreds of processes) made Foundation's
    /// `Process.run()` crash reading a `/proc/self/fd` listing over a thousand entries long.
    private static func drain(_ handle: FileHandle, _ sink: @escaping @Sendable (Data) -> Void) {
        let thread = Thread {
            while true {
                let data = handle.availableData
                sink(data)
                if data.isEmpty { break }
            }
            try? handle.close()
        }
        thread.start()
    }

    private static func split(_ data: Data, into lines: inout [String], partial: inout Data) {
        guard !data.isEmpty else {
            if !partial.isEmpty {
                lines.append(String(decoding: partial, as: UTF8.self))
                partial = Data()
            }
            return
        }
        partial.append(data)
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
            partial = Data(partial[partial.index(after: newline)...])
        }
    }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// The exit status once the process exited by itself; nil while it runs or if a signal
    /// ended it.
    public var exitStatus: Int32? {
        guard !process.isRunning, process.terminationReason == .exit else { return nil }
        return process.terminationStatus
    }

    /// Whether a signal ended the process.
    public var endedBySignal: Bool { !process.isRunning && process.terminationReason == .uncaughtSignal }
    public var stdoutLines: [String] { box.state.withLock { $0.stdout } }
    public var stderrLines: [String] { box.state.withLock { $0.stderr } }

    /// Everything printed so far, for failure messages.
    public var transcript: String {
        box.state.withLock {
            "--- \(name) stdout:\n" + $0.stdout.joined(separator: "\n") + "\n--- \(name) stderr:\n"
                + $0.stderr.joined(separator: "\n")
        }
    }

    /// Waits until a stdout line satisfies `predicate`; returns it, or nil after `limit`.
    public func waitForLine(
        within limit: Duration = .seconds(30),
        stream: KeyPath<ManagedProcess, [String]> = \.stdoutLines,
        where predicate: (String) -> Bool
    ) async -> String? {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while ContinuousClock.now < deadline {
            if let line = self[keyPath: stream].first(where: predicate) { return line }
            if !isRunning {
                try? await Task.sleep(for: .milliseconds(50))  // let the last output arrive
                return self[keyPath: stream].first(where: predicate)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// Sends a signal (SIGTERM by default).
    public func signal(_ signal: Int32 = SIGTERM) {
        guard isRunning else { return }
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit; returns its status, or nil if it was still running
    /// after `limit`.
    @discardableResult
    public func waitForExit(within limit: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        // The last lines: read both pipes to their end (bounded: a child of the process may
        // hold them open), however busy the machine is.
        let drained = ContinuousClock.now.advanced(by: .seconds(5))
        while box.state.withLock({ $0.pipesAtEnd < 2 }), ContinuousClock.now < drained {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }

    /// Kills the process if it still runs.
    public func kill9() {
        signal(SIGKILL)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
