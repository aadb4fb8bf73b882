import Foundation
import Synchronization

/// What a running process holds, read from `/proc/<pid>`: resident memory, open file
/// descriptors, threads. For tests that check a daemon gives back what a load took.
public struct ProcessGauge: Sendable {
    public let pid: Int32

    public init(pid: Int32) {
        self.pid = pid
    }

    /// Resident memory (`VmRSS`), bytes; nil once the process is gone.
    public var residentBytes: Int? { statusField("VmRSS").map { $0 * 1024 } }

    /// Peak resident memory (`VmHWM`), bytes.
    public var peakResidentBytes: Int? { statusField("VmHWM").map { $0 * 1024 } }

    /// Threads (`/proc/<pid>/task` entries).
    public var threads: Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task"))?.count
    }

    /// Open file descriptors (`/proc/<pid>/fd` entries).
    public var openFileDescriptors: Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// A `kB` line of `/proc/<pid>/status`, in kB.
    private func statusField(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }
}

/// Samples a process's resident memory every `interval` on a thread of its own until stopped,
/// keeping the highest value seen: what a short peak reached, between a test's own looks.
public final class PeakMemorySampler: Sendable {
    private final class State: Sendable {
        let peak = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
    }

    private let state = State()

    public init(_ gauge: ProcessGauge, every interval: Duration = .milliseconds(20)) {
        let state = self.state
        let micros = UInt32(
            interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000
        )
        let thread = Thread {
            while !state.stopped.load(ordering: .relaxed) {
                if let rss = gauge.residentBytes { _ = state.peak.max(rss, ordering: .relaxed) }
                usleep(micros)
            }
            state.done.signal()
        }
        thread.start()
    }

    /// The highest resident memory seen so far, bytes.
    public var peakBytes: Int { state.peak.load(ordering: .relaxed) }

    /// Stops sampling (waits at most a second for the thread) and returns the peak.
    @discardableResult
    public func stop() -> Int {
        if !state.stopped.exchange(true, ordering: .relaxed) { _ = state.done.wait(timeout: .now() + 1) }
        return peakBytes
    }

    deinit { state.stopped.store(true, ordering: .relaxed) }
}

/// Megabytes (10⁶ bytes) with one decimal, for messages.
public func megabytes(_ bytes: Int) -> String {
    String(format: "%.1f MB", Double(bytes) / 1e6)
}
