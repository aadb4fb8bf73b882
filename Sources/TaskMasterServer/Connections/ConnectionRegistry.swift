import NIOCore
import Synchronization
import TaskMasterStatus
import TaskWire

/// The connections the master serves: for `stats`, for the connection limit, and to close
/// them all at shutdown.
final class ConnectionRegistry: Sendable {
    struct Entry {
        var id: UInt64
        var address: String
        var kind: ClientKind?
        var name: String
        var channel: any Channel
        var connectedAt: ContinuousClock.Instant
        var lastReport: WorkerReport?
        var lastReportAt: ContinuousClock.Instant?
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 1
        var isClosing = false
    }

    private let state = Mutex(State())
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Registers a new connection; nil when the limit is reached or the master is stopping.
    func register(channel: any Channel, address: String) -> UInt64? {
        state.withLock { state in
            guard !state.isClosing, state.entries.count < limit else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(
                id: id,
                address: address,
                kind: nil,
                name: "",
                channel: channel,
                connectedAt: .now,
                lastReport: nil,
                lastReportAt: nil
            )
            return id
        }
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

    func remove(_ id: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// Identified clients, ordered by connection id.
    func clients() -> [Entry] {
        state.withLock { state in state.entries.values.filter { $0.kind != nil } }.sorted { $0.id < $1.id }
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Refuses new connections and closes every open one.
    func closeAll() {
        let channels = state.withLock { state in
            state.isClosing = true
            return state.entries.values.map(\.channel)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
