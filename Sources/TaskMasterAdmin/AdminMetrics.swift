import Metrics
import Prometheus
import Synchronization
import TaskMasterStatus

/// The metrics `/metrics` renders: a Prometheus registry, the swift-metrics factory that feeds it,
/// and the one metric the daemon records at event time, task latency.
///
/// Everything else is mirrored from ``StatusSnapshot`` when `/metrics` is scraped (see
/// ``AdminServer``), so the daemon's hot paths make no metrics calls except
/// ``recordTaskLatency(queue:seconds:)``.
///
/// Series (all prefixed `taskmaster_`; `queue` and `kind` are labels):
/// - gauges: `uptime_seconds`, `queue_depth`, `queue_in_flight`, `queue_max_size`,
///   `queue_waiting_consumers`, `queue_waiting_producers`, `connected_clients{kind}`
/// - counters: `queue_put_total`, `queue_delivered_total`, `queue_acked_total`,
///   `queue_nacked_total`, `queue_redelivered_total`, `queue_dead_total`,
///   `authentication_failures_total`, `received_bytes_total`, `sent_bytes_total`
/// - histogram: `task_latency_seconds{queue}`
///
/// Create one per daemon and hand it to ``AdminServer``; each instance has its own registry, so
/// tests can run several side by side.
public final class AdminMetrics: Sendable {
    /// Upper bounds of the latency histogram's buckets.
    public static let defaultLatencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900),
    ]

    /// The registry `/metrics` renders. Metrics registered here directly appear there too.
    public let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory writing into ``registry``. The daemon may bootstrap
    /// `MetricsSystem` with it to have other libraries' swift-metrics appear on `/metrics`.
    public let factory: any MetricsFactory

    /// Mirrors snapshots into the registry. One per registry owner, so that two servers sharing
    /// these metrics don't both add the same deltas.
    let mirror: MetricsMirror

    // Latency timers by queue name, so recording doesn't look the histogram up in the registry
    // every time. At most `maxLatencyQueues` queues get one of their own (each new one costs the
    // registry a copy of the family); the others share the label `queue="(other)"`.
    private let latencyTimers = Mutex<[String: Timer]>([:])

    /// Queues that get a latency histogram of their own.
    static let maxLatencyQueues = 200

    /// - Parameters:
    ///   - registry: where the metrics live; a fresh one by default.
    ///   - latencyBuckets: bucket upper bounds of `taskmaster_task_latency_seconds`.
    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        latencyBuckets: [Duration] = AdminMetrics.defaultLatencyBuckets
    ) {
        self.registry = registry
        self.factory = DescribedMetricsFactory(
            registry: registry,
            help: MetricNames.help,
            durationBuckets: [MetricNames.taskLatency: latencyBuckets]
        )
        self.mirror = MetricsMirror(factory: factory)
    }

    /// Records that a task of `queue` took `seconds` from its put to its acknowledgement (or
    /// completion). Negative and non-finite values are ignored.
    public func recordTaskLatency(queue: String, seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        latencyTimer(queue: queue).recordSeconds(seconds)
    }

    /// Records that a task of `queue` took `duration` from its put to its acknowledgement (or
    /// completion). Negative values are ignored.
    public func recordTaskLatency(queue: String, duration: Duration) {
        guard duration >= .zero else { return }
        latencyTimer(queue: queue).record(duration: duration)
    }

    private func latencyTimer(queue: String) -> Timer {
        latencyTimers.withLock { timers in
            if let timer = timers[queue] { return timer }
            let label = timers.count < Self.maxLatencyQueues ? queue : Self.otherQueues
            if let shared = timers[label] { return shared }
            let timer = Timer(label: MetricNames.taskLatency, dimensions: [("queue", label)], factory: factory)
            timers[label] = timer
            return timer
        }
    }

    /// The label of the latency histogram queues past ``maxLatencyQueues`` share.
    static let otherQueues = "(other)"

    /// The metrics as of `snapshot`, in Prometheus text format (version 0.0.4).
    func render(_ snapshot: StatusSnapshot) -> [UInt8] {
        var text = ""
        QueueMetricsText.render(snapshot.queues, into: &text)
        return mirror.update(to: snapshot) { registry.emitToBuffer() } + Array(text.utf8)
    }
}
