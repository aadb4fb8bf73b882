import Logging
import QueueBackend
import TestSupport
import Testing

@testable import PostgresBackend

/// A master finds the schema an older master made and migrates it, keeping its tasks.
@Suite(.enabled(if: Prerequisite.postgres, "PostgreSQL's server binaries are not installed"))
struct SchemaMigrationTests {
    @Test func aSchemaAtVersionOneIsMigratedToTheLatestAndKeepsItsTasks() async throws {
        let cluster = try await SharedPostgres.cluster()
        let schema = "s_migrate_\(UInt32.random(in: 0...UInt32.max))"
        // What a master of version 1 left: its tables, two tasks queued and one leased.
        try await cluster.psql(
            """
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).schema_version (version integer NOT NULL);
            INSERT INTO \(schema).schema_version (version) VALUES (1);
            SET search_path TO \(schema);
            \(Schema.migrations[0])
            INSERT INTO tasks (queue, payload) VALUES ('q', '\\x01'), ('q', '\\x02');
            INSERT INTO tasks (queue, payload, lease_owner, lease_until, attempt)
                VALUES ('q', '\\x03', 'gone/1', now() - interval '1 second', 1);
            """
        )
        let indexes =
            "SELECT indexname FROM pg_indexes WHERE schemaname = '\(schema)' AND tablename = 'tasks' ORDER BY 1"
        #expect(try await cluster.psql(indexes) == [["tasks_id"], ["tasks_leased"], ["tasks_ready"]])

        let settings = PostgresBackendSettings(
            url: try PostgresURL("\(cluster.url)?schema=\(schema)"),
            unavailableTimeout: .seconds(60)
        )
        let backend = try PostgresBackend(settings: settings, logger: Logger(label: "migration-test"))
        let running = RunningBackend(backend: backend, services: backend.services)
        do {
            // The queued tasks, in order, then the leased one its lease ran out on.
            let got = try await backend.get(from: "q", maxItems: 5, consumer: 1)
            #expect(values(got) == [1, 2])
            #expect(try await backend.expireLeases() == 1)
            let again = try await backend.get(from: "q", maxItems: 5, consumer: 1)
            #expect(values(again) == [3] && again.first?.attempt == 2)
            // Acks find them by row, nacks by id among the leases (no index on id since version 3).
            #expect(try await backend.ack(got.map(\.id), in: "q", consumer: 1).count == 2)
            #expect(try await backend.nack(again.map(\.id), in: "q", consumer: 1).count == 1)
            #expect(try await cluster.value("SELECT max(version) FROM \(schema).schema_version") == "3")
            #expect(
                try await cluster.psql(indexes) == [["tasks_leased"], ["tasks_ready"]]
            )
            try await running.stopAndRemove()
        } catch {
            try? await running.stopAndRemove()
            throw error
        }
    }
}
