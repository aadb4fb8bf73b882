import ServiceLifecycle

/// Ends the memory backend's timed waits when their time comes: one loop for every waiter,
/// sleeping until the earliest end (on the backend's clock) or until an earlier one arrives.
///
/// Puts held back by the memory limit are also given another chance every
/// ``memoryRetryInterval``, since memory may be freed outside the backend (connection buffers).
public struct WaitTimer: Service {
    let backend: MemoryBackend

    /// How often puts held back by the memory limit are retried while the limit is met.
    static let memoryRetryInterval: Duration = .milliseconds(50)

    public func run() async {
        await cancelWhenGracefulShutdown {
            var wasBlocked = false
            while !Task.isCancelled {
                let (next, memoryLimited) = backend.expireWaits()
                if memoryLimited != wasBlocked {
                    backend.onMemoryLimit?(memoryLimited)
                    wasBlocked = memoryLimited
                }
                let limit = memoryLimited ? min(next ?? .seconds(3600), Self.memoryRetryInterval) : next
                await backend.timerWakeup.wait(upTo: limit, clock: backend.clock)
            }
        }
    }
}
