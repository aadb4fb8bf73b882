import Logging
import QueueBackend
import ServiceLifecycle

/// Ends leases that ran out, every `interval`, until graceful shutdown: their consumers neither
/// acknowledged nor sent a heartbeat, so their tasks go back (or to the dead-letter queue).
struct LeaseReaper: Service {
    let backend: any QueueBackend
    let interval: Duration
    let clock: any Clock<Duration>
    let logger: Logger

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await clock.sleep(for: interval)
                    let expired = try await backend.expireLeases()
                    if expired > 0 {
                        logger.info("leases ran out; their tasks went back", metadata: ["tasks": "\(expired)"])
                    }
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("could not end expired leases: \(error); trying again")
                }
            }
        }
    }

    /// How often leases are checked: often enough to end an expired one within a fraction of
    /// the shortest timeout, at most once a second.
    static func interval(leaseTimeout: Duration, perQueue: some Collection<Duration>) -> Duration {
        let shortest = ([leaseTimeout] + perQueue).min() ?? .seconds(60)
        return max(.milliseconds(10), min(.seconds(1), shortest / 10))
    }
}
