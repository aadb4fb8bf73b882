import Foundation
import TestSupport
import Testing

/// The PostgreSQL test harness (TestSupport's `PostgresCluster`) on the failure the PostgreSQL
/// backend has to survive: the primary killed, its synchronous standby promoted.
@Suite(
    .enabled(
        if: Prerequisite.postgres,
        "needs PostgreSQL's server binaries (Debian's postgresql package: scripts/setup-system installs it)"
    )
)
struct PostgresClusterTests {
    @Test func everyCommitAcknowledgedByAKilledPrimaryIsOnItsPromotedSynchronousStandby() async throws {
        let (primary, standby) = try await PostgresCluster.with { primary in
            let standby = try await primary.makeSynchronousStandby(name: "standby1")
            #expect(try await standby.value("SELECT pg_is_in_recovery()") == "t")
            try await primary.psql("CREATE TABLE acknowledged (id int PRIMARY KEY, at timestamptz DEFAULT now())")

            // One transaction per INSERT; psql prints each id once its commit is acknowledged.
            let count = 200
            let inserts = (1...count).map { "INSERT INTO acknowledged (id) VALUES (\($0)) RETURNING id;" }
            let acknowledged = try await primary.psql(inserts.joined(separator: "\n")).map { $0[0] }
            #expect(acknowledged == (1...count).map(String.init))

            try await primary.kill9()
            #expect(!primary.isRunning)
            try await standby.promote()

            let present = Set(try await standby.psql("SELECT id FROM acknowledged").map { $0[0] })
            let lost = acknowledged.filter { !present.contains($0) }
            #expect(lost.isEmpty, "acknowledged commits missing on the promoted standby: \(lost)")
            // It writes on its own: no synchronous_standby_names copied from the primary to wait on.
            let written = try await standby.psql(
                "INSERT INTO acknowledged (id) VALUES (\(count + 1)) RETURNING id",
                within: .seconds(10)
            )
            #expect(written == [["\(count + 1)"]])
            #expect(try await standby.value("SELECT count(*) FROM acknowledged") == "\(count + 1)")
            return (primary, standby)
        }
        #expect(!primary.isRunning && !standby.isRunning)
    }

    @Test func aClusterKilledWithSIGKILLRestartsWithItsCommittedRows() async throws {
        try await PostgresCluster.with(name: "restarted") { cluster in
            try await cluster.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100);")
            let port = cluster.port
            try await cluster.kill9()
            try await cluster.restart()
            #expect(cluster.port == port)
            #expect(try await cluster.value("SELECT count(*) FROM t") == "100")
            #expect(
                cluster.logTail(200).contains("not properly shut down"),
                "no crash recovery in:\n\(cluster.logTail())"
            )
        }
    }
}
