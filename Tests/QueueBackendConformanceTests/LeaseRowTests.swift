import QueueBackend
import TestSupport
import Testing

@testable import PostgresBackend

/// A PostgreSQL master keeps the row (`ctid`) of each task it leased, so that acks and
/// completions find it by a TID scan instead of an index probe per id; a row that moved or
/// is wrong costs a look by id, never a wrong answer.
@Suite(.enabled(if: Prerequisite.postgres, "PostgreSQL's server binaries are not installed"))
struct LeaseRowTests {
    /// What the backend holds for `consumer`, and where the database has those tasks.
    private func rows(
        _ backend: PostgresBackend,
        of consumer: ConsumerID
    ) async throws -> (held: [TaskID: String], stored: [TaskID: String]) {
        let held = backend.state.withLock { $0.leases[consumer] ?? [:] }.mapValues(\.description)
        let cluster = try await SharedPostgres.cluster()
        let owner = backend.owner(consumer)
        let listed = try await cluster.value(
            "SELECT string_agg(id || ' ' || ctid::text, ';') FROM \(backend.settings.url.schema).tasks "
                + "WHERE lease_owner = '\(owner)'"
        )
        var stored: [TaskID: String] = [:]
        for pair in (listed ?? "").split(separator: ";") {
            let parts = pair.split(separator: " ")
            stored[try #require(TaskID(parts[0]))] = String(parts[1])
        }
        return (held, stored)
    }

    @Test func takesHandOffsAndHeartbeatsRecordWhereTheLeasedRowsAre() async throws {
        try await BackendUnderTest.postgres.with { queues in
            let backend = try #require(queues as? PostgresBackend)
            _ = try await queues.put((0..<300).map { NewTask(payload: [UInt8(truncatingIfNeeded: $0)]) }, into: "q")
            // A take for one getter, then one for two getters at once.
            #expect(try await queues.get(from: "q", maxItems: 100, consumer: 1).count == 100)
            async let first = queues.get(from: "q", maxItems: 100, consumer: 1)
            async let second = queues.get(from: "q", maxItems: 100, consumer: 2)
            let (firstCount, secondCount) = try await (first.count, second.count)
            #expect(firstCount + secondCount == 200)
            // A hand-off: a waiting getter gets a put's item as it is inserted.
            async let waiting = queues.get(from: "h", maxItems: 1, consumer: 2, wait: .upTo(.seconds(20)))
            try await Task.sleep(for: .milliseconds(300))
            _ = try await queues.put([NewTask(payload: [1])], into: "h")
            #expect(try await waiting.count == 1)
            for (consumer, count) in [(ConsumerID(1), 100 + firstCount), (ConsumerID(2), secondCount + 1)] {
                let (held, stored) = try await rows(backend, of: consumer)
                #expect(held.count == count, "consumer \(consumer)")
                #expect(held == stored, "consumer \(consumer)")
                #expect(!held.values.contains(RowID.unknown.description))
            }
            // A heartbeat moves every row it extends; the backend follows.
            let before = try await rows(backend, of: 1).held
            #expect(try await queues.extendLeases(of: 1) == before.count)
            let (held, stored) = try await rows(backend, of: 1)
            #expect(held == stored)
            #expect(Set(held.keys) == Set(before.keys))
            #expect(held.allSatisfy { before[$0.key] != $0.value })
        }
    }

    @Test func acksAndCompletionsSettleTheRightTasksWhereverTheRowsAre() async throws {
        try await BackendUnderTest.postgres.with { queues in
            let backend = try #require(queues as? PostgresBackend)
            _ = try await queues.put((0..<90).map { NewTask(payload: [UInt8($0)]) }, into: "q")
            let got = try await queues.get(from: "q", maxItems: 90, consumer: 1).map(\.id)
            #expect(got.count == 90)
            // Rows swapped among the tasks: each points at a row of another task of the same
            // owner and queue, which must not be settled for it.
            backend.state.withLock { state in
                let held = state.leases[1] ?? [:]
                let ids = held.keys.sorted()
                var rotated: [TaskID: RowID] = [:]
                for (i, id) in ids.enumerated() { rotated[id] = held[ids[(i + 1) % ids.count]] }
                state.leases[1] = rotated
            }
            let firstThird = Array(got[0..<30])
            let acked = try await queues.ack(firstThird, in: "q", consumer: 1)
            #expect(acked.count == 30 && acked.unknown.isEmpty)
            // Rows gone stale: a heartbeat moved them after the backend's record was taken.
            let stale = backend.state.withLock { $0.leases[1] ?? [:] }
            #expect(try await queues.extendLeases(of: 1) == 60)
            backend.state.withLock { $0.leases[1] = stale }
            let secondThird = Array(got[30..<60])
            let completion = try await queues.complete(
                secondThird,
                in: "q",
                results: secondThird.map { NewTask(payload: [9], reference: $0) },
                into: "r",
                consumer: 1
            )
            #expect(completion.ack.count == 30 && completion.resultIDs.count == 30)
            // Rows right again (a heartbeat records them): the rest settles, and nothing twice.
            #expect(try await queues.extendLeases(of: 1) == 30)
            let last = Array(got[60..<90])
            let again = try await queues.ack(last + firstThird, in: "q", consumer: 1)
            #expect(again.count == 30 && again.unknown == firstThird)
            let status = try await queues.status(of: "q")
            #expect(status.depth == 0 && status.inFlight == 0)
            #expect(try await queues.status(of: "r").depth == 30)
            #expect(backend.state.withLock { $0.leases[1] } == nil)
        }
    }
}
