import QueueBackend
import Synchronization
import TestSupport
import Testing

@testable import PostgresBackend

/// PostgreSQL inserts new items already leased to getters that found their queue empty, so
/// that they need no take (a row update): the conformance tests' hand-off cases, once the
/// getters have looked, with the backend's count of items handed off that way. Waiters don't
/// look again by the clock here (the poll would make them take instead).
@Suite(.enabled(if: Prerequisite.postgres, "PostgreSQL's server binaries are not installed"))
struct HandOffTests {
    @Test func itemsPutWhileGettersWaitAreHandedOffWithoutATake() async throws {
        try await BackendUnderTest.postgres(pollInterval: .seconds(600)).with { queues in
            let backend = try #require(queues as? PostgresBackend)
            try await waitingGetsAreServed(by: queues, looked: looked(backend))
            #expect(backend.handedOff(in: "q") == 3)
        }
    }

    @Test func resultsAreHandedOffToAGetterWaitingForThem() async throws {
        try await BackendUnderTest.postgres(pollInterval: .seconds(600)).with { queues in
            let backend = try #require(queues as? PostgresBackend)
            try await waitingGetIsServedResults(by: queues, looked: looked(backend))
            #expect(backend.handedOff(in: "result") == 2)
            #expect(backend.handedOff(in: "task") == 0)
        }
    }

    @Test func aGetOnAQueueATakeFoundEmptyWaitsWithoutATakeOfItsOwn() async throws {
        try await BackendUnderTest.postgres(pollInterval: .seconds(600)).with { queues in
            let backend = try #require(queues as? PostgresBackend)
            let got = Mutex<[ConsumerID: [QueuedTask]]>([:])
            func get(_ consumer: ConsumerID) {
                queues.get(from: "q", maxItems: 1, wait: .forever, consumer: consumer) { result in
                    got.withLock { $0[consumer] = (try? result.get()) ?? [] }
                }
            }
            // The queue's lane connected (the first use waits for it), and its take found what
            // it wanted: nothing known about the queue.
            #expect(try await queues.put(items([9]), into: "q").count == 1)
            #expect(values(try await queues.get(from: "q", maxItems: 1, consumer: 9)) == [9])
            // The first getter's take finds the queue empty.
            get(1)
            try await looked(backend)("q", 1)
            // So the second waits at once as if it had looked, with no take of its own ...
            get(2)
            #expect(backend.gettersThatLooked(in: "q") == 2)
            // ... and both are handed what comes.
            #expect(try await queues.put(items([1, 2]), into: "q").count == 2)
            try await waitUntil("both getters answered") { got.withLock { $0.count } == 2 }
            #expect(got.withLock { $0.mapValues(values) } == [1: [1], 2: [2]])
            #expect(backend.handedOff(in: "q") == 2)
            // An item queued (no getter waits) ends what this master knew: the next getter looks.
            #expect(try await queues.put(items([3]), into: "q").count == 1)
            get(3)
            #expect(backend.gettersThatLooked(in: "q") == 0)
            try await waitUntil("the third getter answered") { got.withLock { $0[3] } != nil }
            #expect(got.withLock { $0[3].map(values) } == [3])
            #expect(backend.handedOff(in: "q") == 2)
        }
    }

    /// Waits until `getters` getters of the queue have looked at it and wait.
    func looked(_ backend: PostgresBackend) -> (String, Int) async throws -> Void {
        { queue, getters in
            try await waitUntil("\(getters) getters that looked") { backend.gettersThatLooked(in: queue) == getters }
        }
    }
}
