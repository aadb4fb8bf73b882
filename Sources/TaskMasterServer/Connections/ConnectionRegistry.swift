import NIOCore
import Synchronization
import TaskMasterStatus
import TaskWire

/// The connections the master serves: who they are (for `stats`), which may come in (the
/// connection limits), and closing them all at shutdown.
///
/// A connection is *unauthenticated* until its handshake succeeds. Unauthenticated connections
/// have limits of their own, in total and per address, below the connection limit, so that
/// whoever can reach the port without the key can't take the room authenticated clients need
/// (see ``admit(channel:address:host:now:)``).
final class ConnectionRegistry: Sendable {
    struct Limits: Sendable, Hashable {
        /// Connections at once, authenticated or not.
        var maxConnections = 1024
        /// Connections still in their handshake, at once.
        var maxUnauthenticated = 256
        /// Connections still in their handshake from one address, while more than half of
        /// ``maxUnauthenticated`` are taken.
        var maxUnauthenticatedPerAddress = 32
    }

    struct Entry {
        var id: UInt64
        var address: String
        var host: String
        var kind: ClientKind?
        var name: String
        var channel: any Channel
        var connectedAt: ContinuousClock.Instant
        var authenticated = false
        var lastReport: WorkerReport?
        var lastReportAt: ContinuousClock.Instant?
    }

    /// Why a connection was not let in.
    enum Refusal: Error, Equatable {
        case full
        case tooManyFromAddress
        case stopping
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        /// Unauthenticated connections, oldest first.
        var handshaking: [UInt64] = []
        var handshakingByHost: [String: Int] = [:]
        /// Addresses a connection passed its handshake from lately, and when.
        var trustedHosts: [String: ContinuousClock.Instant] = [:]
        var nextID: UInt64 = 1
        var isClosing = false
    }

    /// How long an address that passed a handshake is trusted: its handshakes in progress
    /// are the last to make room for newcomers.
    static let trustPeriod: Duration = .seconds(600)
    /// Addresses remembered as trusted; past that the table starts over.
    static let maxTrustedHosts = 10_000

    private let state = Mutex(State())
    let limits: Limits

    init(limits: Limits) {
        self.limits = limits
    }

    /// Lets a new connection in (unauthenticated), or says why not.
    ///
    /// Past the limits (in total, or for its address) room is made by closing the oldest
    /// handshake still in progress (of its address, for the address limit), however young:
    /// silent connections can't keep newer clients out, whoever shares their address. The
    /// address limit holds only while the table is more than half full: a client host opening
    /// many connections at once (a Python client with a hundred threads, each making its
    /// proxy) is not cut short while there is room, and an address that fills the table still
    /// gives up its own handshakes, not others'. Under a
    /// storm of connections opened again as fast as they are closed, each handshake then gets
    /// the time the storm takes to turn the table over (256 slots at 1,600 connections a
    /// second: 160 ms), and a client with the key needs two round trips of it, which a loaded
    /// machine may not give it. So handshakes from addresses that passed one in the last
    /// ``trustPeriod`` make room last: a storm from elsewhere can't turn them over.
    func admit(
        channel: any Channel,
        address: String,
        host: String,
        now: ContinuousClock.Instant = .now
    ) -> Result<UInt64, Refusal> {
        let (result, evicted): (Result<UInt64, Refusal>, [any Channel]) = state.withLock { state in
            guard !state.isClosing else { return (.failure(.stopping), []) }
            var evicted: [any Channel] = []
            if state.handshaking.count * 2 > limits.maxUnauthenticated,
                state.handshakingByHost[host, default: 0] >= limits.maxUnauthenticatedPerAddress
            {
                guard let oldest = Self.oldestHandshake(in: state, from: host)
                else { return (.failure(.tooManyFromAddress), []) }
                evicted.append(state.entries[oldest]!.channel)
                Self.forget(oldest, in: &state)
            }
            if state.handshaking.count >= limits.maxUnauthenticated || state.entries.count >= limits.maxConnections {
                guard
                    let oldest = Self.oldestUntrustedHandshake(in: state, now: now)
                        ?? Self.oldestHandshake(in: state, from: nil)
                else { return (.failure(.full), evicted) }
                evicted.append(state.entries[oldest]!.channel)
                Self.forget(oldest, in: &state)
            }
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(
                id: id,
                address: address,
                host: host,
                kind: nil,
                name: "",
                channel: channel,
                connectedAt: now
            )
            state.handshaking.append(id)
            state.handshakingByHost[host, default: 0] += 1
            return (.success(id), evicted)
        }
        for channel in evicted { channel.close(promise: nil) }
        return result
    }

    /// The oldest handshake in progress from an address that passed no handshake lately.
    private static func oldestUntrustedHandshake(in state: State, now: ContinuousClock.Instant) -> UInt64? {
        for id in state.handshaking {
            guard let entry = state.entries[id] else { continue }
            guard let trusted = state.trustedHosts[entry.host], now - trusted < trustPeriod else { return id }
        }
        return nil
    }

    /// The oldest handshake in progress (from `host`, if given).
    private static func oldestHandshake(in state: State, from host: String?) -> UInt64? {
        for id in state.handshaking {
            guard let entry = state.entries[id] else { continue }
            if host == nil || entry.host == host { return id }
        }
        return nil
    }

    /// The connection's handshake succeeded: it no longer counts as unauthenticated.
    func authenticated(_ id: UInt64) {
        state.withLock { state in
            guard var entry = state.entries[id], !entry.authenticated else { return }
            entry.authenticated = true
            state.entries[id] = entry
            Self.stopHandshaking(entry, in: &state)
            if state.trustedHosts[entry.host] == nil, state.trustedHosts.count >= Self.maxTrustedHosts {
                state.trustedHosts.removeAll(keepingCapacity: true)
            }
            state.trustedHosts[entry.host] = .now
        }
    }

    /// Whether the unauthenticated table is more than half full (handshakes are then given
    /// less time).
    var isUnderPressure: Bool {
        state.withLock { $0.handshaking.count * 2 > limits.maxUnauthenticated }
    }

    /// Whether a connection from `host` passed its handshake in the last ``trustPeriod``.
    func isTrusted(_ host: String, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in state.trustedHosts[host].map { now - $0 < Self.trustPeriod } ?? false }
    }

    /// Records what kind of client a connection turned out to be.
    func identify(_ id: UInt64, kind: ClientKind, name: String) {
        state.withLock { state in
            state.entries[id]?.kind = kind
            state.entries[id]?.name = name
        }
    }

    /// Records a worker's heartbeat.
    func report(_ id: UInt64, _ report: WorkerReport) {
        state.withLock { state in
            state.entries[id]?.lastReport = report
            state.entries[id]?.lastReportAt = .now
        }
    }

    /// Forgets a connection that ended; returns whether it had passed its handshake (false
    /// too for one closed to make room, which was forgotten then).
    @discardableResult
    func remove(_ id: UInt64) -> Bool {
        state.withLock { state in
            let authenticated = state.entries[id]?.authenticated ?? false
            Self.forget(id, in: &state)
            return authenticated
        }
    }

    private static func forget(_ id: UInt64, in state: inout State) {
        guard let entry = state.entries.removeValue(forKey: id) else { return }
        if !entry.authenticated { stopHandshaking(entry, in: &state) }
    }

    private static func stopHandshaking(_ entry: Entry, in state: inout State) {
        if let index = state.handshaking.firstIndex(of: entry.id) { state.handshaking.remove(at: index) }
        let left = state.handshakingByHost[entry.host, default: 1] - 1
        state.handshakingByHost[entry.host] = left > 0 ? left : nil
    }

    /// Identified clients, ordered by connection id.
    func clients() -> [Entry] {
        state.withLock { state in state.entries.values.filter { $0.kind != nil } }.sorted { $0.id < $1.id }
    }

    /// Connections open now, and how many of those are still in their handshake.
    var counts: (total: Int, unauthenticated: Int) {
        state.withLock { ($0.entries.count, $0.handshaking.count) }
    }

    /// Refuses new connections and closes every open one.
    func closeAll() {
        let channels = state.withLock { state in
            state.isClosing = true
            return state.entries.values.map(\.channel)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
