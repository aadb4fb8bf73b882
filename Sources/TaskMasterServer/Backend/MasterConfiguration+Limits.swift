import QueueBackend
import TaskMasterConfiguration

extension MasterConfiguration {
    /// The capacities, lease timeouts and delivery limit every backend enforces.
    var queueLimits: QueueLimits {
        QueueLimits(
            defaultMaxSize: defaultMaxSize,
            maxSizes: queueMaxSizes,
            maxBytes: queueMaxBytes.mapValues(\.bytes),
            maxQueues: maxQueues,
            leaseTimeout: leaseTimeout,
            leaseTimeouts: queueLeaseTimeouts,
            maxDeliveries: maxDeliveries
        )
    }

    /// The connection limits of the registry.
    var connectionLimits: ConnectionRegistry.Limits {
        ConnectionRegistry.Limits(
            maxConnections: maxConnections,
            maxUnauthenticated: maxUnauthenticated,
            maxUnauthenticatedPerAddress: maxUnauthenticatedPerAddress
        )
    }
}
