import Logging
import NIOCore
import NIOPosix
import NIOSSL
import QueueBackend
import ServiceLifecycle
import TaskMasterAdmin
import TaskMasterConfiguration
import TaskWire

/// The task-master daemon: named queues served over TCP to native and Python clients, behind
/// the mutual HMAC handshake, as a group of sibling services.
///
/// ```swift
/// let master = try TaskMaster(configuration: configuration, logger: logger)
/// let group = ServiceGroup(configuration: .init(services: master.services, gracefulShutdownSignals: [.sigterm], logger: logger))
/// try await group.run()
/// ```
///
/// ## Services, in start order
///
/// 1. the backend's own services: the store writer (with a data directory), the wait timer;
/// 2. the lease reaper, which ends leases that ran out;
/// 3. the admin endpoint (with an admin port);
/// 4. the server: the TCP port and its connections.
///
/// ## Shutdown order
///
/// On graceful shutdown (SIGTERM, SIGINT, or a Python client's `shutdown` when allowed) a
/// `ServiceGroup` stops services in reverse order, each after the one before has returned:
///
/// 1. the server stops accepting and closes every connection; as each ends, its waits are
///    answered (`shuttingDown` or `cancelled`) and its leased tasks go back to their queues;
///    then the backend is shut down, which answers any wait left and returns any lease left;
/// 2. the admin endpoint answers what it has and closes;
/// 3. the lease reaper stops;
/// 4. the wait timer stops, and the store writer writes everything still pending (held-back
///    completions included) and returns.
///
/// The group then returns, and the process exits 0. Nothing waits for a client.
public struct TaskMaster: Sendable {
    /// The services, in start order (see above).
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]
    /// The backend the sessions use.
    public let backend: any QueueBackend
    let stopSignal: StopSignal

    /// - Parameters:
    ///   - eventLoopGroup: the loops connections are served on.
    ///   - clock: times waits, leases and group commits; injectable for tests.
    ///   - onListening: told the bound address once the port is open (useful with port 0).
    ///   - onAdminListening: told the admin endpoint's address once it is open.
    /// - Throws: ``ServerError`` when the key, TLS files or data directory can't be used.
    public init(
        configuration: MasterConfiguration,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        clock: any Clock<Duration> = ContinuousClock(),
        onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in },
        onAdminListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }
    ) throws {
        guard let key = AuthKey(bytes: configuration.authKey.bytes) else {
            throw ServerError(.invalidAuthKey, "the authkey is empty; give a non-empty key")
        }
        let metrics = configuration.adminPort == nil ? nil : AdminMetrics()
        let budget = MemoryBudget(limit: configuration.maxMemory.bytes.bytes)
        let setup = try BackendSetup.make(
            configuration,
            budget: budget,
            clock: clock,
            logger: logger,
            onDone: metrics.map { metrics in
                { @Sendable queue, latency in metrics.recordTaskLatency(queue: queue, duration: latency) }
            }
        )
        let registry = ConnectionRegistry(limits: configuration.connectionLimits)
        let authFailures = AuthFailureTracker()
        let traffic = TrafficCounters()
        let status = MasterStatus(
            backend: setup.backend,
            registry: registry,
            authFailures: authFailures,
            traffic: traffic,
            budget: budget,
            startedAt: .now
        )
        let stopSignal = StopSignal()
        let throttle = LogThrottle()
        let services = SessionServices(
            backend: setup.backend,
            registry: registry,
            status: status,
            pythonObjects: PythonObjects(
                typeIDs: configuration.pythonTypeIDs,
                queueLimits: configuration.queueLimits,
                limit: configuration.maxQueues
            ),
            allowsRemoteShutdown: configuration.allowRemoteShutdown,
            requestShutdown: { stopSignal.requestStop() },
            logThrottle: throttle
        )
        let pipeline = ConnectionPipeline(
            configuration: configuration,
            key: key,
            tls: try ServerTLS.makeContext(configuration),
            traffic: traffic,
            authFailures: authFailures,
            registry: registry,
            services: services,
            throttle: throttle,
            logger: logger
        )
        let server = MasterServer(
            configuration: configuration,
            pipeline: pipeline,
            backend: setup.backend,
            registry: registry,
            eventLoopGroup: eventLoopGroup,
            logger: logger,
            stopSignal: stopSignal,
            onListening: onListening
        )
        let reaper = LeaseReaper(
            backend: setup.backend,
            interval: LeaseReaper.interval(
                leaseTimeout: configuration.leaseTimeout,
                perQueue: configuration.queueLeaseTimeouts.values
            ),
            clock: clock,
            logger: logger
        )
        var all = setup.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        all.append(.init(service: reaper))
        if let metrics, let port = configuration.adminPort {
            let admin = AdminServer(
                host: configuration.adminHost,
                port: port,
                source: status,
                metrics: metrics,
                logger: logger,
                eventLoopGroup: eventLoopGroup,
                onListening: onAdminListening
            )
            all.append(.init(service: admin))
        }
        // The server ending (a remote shutdown) ends the group.
        all.append(.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup))
        self.services = all
        self.backend = setup.backend
        self.stopSignal = stopSignal
    }

    /// Stops the master as a remote shutdown would: the server stops, and the group with it.
    public func requestStop() {
        stopSignal.requestStop()
    }
}
