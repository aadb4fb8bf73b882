import MemoryBackend
import QueueBackend
import TestSupport
import Testing

/// Timed waits end by the backend's clock, through its one wait timer.
@Suite struct TimedWaitTests {
    @Test func aGetTimesOutEmptyOnlyWhenItsTimeHasCome() async throws {
        let clock = ManualClock()
        let backend = try MemoryBackend(clock: clock)
        try await withWaitTimer(backend) {
            let got = Task { try await backend.get(from: "q", maxItems: 1, consumer: 1, wait: .upTo(.seconds(10))) }
            try await waitUntil { try await backend.status(of: "q").waitingConsumers == 1 }
            #expect(await clock.waitForSleepers(1))
            clock.advance(by: .seconds(9))
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await backend.status(of: "q").waitingConsumers == 1)
            clock.advance(by: .seconds(1))
            #expect(try await got.value.isEmpty)
            #expect(try await backend.status(of: "q").waitingConsumers == 0)
        }
    }

    @Test func anEarlierDeadlineWakesTheTimerSleepingForALaterOne() async throws {
        let clock = ManualClock()
        let backend = try MemoryBackend(clock: clock)
        try await withWaitTimer(backend) {
            let late = Task { try await backend.get(from: "a", maxItems: 1, consumer: 1, wait: .upTo(.seconds(60))) }
            try await waitUntil { try await backend.status(of: "a").waitingConsumers == 1 }
            #expect(await clock.waitForSleepers(1))
            let early = Task { try await backend.get(from: "b", maxItems: 1, consumer: 2, wait: .upTo(.seconds(2))) }
            try await waitUntil { try await backend.status(of: "b").waitingConsumers == 1 }
            // The timer now sleeps for the earlier end.
            try await waitUntil { clock.sleeperCount == 1 }
            clock.advance(by: .seconds(2))
            #expect(try await early.value.isEmpty)
            #expect(try await backend.status(of: "a").waitingConsumers == 1)
            clock.advance(by: .seconds(58))
            #expect(try await late.value.isEmpty)
        }
    }

    @Test func aBlockedPutTimesOutWithQueueFullByTheClock() async throws {
        let clock = ManualClock()
        let backend = try MemoryBackend(limits: QueueLimits(defaultMaxSize: 1), clock: clock)
        try await withWaitTimer(backend) {
            _ = try await backend.put(items([1]), into: "q")
            let blocked = Task { try await backend.put(items([2]), into: "q", wait: .upTo(.seconds(3))) }
            try await waitUntil { try await backend.status(of: "q").waitingProducers == 1 }
            #expect(await clock.waitForSleepers(1))
            clock.advance(by: .seconds(3))
            await #expect(throws: QueueError.self) { try await blocked.value }
            #expect(try await backend.status(of: "q").depth == 1)
        }
    }

    @Test func waitsAreAnsweredWithoutATaskPerWaiter() async throws {
        // A thousand timed gets share one timer: one sleeper on the clock, not a thousand.
        let clock = ManualClock()
        let backend = try MemoryBackend(clock: clock)
        try await withWaitTimer(backend) {
            let gets = (0..<1000).map { index in
                Task {
                    try await backend.get(from: "q", maxItems: 1, consumer: UInt64(index), wait: .upTo(.seconds(5)))
                }
            }
            try await waitUntil { try await backend.status(of: "q").waitingConsumers == 1000 }
            #expect(await clock.waitForSleepers(1))
            try await Task.sleep(for: .milliseconds(20))
            #expect(clock.sleeperCount == 1)
            clock.advance(by: .seconds(5))
            for get in gets { #expect(try await get.value.isEmpty) }
        }
    }
}
