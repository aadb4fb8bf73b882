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
            try await freeze()
            for _ in 0..<20 {
                let count = try await held()
                if count > 0 { return count }
                try await Task.sleep(for: .milliseconds(50))
            }
            thaw()
            try await Task.sleep(for: .milliseconds(30))
        }
        return 0
    }

    /// Sends SIGSTOP and waits until the kernel shows the process stopped.
    public func freeze() async throws {
        kill(processIdentifier, SIGSTOP)
        for _ in 0..<200 {
            if schedulerState == "T" || schedulerState == "t" { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("\(name) (pid \(processIdentifier)) did not stop: state \(schedulerState ?? "gone")")
    }

    /// Sends SIGCONT (whatever Foundation believes of the process's state).
    public func thaw() {
        kill(processIdentifier, SIGCONT)
    }

    /// The state letter of `/proc/<pid>/stat` (R, S, T, Z, …), nil once the process is gone.
    public var schedulerState: String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
    }
}
