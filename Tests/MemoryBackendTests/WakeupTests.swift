import QueueBackend
import Synchronization
import TestSupport
import Testing

/// The wake-up the memory backend's wait timer, the store writer and the PostgreSQL lanes
/// sleep on: a signal is never lost, and a wait ends by its limit on the given clock.
@Suite struct WakeupTests {
    /// A wait run in a task, and whether it has returned.
    final class Waiting: Sendable {
        final class Flag: Sendable {
            let value = Mutex(false)
        }

        let task: Task<Void, Never>
        private let returned = Flag()

        init(_ wakeup: Wakeup, upTo limit: Duration?, clock: any Clock<Duration>) {
            let returned = self.returned
            task = Task {
                await wakeup.wait(upTo: limit, clock: clock)
                returned.value.withLock { $0 = true }
            }
        }

        var hasReturned: Bool { returned.value.withLock { $0 } }

        /// Waits (in real time, bounded) for the wait to return; whether it did.
        func returns(within limit: Duration = .seconds(10)) async -> Bool {
            let deadline = ContinuousClock.now.advanced(by: limit)
            while !hasReturned, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(1)) }
            return hasReturned
        }
    }

    @Test func aSignalThatCameFirstIsKeptForTheNextWaitAndOnlyForIt() async {
        let clock = ManualClock()
        let wakeup = Wakeup()
        wakeup.signal()
        wakeup.signal()  // two signals before a wait are one
        #expect(await Waiting(wakeup, upTo: .seconds(60), clock: clock).returns())
        let second = Waiting(wakeup, upTo: .seconds(60), clock: clock)
        #expect(await clock.waitForSleepers(1))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(!second.hasReturned)
        wakeup.signal()
        #expect(await second.returns())
    }

    @Test func aWaitEndsWhenItsLimitHasPassedOnTheClock() async {
        let clock = ManualClock()
        let wakeup = Wakeup()
        let waiting = Waiting(wakeup, upTo: .seconds(5), clock: clock)
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(4))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(!waiting.hasReturned)
        clock.advance(by: .seconds(1))
        #expect(await waiting.returns())
        #expect(await Waiting(wakeup, upTo: .zero, clock: clock).returns())
    }

    @Test func aWaitWithoutALimitEndsAtASignalOrWhenCancelled() async {
        let clock = ManualClock()
        let wakeup = Wakeup()
        let signalled = Waiting(wakeup, upTo: nil, clock: clock)
        try? await Task.sleep(for: .milliseconds(20))
        #expect(!signalled.hasReturned)
        wakeup.signal()
        #expect(await signalled.returns())

        let cancelled = Waiting(wakeup, upTo: nil, clock: clock)
        try? await Task.sleep(for: .milliseconds(20))
        #expect(!cancelled.hasReturned)
        cancelled.task.cancel()
        #expect(await cancelled.returns())
        // The cancellation is not a signal kept for the next wait.
        let next = Waiting(wakeup, upTo: .seconds(1), clock: clock)
        #expect(await clock.waitForSleepers(1))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(!next.hasReturned)
        clock.advance(by: .seconds(1))
        #expect(await next.returns())
    }
}
