import Metrics
import Synchronization
import TaskMasterStatus

/// Brings the master-wide swift-metrics counters and gauges in line with a ``StatusSnapshot``,
/// at scrape time (the per-queue series are written straight from the snapshot:
/// ``QueueMetricsText``).
///
/// The daemon keeps cumulative totals anyway (for `stats`); rather than also counting every
/// event into metrics on its hot paths, each scrape advances every counter by how much its
/// total grew since the previous scrape, and sets every gauge. A total that went down (its
/// source started over) resets the counter, as Prometheus expects of a restarted counter.
final class MetricsMirror: Sendable {
    private struct State {
        var clientsByKind: [ClientKind: Gauge] = [:]
        var lastAuthenticationFailures: UInt64 = 0
        var lastBytesIn: UInt64 = 0
        var lastBytesOut: UInt64 = 0
    }

    /// Client kinds that always have a gauge, at 0 when none are connected.
    private static let standingKinds: [ClientKind] = [.native, .python]

    private let factory: any MetricsFactory
    private let uptime: Gauge
    private let memoryUsed: Gauge
    private let memoryLimit: Gauge
    private let authenticationFailures: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let state: Mutex<State>

    init(factory: any MetricsFactory) {
        self.factory = factory
        uptime = Gauge(label: MetricNames.uptime, factory: factory)
        memoryUsed = Gauge(label: MetricNames.memoryUsed, factory: factory)
        memoryLimit = Gauge(label: MetricNames.memoryLimit, factory: factory)
        authenticationFailures = Counter(label: MetricNames.authenticationFailures, factory: factory)
        bytesIn = Counter(label: MetricNames.receivedBytes, factory: factory)
        bytesOut = Counter(label: MetricNames.sentBytes, factory: factory)
        var state = State()
        for kind in Self.standingKinds {
            let gauge = Self.clientGauge(kind, factory: factory)
            gauge.record(0)
            state.clientsByKind[kind] = gauge
        }
        self.state = Mutex(state)
    }

    private static func clientGauge(_ kind: ClientKind, factory: any MetricsFactory) -> Gauge {
        Gauge(label: MetricNames.connectedClients, dimensions: [("kind", kind.rawValue)], factory: factory)
    }

    /// Updates every series to `snapshot`, then runs `body` (e.g. rendering the registry) before
    /// another update can start, so that concurrent scrapes each see a consistent state.
    func update<Result: Sendable>(to snapshot: StatusSnapshot, then body: () -> Result) -> Result {
        state.withLock { state in
            uptime.record(snapshot.uptimeSeconds)
            memoryUsed.record(Int64(clamping: snapshot.memoryUsedBytes))
            memoryLimit.record(Int64(clamping: snapshot.memoryLimitBytes))
            Self.advance(
                authenticationFailures,
                from: state.lastAuthenticationFailures,
                to: snapshot.authenticationFailures
            )
            Self.advance(bytesIn, from: state.lastBytesIn, to: snapshot.bytesIn)
            Self.advance(bytesOut, from: state.lastBytesOut, to: snapshot.bytesOut)
            state.lastAuthenticationFailures = snapshot.authenticationFailures
            state.lastBytesIn = snapshot.bytesIn
            state.lastBytesOut = snapshot.bytesOut

            var counts = Dictionary(uniqueKeysWithValues: Self.standingKinds.map { ($0, 0) })
            for client in snapshot.clients { counts[client.kind, default: 0] += 1 }
            for (kind, gauge) in state.clientsByKind where counts[kind] == nil {
                gauge.destroy()
                state.clientsByKind[kind] = nil
            }
            for (kind, count) in counts {
                let gauge = state.clientsByKind[kind] ?? Self.clientGauge(kind, factory: factory)
                gauge.record(count)
                state.clientsByKind[kind] = gauge
            }
            return body()
        }
    }

    /// Moves `counter` from `old` to `new`: by the difference, or from zero if `new` is smaller.
    private static func advance(_ counter: Counter, from old: UInt64, to new: UInt64) {
        if new >= old {
            if new > old { counter.increment(by: Int64(clamping: new - old)) }
        } else {
            counter.reset()
            if new > 0 { counter.increment(by: Int64(clamping: new)) }
        }
    }
}
