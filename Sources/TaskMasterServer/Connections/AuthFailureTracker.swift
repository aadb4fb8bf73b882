import Synchronization

/// Counts failed handshakes per peer address and decides when to log them, so that a peer
/// hammering the port with a wrong key produces a few warnings, not a flood.
final class AuthFailureTracker: Sendable {
    struct Verdict: Equatable {
        /// Failures from this address so far.
        var fromAddress: Int
        /// Failures from every address so far.
        var total: Int
        /// Whether to log this one.
        var shouldLog: Bool
        /// Failures from this address not logged since the last warning.
        var suppressed: Int
    }

    private struct Record {
        var count = 0
        /// Failures not paid off by a successful handshake from the address since.
        var unpaid = 0
        var lastLogged: ContinuousClock.Instant?
        var lastFailure: ContinuousClock.Instant?
        var suppressed = 0
        /// When the next challenge to this address may go out.
        var nextChallenge: ContinuousClock.Instant?
    }

    private struct State {
        var records: [String: Record] = [:]
        var total = 0
    }

    private let state = Mutex(State())
    private let interval: Duration
    private let maxTrackedAddresses: Int

    /// - Parameters:
    ///   - interval: at most one warning per address per interval.
    ///   - maxTrackedAddresses: addresses remembered; past that the table starts over, so
    ///     spoofed sources can't grow it without bound.
    init(interval: Duration = .seconds(10), maxTrackedAddresses: Int = 10_000) {
        self.interval = interval
        self.maxTrackedAddresses = maxTrackedAddresses
    }

    /// Records a failure from `host` at `now`.
    func record(host: String, now: ContinuousClock.Instant = .now) -> Verdict {
        state.withLock { state in
            state.total += 1
            if state.records[host] == nil, state.records.count >= maxTrackedAddresses {
                state.records.removeAll(keepingCapacity: true)
            }
            var record = state.records[host, default: Record()]
            record.count += 1
            record.unpaid += 1
            record.lastFailure = now
            let due = record.lastLogged.map { now - $0 >= interval } ?? true
            let verdict = Verdict(
                fromAddress: record.count,
                total: state.total,
                shouldLog: due,
                suppressed: due ? record.suppressed : 0
            )
            if due {
                record.lastLogged = now
                record.suppressed = 0
            } else {
                record.suppressed += 1
            }
            state.records[host] = record
            return verdict
        }
    }

    /// A handshake from `host` succeeded: it pays off one of the address's failures. Clients
    /// with the key that share an address with one that keeps failing (a host with a stale key
    /// among its workers, a NAT) are not held back with it for as long as they keep connecting;
    /// a guesser from an address gets one guess per successful handshake from it, besides its
    /// free few, and nothing more.
    func succeeded(host: String) {
        state.withLock { state in
            guard var record = state.records[host], record.unpaid > 0 else { return }
            record.unpaid -= 1
            if record.unpaid <= 3 { record.nextChallenge = nil }
            state.records[host] = record
        }
    }

    /// How long to hold back the challenge for a new connection from `host`: nothing for the
    /// first few failures, then doubling from 100 ms up to 3 s (under a client's default 5 s
    /// handshake timeout, so the right key still gets in), so guessing keys is slow. The delay
    /// counts per address, not per connection: challenges to one address go out at most one
    /// per delay, so parallel connections wait their turn (and those past the handshake timeout
    /// never get one). Failures count until a successful handshake from the address pays one
    /// off (``succeeded(host:)``); all are forgotten 10 minutes after the address last failed.
    func challengeDelay(for host: String?, now: ContinuousClock.Instant = .now) -> Duration {
        guard let host else { return .zero }
        return state.withLock { state in
            guard var record = state.records[host], record.unpaid > 3 else { return .zero }
            if let last = record.lastFailure, now - last > .seconds(600) {
                state.records[host] = nil
                return .zero
            }
            let doublings = min(record.unpaid - 4, 6)
            let penalty = min(.milliseconds(100) * (1 << doublings), Duration.seconds(3))
            let slot = max(now, record.nextChallenge ?? now).advanced(by: penalty)
            record.nextChallenge = slot
            state.records[host] = record
            return slot - now
        }
    }

    /// Failed handshakes since the master started.
    var total: Int { state.withLock { $0.total } }
}
