import QueueBackend
import TaskMasterAdmin
import TaskMasterStatus

/// The master's status: the queues (from the backend), the clients, the counters. What `stats`
/// answers and the admin endpoint shows; its cost grows with queues and clients, not tasks.
struct MasterStatus: StatusSource {
    let backend: any QueueBackend
    let registry: ConnectionRegistry
    let authFailures: AuthFailureTracker
    let traffic: TrafficCounters
    let budget: MemoryBudget
    let startedAt: ContinuousClock.Instant

    func statusSnapshot() async -> StatusSnapshot {
        let backendStatus = (try? await backend.statuses()) ?? BackendStatus(queues: [], leasesByConsumer: [:])
        let now = ContinuousClock.now
        let clients = registry.clients().map { entry in
            var client = ClientStatus(
                id: entry.id,
                kind: entry.kind ?? .native,
                address: entry.address,
                name: entry.name,
                leased: backendStatus.leasesByConsumer[entry.id, default: 0],
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
            queues: backendStatus.queues,
            clients: clients,
            authenticationFailures: UInt64(authFailures.total),
            bytesIn: traffic.received.load(ordering: .relaxed),
            bytesOut: traffic.sent.load(ordering: .relaxed),
            memoryUsedBytes: UInt64(clamping: budget.used),
            memoryLimitBytes: UInt64(clamping: budget.limit)
        )
    }
}
