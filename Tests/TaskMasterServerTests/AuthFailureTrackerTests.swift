import Testing

@testable import TaskMasterServer

@Suite struct AuthFailureTrackerTests {
    @Test func warningsAreRateLimitedPerAddress() {
        let tracker = AuthFailureTracker(interval: .seconds(10))
        let start = ContinuousClock.now
        let first = tracker.record(host: "10.0.0.1", now: start)
        #expect(first.shouldLog && first.fromAddress == 1 && first.total == 1)
        // A burst from the same address: counted, not logged.
        for second in 1...5 {
            #expect(!tracker.record(host: "10.0.0.1", now: start + .seconds(second)).shouldLog)
        }
        // Another address is logged at once.
        #expect(tracker.record(host: "10.0.0.2", now: start + .seconds(6)).shouldLog)
        // Ten seconds on, the next one is logged with how many were left out.
        let later = tracker.record(host: "10.0.0.1", now: start + .seconds(11))
        #expect(later.shouldLog && later.suppressed == 5 && later.fromAddress == 7 && later.total == 8)
    }

    @Test func repeatedFailuresFromOneAddressAreSlowedDownAndForgottenLater() {
        let tracker = AuthFailureTracker()
        let start = ContinuousClock.now
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start) == .zero)
        for index in 1...3 { _ = tracker.record(host: "10.0.0.9", now: start + .milliseconds(index)) }
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start) == .zero)  // a few typos are free
        _ = tracker.record(host: "10.0.0.9", now: start)
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start) == .milliseconds(100))
        for _ in 0..<10 { _ = tracker.record(host: "10.0.0.9", now: start) }
        // A minute on (its earlier slot long past), the delay is at its cap.
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start + .seconds(60)) == .seconds(3))
        #expect(tracker.challengeDelay(for: "10.0.0.8", now: start) == .zero)
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start + .seconds(601)) == .zero)
    }

    @Test func parallelConnectionsFromAnAddressWaitTheirTurnForAChallenge() {
        let tracker = AuthFailureTracker()
        let start = ContinuousClock.now
        for _ in 0..<4 { _ = tracker.record(host: "10.0.0.9", now: start) }
        // Two hundred connections at once: one challenge per 100 ms, not two hundred.
        let delays = (0..<200).map { _ in tracker.challengeDelay(for: "10.0.0.9", now: start) }
        #expect(delays.prefix(3) == [.milliseconds(100), .milliseconds(200), .milliseconds(300)])
        #expect(delays.filter { $0 <= .seconds(5) }.count == 50)
        // Once the queue of slots has passed, a new connection waits one delay again.
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start + .seconds(30)) == .milliseconds(100))
    }

    @Test func successfulHandshakesFromAnAddressPayOffItsFailures() {
        let tracker = AuthFailureTracker()
        let start = ContinuousClock.now
        for _ in 0..<6 { _ = tracker.record(host: "10.0.0.9", now: start) }
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start) == .milliseconds(400))
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start) == .milliseconds(800))
        // Clients with the key from the same address connect and succeed.
        for _ in 0..<3 { tracker.succeeded(host: "10.0.0.9") }
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start) == .zero)
        // The failures still count for the log.
        #expect(tracker.record(host: "10.0.0.9", now: start).fromAddress == 7)
        // A guesser alone pays nothing off: the slow-down comes back.
        #expect(tracker.challengeDelay(for: "10.0.0.9", now: start) == .milliseconds(100))
    }

    @Test func theAddressTableIsBounded() {
        let tracker = AuthFailureTracker(maxTrackedAddresses: 100)
        for index in 0..<1000 { _ = tracker.record(host: "10.1.\(index / 256).\(index % 256)") }
        #expect(tracker.total == 1000)
        // The oldest addresses were forgotten, so the newest one starts from one failure.
        #expect(tracker.record(host: "10.9.9.9").fromAddress == 1)
    }
}
