import Synchronization

/// What the worker's lanes share: counters, when work was last seen, and whether to stop.
final class WorkerProgress: Sendable {
    private struct State {
        var done = 0
        var failed = 0
        var lastWork: ContinuousClock.Instant = .now
        var stopping = false
        var stopReason = ""
    }

    private let state = Mutex(State())
    private let idleLimit: Duration?

    init(idleLimit: Duration?) {
        self.idleLimit = idleLimit
    }

    var isStopping: Bool { state.withLock { $0.stopping } }
    var counts: (done: Int, failed: Int) { state.withLock { ($0.done, $0.failed) } }
    var stopReason: String { state.withLock { $0.stopReason } }

    func stop(_ reason: String) {
        state.withLock { state in
            if !state.stopping {
                state.stopping = true
                state.stopReason = reason
            }
        }
    }

    func record(done: Int, failed: Int) {
        state.withLock { state in
            state.done += done
            state.failed += failed
            state.lastWork = .now
        }
    }

    /// Restarts the idle clock, e.g. after reconnecting.
    func resetIdleClock() {
        state.withLock { $0.lastWork = .now }
    }

    /// How long the next get may wait: short enough to notice shutdown and idleness promptly.
    func nextWait() -> Duration {
        let cap = Duration.seconds(1)
        guard let idleLimit else { return cap }
        let idle = state.withLock { ContinuousClock.now - $0.lastWork }
        return max(.milliseconds(10), min(cap, idleLimit - idle))
    }

    /// After an empty get: stops the worker if the queue has been empty for the idle limit.
    func checkIdle() {
        guard let idleLimit else { return }
        let idle = state.withLock { ContinuousClock.now - $0.lastWork }
        if idle >= idleLimit {
            stop("the task queue stayed empty for \(idleLimit)")
        }
    }
}
