import Foundation

extension ManagedProcess {
    /// Freezes the process (SIGSTOP) at a moment it holds leased tasks and returns how many,
    /// as `held` reports them from the master; 0 if it never did within `attempts`.
    ///
    /// A worker's gets that reached the master before the stop are still served while it is
    /// frozen, so each attempt waits a little for them before thawing and trying again. A
    /// fault test that freezes this way knows its victim dies or is cut off with work in hand.
    public func freezeHoldingTasks(attempts: Int = 30, held: () async throws -> Int) async throws -> Int {
        for _ in 0..<attempts {
            signal(SIGSTOP)
            for _ in 0..<20 {
                let count = try await held()
                if count > 0 { return count }
                try await Task.sleep(for: .milliseconds(50))
            }
            signal(SIGCONT)
            try await Task.sleep(for: .milliseconds(30))
        }
        return 0
    }
}
