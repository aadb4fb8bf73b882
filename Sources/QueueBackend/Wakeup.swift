import Synchronization

/// Wakes one waiting task: a background loop (a backend's wait timer, the store writer, a
/// PostgreSQL lane) waits on it with a time limit, and whoever has new work for it signals.
///
/// A signal that comes while nobody waits is kept for the next wait.
public final class Wakeup: Sendable {
    private struct State {
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
        var waiterCancelled = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes the waiter, or the next one to wait.
    public func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.signalled = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once for one that came meanwhile), once `limit` has
    /// passed on `clock`, or when the calling task is cancelled. One waiter at a time.
    public func wait(upTo limit: Duration?, clock: any Clock<Duration>) async {
        if state.withLock({ state in
            defer { state.signalled = false }
            return state.signalled
        }) {
            return
        }
        guard let limit else {
            await signalled()
            return
        }
        guard limit > .zero else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(for: limit) }
            group.addTask { await self.signalled() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Returns at the next signal, or when the calling task is cancelled.
    private func signalled() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.signalled || state.waiterCancelled {
                        state.signalled = false
                        state.waiterCancelled = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
                guard let waiter = state.waiter else {
                    state.waiterCancelled = true
                    return nil
                }
                state.waiter = nil
                return waiter
            }
            waiter?.resume()
        }
    }
}
