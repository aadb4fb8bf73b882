import QueueBackend
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

    /// Waits until `getters` getters of the queue have looked at it and wait.
    func looked(_ backend: PostgresBackend) -> (String, Int) async throws -> Void {
        { queue, getters in
            try await waitUntil("\(getters) getters that looked") { backend.gettersThatLooked(in: queue) == getters }
        }
    }
}
