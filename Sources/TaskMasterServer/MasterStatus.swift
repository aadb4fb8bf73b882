import TaskMasterAdmin
import TaskMasterStatus
import TaskQueue

/// What the admin endpoint shows: the queues, the clients, the counters.
struct MasterStatus: StatusSource {
    let engine: QueueEngine
    let registry: ConnectionRegistry
    let authFailures: AuthFailureTracker
    let traffic: TrafficCounters
    let startedAt: ContinuousClock.Instant

    func statusSnapshot() async -> StatusSnapshot {
        let now = ContinuousClock.now
        let queues = engine.snapshot()
        let clients = registry.clients().map { entry in
            var client = ClientStatus(
                id: entry.id,
                kind: entry.kind ?? .native,
                address: entry.address,
                name: entry.name,
                leased: engine.leaseCount(consumer: entry.id),
                connectedSeconds: (now - entry.connectedAt).seconds
            )
            if let report = entry.lastReport {
                client.tasksDone = report.tasksDone
                client.tasksFailed = report.tasksFailed
                client.workerUptimeSeconds = Double(report.uptimeSeconds)
                client.lastHeartbeatSecondsAgo = entry.lastReportAt.map { (now - $0).seconds }
            }
            return client
        }
        return StatusSnapshot(
            uptimeSeconds: (now - startedAt).seconds,
            queues: queues,
            clients: clients,
            authenticationFailures: UInt64(authFailures.total),
            bytesIn: traffic.received.load(ordering: .relaxed),
            bytesOut: traffic.sent.load(ordering: .relaxed)
        )
    }
}
