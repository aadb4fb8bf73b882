import Foundation
import SquaringJobs
import Synchronization

/// The batch's progress on stderr: a redrawn bar on a terminal, a plain line every few
/// seconds otherwise.
final class ProgressDisplay: Sendable {
    private struct State {
        var lastDrawn: ContinuousClock.Instant?
        var drewBar = false
    }

    private let state = Mutex(State())
    private let enabled: Bool
    private let isTerminal: Bool

    init(enabled: Bool) {
        self.enabled = enabled
        self.isTerminal = isatty(STDERR_FILENO) == 1
    }

    func update(_ progress: SquaringBatch.Progress) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let interval: Duration = isTerminal ? .milliseconds(100) : .seconds(5)
        let due = state.withLock { state in
            let due = state.lastDrawn.map { now - $0 >= interval } ?? true
            if due {
                state.lastDrawn = now
                state.drewBar = isTerminal
            }
            return due
        }
        guard due || progress.answered == progress.total else { return }
        let seconds = max(
            0.001,
            Double(progress.elapsed.components.seconds) + Double(progress.elapsed.components.attoseconds) / 1e18
        )
        let rate = Double(progress.answered) / seconds
        let fraction = progress.total > 0 ? Double(progress.answered) / Double(progress.total) : 1
        let eta = rate > 0 ? Double(progress.total - progress.answered) / rate : 0
        let numbers =
            "\(progress.answered)/\(progress.total) \(String(format: "%3.0f", fraction * 100))%  \(Int(rate)) tasks/s  ETA \(String(format: "%.1f", eta))s"
        if isTerminal {
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(numbers)".utf8))
        } else {
            FileHandle.standardError.write(Data("progress: \(numbers)\n".utf8))
        }
    }

    /// Clears a drawn bar from its line, so that a message can stand there; the next update
    /// draws it again below the message.
    func interrupt() {
        guard enabled, isTerminal, state.withLock({ $0.drewBar }) else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    func finish() {
        if state.withLock({ $0.drewBar }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
