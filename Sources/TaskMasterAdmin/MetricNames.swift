/// The series `/metrics` exports, and their `# HELP` texts. Queue series carry a `queue` label,
/// the client gauge a `kind` label.
enum MetricNames {
    static let uptime = "taskmaster_uptime_seconds"

    static let queueDepth = "taskmaster_queue_depth"
    static let queueInFlight = "taskmaster_queue_in_flight"
    static let queueMaxSize = "taskmaster_queue_max_size"
    static let queueBytes = "taskmaster_queue_bytes"
    static let queueMaxBytes = "taskmaster_queue_max_bytes"
    static let queueWaitingConsumers = "taskmaster_queue_waiting_consumers"
    static let queueWaitingProducers = "taskmaster_queue_waiting_producers"

    static let queuePut = "taskmaster_queue_put_total"
    static let queueDelivered = "taskmaster_queue_delivered_total"
    static let queueAcked = "taskmaster_queue_acked_total"
    static let queueNacked = "taskmaster_queue_nacked_total"
    static let queueRedelivered = "taskmaster_queue_redelivered_total"
    static let queueDead = "taskmaster_queue_dead_total"

    static let connectedClients = "taskmaster_connected_clients"
    static let authenticationFailures = "taskmaster_authentication_failures_total"
    static let receivedBytes = "taskmaster_received_bytes_total"
    static let sentBytes = "taskmaster_sent_bytes_total"
    static let memoryUsed = "taskmaster_memory_used_bytes"
    static let memoryLimit = "taskmaster_memory_limit_bytes"

    static let taskLatency = "taskmaster_task_latency_seconds"

    static let help: [String: String] = [
        uptime: "Seconds since the master started.",
        queueDepth: "Tasks waiting in the queue to be delivered.",
        queueInFlight: "Tasks delivered to a consumer and not yet acknowledged.",
        queueMaxSize: "Capacity of the queue (0 = unbounded).",
        queueBytes: "Payload bytes of the tasks waiting in the queue.",
        queueMaxBytes: "Capacity of the queue in payload bytes (0 = bounded by the memory limit only).",
        queueWaitingConsumers: "Gets waiting for a task.",
        queueWaitingProducers: "Puts waiting for room in the queue.",
        queuePut: "Tasks put into the queue.",
        queueDelivered: "Deliveries of tasks to consumers.",
        queueAcked: "Tasks acknowledged (or completed) by consumers.",
        queueNacked: "Tasks given back to the queue by consumers.",
        queueRedelivered: "Deliveries of tasks that had been delivered before.",
        queueDead: "Tasks given up on.",
        connectedClients: "Client connections, by protocol kind.",
        authenticationFailures: "Failed handshakes.",
        receivedBytes: "Bytes read from client connections.",
        sentBytes: "Bytes written to client connections.",
        memoryUsed: "What the master holds against its memory limit.",
        memoryLimit: "The master's memory limit (max_memory).",
        taskLatency: "Seconds from a task's put to its acknowledgement or completion.",
    ]
}
