import QueueBackend
import TestSupport
import Testing

@testable import PostgresBackend

/// A PostgreSQL lane runs its groups on its own event loop as a task executor: reading a
/// statement's rows (each an `await` of postgres-nio) costs no job of its own. Run as the
/// loop's serial executor instead, this test's 2,000 rows took 24,301 jobs (here: about 20).
@Suite(.enabled(if: Prerequisite.postgres, "PostgreSQL's server binaries are not installed"))
struct LaneExecutorTests {
    @Test func aLaneReadsAThousandRowsInAFewJobs() async throws {
        try await BackendUnderTest.postgres.with { queues in
            let backend = try #require(queues as? PostgresBackend)
            let tasks = (0..<1_000).map { NewTask(payload: [UInt8(truncatingIfNeeded: $0)]) }
            let before = backend.laneJobs(of: "q")
            // A thousand ids come back from the insert, a thousand rows from the take.
            let ids = try await queues.put(tasks, into: "q", wait: .none, consumer: 1)
            let got = try await queues.get(from: "q", maxItems: 1_000, consumer: 2)
            #expect(ids.count == 1_000)
            #expect(got.map(\.id) == ids)
            let jobs = backend.laneJobs(of: "q") - before
            #expect(jobs > 0)
            #expect(jobs < 200)
        }
    }
}
