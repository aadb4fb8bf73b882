import Metrics
import Synchronization
import TaskMasterStatus

/// Brings swift-metrics counters and gauges in line with a ``StatusSnapshot``, at scrape time.
///
/// The daemon keeps cumulative totals anyway (for `stats`); rather than also counting every
/// event into metrics on its hot paths, each scrape advances every counter by how much its
/// total grew since the previous scrape, and sets every gauge. A total that went down (its
/// source started over) resets the counter, as Prometheus expects of a restarted counter.
final class MetricsMirror: Sendable {
    private struct QueueSeries {
        var depth: Gauge
        var inFlight: Gauge
        var maxSize: Gauge
        var waitingConsumers: Gauge
        var waitingProducers: Gauge
        var put: Counter
        var delivered: Counter
        var acked: Counter
        var nacked: Counter
        var redelivered: Counter
        var dead: Counter
        /// The queue as of the previous update.
        var last = QueueStatus(name: "")

        init(queue: String, factory: any MetricsFactory) {
            let labels = [("queue", queue)]
            func gauge(_ name: String) -> Gauge { Gauge(label: name, dimensions: labels, factory: factory) }
            func counter(_ name: String) -> Counter { Counter(label: name, dimensions: labels, factory: factory) }
            depth = gauge(MetricNames.queueDepth)
            inFlight = gauge(MetricNames.queueInFlight)
            maxSize = gauge(MetricNames.queueMaxSize)
            waitingConsumers = gauge(MetricNames.queueWaitingConsumers)
            waitingProducers = gauge(MetricNames.queueWaitingProducers)
            put = counter(MetricNames.queuePut)
            delivered = counter(MetricNames.queueDelivered)
            acked = counter(MetricNames.queueAcked)
            nacked = counter(MetricNames.queueNacked)
            redelivered = counter(MetricNames.queueRedelivered)
            dead = counter(MetricNames.queueDead)
        }

        mutating func update(_ status: QueueStatus) {
            depth.record(status.depth)
            inFlight.record(status.inFlight)
            maxSize.record(status.maxSize)
            waitingConsumers.record(status.waitingConsumers)
            waitingProducers.record(status.waitingProducers)
            MetricsMirror.advance(put, from: last.totalPut, to: status.totalPut)
            MetricsMirror.advance(delivered, from: last.totalDelivered, to: status.totalDelivered)
            MetricsMirror.advance(acked, from: last.totalAcked, to: status.totalAcked)
            MetricsMirror.advance(nacked, from: last.totalNacked, to: status.totalNacked)
            MetricsMirror.advance(redelivered, from: last.totalRedelivered, to: status.totalRedelivered)
            MetricsMirror.advance(dead, from: last.totalDead, to: status.totalDead)
            last = status
        }

        /// Removes the queue's series from the registry (the queue is gone).
        func destroy() {
            for gauge in [depth, inFlight, maxSize, waitingConsumers, waitingProducers] { gauge.destroy() }
            for counter in [put, delivered, acked, nacked, redelivered, dead] { counter.destroy() }
        }
    }

    private struct State {
        var queues: [String: QueueSeries] = [:]
        var clientsByKind: [ClientKind: Gauge] = [:]
        var lastAuthenticationFailures: UInt64 = 0
        var lastBytesIn: UInt64 = 0
        var lastBytesOut: UInt64 = 0
    }

    /// Client kinds that always have a gauge, at 0 when none are connected.
    private static let standingKinds: [ClientKind] = [.native, .python]

    private let factory: any MetricsFactory
    private let uptime: Gauge
    private let authenticationFailures: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let state: Mutex<State>

    init(factory: any MetricsFactory) {
        self.factory = factory
        uptime = Gauge(label: MetricNames.uptime, factory: factory)
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

            var present = Set<String>()
            for queue in snapshot.queues where present.insert(queue.name).inserted {
                state.queues[queue.name, default: QueueSeries(queue: queue.name, factory: factory)].update(queue)
            }
            for (name, series) in state.queues where !present.contains(name) {
                series.destroy()
                state.queues[name] = nil
            }

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
