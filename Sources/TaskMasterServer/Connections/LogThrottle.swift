import Synchronization

/// Lets a warning that can repeat once per connection be logged once per interval per kind,
/// with a count of those left out since, so that a flood of bad connections makes a few lines,
/// not megabytes.
final class LogThrottle: Sendable {
    private struct Entry {
        var lastLogged: ContinuousClock.Instant
        var suppressed: Int
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let interval: Duration

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// Whether to log a warning of kind `key` now, and how many of that kind were left out
    /// since the last one logged.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> (log: Bool, suppressed: Int) {
        entries.withLock { entries in
            if var entry = entries[key], now - entry.lastLogged < interval {
                entry.suppressed += 1
                entries[key] = entry
                return (false, 0)
            }
            let suppressed = entries[key]?.suppressed ?? 0
            if entries.count > 1000 { entries.removeAll() }  // kinds are few; never let them grow
            entries[key] = Entry(lastLogged: now, suppressed: 0)
            return (true, suppressed)
        }
    }
}
