import TaskMasterStatus

/// The per-queue series of `/metrics`, written straight from a ``StatusSnapshot`` in
/// Prometheus text format (version 0.0.4): one pass over the queues, so a scrape costs time
/// linear in their number. (Registering a labeled series per queue in the registry copies its
/// family on every new queue: quadratic, 17 s at 10,000 queues.)
///
/// The totals are the master's own cumulative counters, exported as counters as they are.
enum QueueMetricsText {
    private struct Family: Sendable {
        var name: String
        var type: String
        var value: @Sendable (QueueStatus) -> UInt64
    }

    private static let families: [Family] = [
        Family(name: MetricNames.queueDepth, type: "gauge") { UInt64(clamping: $0.depth) },
        Family(name: MetricNames.queueInFlight, type: "gauge") { UInt64(clamping: $0.inFlight) },
        Family(name: MetricNames.queueMaxSize, type: "gauge") { UInt64(clamping: $0.maxSize) },
        Family(name: MetricNames.queueBytes, type: "gauge") { UInt64(clamping: $0.bytes) },
        Family(name: MetricNames.queueMaxBytes, type: "gauge") { UInt64(clamping: $0.maxBytes) },
        Family(name: MetricNames.queueWaitingConsumers, type: "gauge") { UInt64(clamping: $0.waitingConsumers) },
        Family(name: MetricNames.queueWaitingProducers, type: "gauge") { UInt64(clamping: $0.waitingProducers) },
        Family(name: MetricNames.queuePut, type: "counter") { $0.totalPut },
        Family(name: MetricNames.queueDelivered, type: "counter") { $0.totalDelivered },
        Family(name: MetricNames.queueAcked, type: "counter") { $0.totalAcked },
        Family(name: MetricNames.queueNacked, type: "counter") { $0.totalNacked },
        Family(name: MetricNames.queueRedelivered, type: "counter") { $0.totalRedelivered },
        Family(name: MetricNames.queueDead, type: "counter") { $0.totalDead },
    ]

    /// Every per-queue family, each with its `# HELP` and `# TYPE` lines.
    static func render(_ queues: [QueueStatus], into text: inout String) {
        guard !queues.isEmpty else { return }
        let labels = queues.map { "{queue=\"\(escape($0.name))\"} " }
        text.reserveCapacity(text.utf8.count + families.count * queues.count * 48)
        for family in families {
            text += "# HELP \(family.name) \(MetricNames.help[family.name] ?? "")\n"
            text += "# TYPE \(family.name) \(family.type)\n"
            for (queue, label) in zip(queues, labels) {
                text += family.name
                text += label
                text += String(family.value(queue))
                text += "\n"
            }
        }
    }

    /// A label value as the text format wants it: backslash, quote and newline escaped.
    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
