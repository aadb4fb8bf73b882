import QueueBackend
import TestSupport
import Testing

@testable import PostgresBackend

/// PostgreSQL inserts new items already leased to getters that found their queue empty, so
/// that they need no take (a row update): the conformance tests' hand-off cases, with the
/// backend's count of items handed off that way.
@Suite(.enabled(if: Prerequisite.postgres, "PostgreSQL's server binaries are not installed"))
struct HandOffTests {
    @Test func itemsPutWhileGettersWaitAreHandedOffWithoutATake() async throws {
        try await BackendUnderTest.postgres.with { queues in
            let backend = try #require(queues as? PostgresBackend)
            try await waitingGetsAreServed(by: queues)
            #expect(backend.handedOff(in: "q") == 3)
        }
    }

    @Test func resultsAreHandedOffToAGetterWaitingForThem() async throws {
        try await BackendUnderTest.postgres.with { queues in
            let backend = try #require(queues as? PostgresBackend)
            try await waitingGetIsServedResults(by: queues)
            #expect(backend.handedOff(in: "result") == 2)
            #expect(backend.handedOff(in: "task") == 0)
        }
    }
}
