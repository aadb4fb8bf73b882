import CoreMetrics
import Prometheus

/// A swift-metrics factory over a Prometheus registry that registers the series it knows with
/// their `# HELP` text.
///
/// swift-prometheus's own `PrometheusMetricsFactory` registers every metric with empty help, and
/// the registry refuses (traps) when one name is registered with two different help texts, so
/// the help has to be attached by the factory that creates the metrics. Names without help
/// text go to `PrometheusMetricsFactory` unchanged.
struct DescribedMetricsFactory: MetricsFactory {
    private let registry: PrometheusCollectorRegistry
    private let plain: PrometheusMetricsFactory
    private let help: [String: String]
    private let durationBuckets: [String: [Duration]]

    init(registry: PrometheusCollectorRegistry, help: [String: String], durationBuckets: [String: [Duration]]) {
        self.registry = registry
        self.plain = PrometheusMetricsFactory(registry: registry)
        self.help = help
        self.durationBuckets = durationBuckets
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor? {
        guard let help = help[label] else { return nil }
        // An empty unit name leaves the label as the whole metric name.
        return MetricNameDescriptor(metricName: label, unitName: "", helpText: help)
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        guard let descriptor = descriptor(label) else {
            return plain.makeCounter(label: label, dimensions: dimensions)
        }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        guard let descriptor = descriptor(label) else {
            return plain.makeFloatingPointCounter(label: label, dimensions: dimensions)
        }
        return registry.makeCounter(descriptor: descriptor, labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard let descriptor = descriptor(label) else {
            return plain.makeRecorder(label: label, dimensions: dimensions, aggregate: aggregate)
        }
        guard aggregate else {
            return registry.makeGauge(descriptor: descriptor, labels: dimensions)
        }
        return registry.makeValueHistogram(
            descriptor: descriptor,
            labels: dimensions,
            buckets: plain.defaultValueHistogramBuckets
        )
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        guard let descriptor = descriptor(label) else {
            return plain.makeMeter(label: label, dimensions: dimensions)
        }
        return registry.makeGauge(descriptor: descriptor, labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        guard let descriptor = descriptor(label) else {
            return plain.makeTimer(label: label, dimensions: dimensions)
        }
        return registry.makeDurationHistogram(
            descriptor: descriptor,
            labels: dimensions,
            buckets: durationBuckets[label] ?? plain.defaultDurationHistogramBuckets
        )
    }

    // The Prometheus factory unregisters by the handler's own name and labels, whoever made it.
    func destroyCounter(_ handler: any CounterHandler) { plain.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        plain.destroyFloatingPointCounter(handler)
    }
    func destroyRecorder(_ handler: any RecorderHandler) { plain.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { plain.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { plain.destroyTimer(handler) }
}
