import Synchronization

/// Wakes one waiting loop (a lane, the timer): whoever has work for it signals; a signal that
/// comes while nobody waits is kept for the next wait.
final class Signal: Sendable {
    private struct State {
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
        var waiterCancelled = false
    }

    private let state = Mutex(State())

    func signal() {
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

    /// Returns at the next signal (at once for one that came meanwhile), after `limit` on
    /// `clock`, or when the calling task is cancelled.
    func wait(upTo limit: Duration, clock: any Clock<Duration>) async {
        if state.withLock({ state in
            defer { state.signalled = false }
            return state.signalled
        }) {
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await clock.sleep(for: limit) }
            group.addTask { await self.signalled() }
            await group.next()
            group.cancelAll()
        }
    }

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
            let waiter = state.withLock { state in
                guard let waiter = state.waiter else {
                    state.waiterCancelled = true
                    return nil as CheckedContinuation<Void, Never>?
                }
                state.waiter = nil
                return waiter
            }
            waiter?.resume()
        }
    }
}
