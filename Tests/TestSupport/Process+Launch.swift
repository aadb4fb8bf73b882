import Foundation
import Synchronization

/// One launch at a time in the test process.
private let launches = Mutex(())

extension Process {
    /// `run()`, serialized: Foundation's `Process.run()` on Linux once crashed (a bad pointer
    /// in the memmove of its launch) while many tests launched processes at the same moment.
    public func runSerialized() throws {
        try launches.withLock { _ in try run() }
    }
}
