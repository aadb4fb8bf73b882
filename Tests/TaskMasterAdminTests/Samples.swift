import TaskMasterAdmin
import TaskMasterStatus

/// Snapshots the tests serve.
enum Samples {
    /// A queue name that needs escaping in Prometheus labels and in HTML.
    static let oddQueue = "we\"ird\\queue <b>&"

    static let first = StatusSnapshot(
        uptimeSeconds: 3725.5,
        queues: [
            QueueStatus(
                name: "task",
                depth: 42,
                inFlight: 3,
                maxSize: 100,
                waitingConsumers: 2,
                waitingProducers: 1,
                totalPut: 1000,
                totalDelivered: 960,
                totalAcked: 950,
                totalNacked: 7,
                totalRedelivered: 5,
                totalDead: 1
            ),
            QueueStatus(name: "result", depth: 17, totalPut: 950, totalDelivered: 933, totalAcked: 933),
            QueueStatus(name: oddQueue, depth: 5, totalPut: 5),
        ],
        clients: [
            ClientStatus(
                id: 1,
                kind: .native,
                address: "10.0.0.2:51234",
                name: "task-worker 1234@host-b",
                leased: 2,
                connectedSeconds: 120,
                tasksDone: 500,
                tasksFailed: 3,
                workerUptimeSeconds: 130,
                lastHeartbeatSecondsAgo: 0.5
            ),
            ClientStatus(
                id: 2,
                kind: .native,
                address: "10.0.0.3:40000",
                name: "task-worker 99@host-c",
                leased: 1,
                connectedSeconds: 60,
                tasksDone: 450,
                tasksFailed: 0,
                workerUptimeSeconds: 61,
                lastHeartbeatSecondsAgo: 12
            ),
            ClientStatus(id: 5, kind: .python, address: "[::1]:50001", name: "", leased: 0, connectedSeconds: 5),
        ],
        authenticationFailures: 4,
        bytesIn: 123_456,
        bytesOut: 654_321
    )

    /// `first`, a while later: totals grew, the odd queue is gone, a client left.
    static let second: StatusSnapshot = {
        var next = first
        next.uptimeSeconds += 15
        next.queues = [
            QueueStatus(
                name: "task",
                depth: 10,
                inFlight: 4,
                maxSize: 100,
                waitingConsumers: 0,
                totalPut: 1300,
                totalDelivered: 1290,
                totalAcked: 1286,
                totalNacked: 9,
                totalRedelivered: 6,
                totalDead: 1
            ),
            QueueStatus(name: "result", depth: 20, totalPut: 1286, totalDelivered: 1266, totalAcked: 1266),
        ]
        next.clients.removeFirst()
        next.authenticationFailures = 6
        next.bytesIn = 200_000
        next.bytesOut = 900_000
        return next
    }()
}
