import Foundation
import Logging
import PostgresBackend
import Synchronization
import Testing

/// The `--backend` URL and where its password comes from; the password never in what is logged.
@Suite struct PostgresURLTests {
    @Test func severalHostsPortsAndOptionsAreRead() throws {
        let url = try PostgresURL(
            "postgres://taskmaster@db1:5433,db2,[::1]:6000/tasks?sslmode=require&schema=tm2&connect_timeout=2.5"
        )
        #expect(url.hosts.map(\.name) == ["db1", "db2", "::1"])
        #expect(url.hosts.map(\.port) == [5433, 5432, 6000])
        #expect(url.user == "taskmaster" && url.password == nil && url.database == "tasks")
        #expect(url.tls == .require && url.schema == "tm2")
        #expect(url.connectTimeout == .milliseconds(2500))
        #expect(url.redacted == "postgres://taskmaster@db1:5433,db2:5432,[::1]:6000/tasks?sslmode=require&schema=tm2")
    }

    @Test func defaultsAndPercentEscapes() throws {
        let url = try PostgresURL("postgresql://us%40er:p%3Ass@localhost/my%20db")
        #expect(url.user == "us@er" && url.password == "p:ss" && url.database == "my db")
        #expect(
            url.tls == .disable && url.schema == "taskmaster" && url.hosts == [.init(name: "localhost", port: 5432)]
        )
    }

    @Test func aPasswordInTheURLIsNeverInItsPrintedForm() throws {
        let url = try PostgresURL("postgres://tm:Sup3r-Secret@db1/tasks?sslmode=verify-full")
        #expect(url.password == "Sup3r-Secret")
        for text in [url.redacted, url.description, "\(url)", String(describing: url)] {
            #expect(!text.contains("Sup3r-Secret"), "\(text)")
            #expect(text.contains("<redacted>"))
        }
    }

    @Test(arguments: [
        "mysql://db/tasks", "postgres://db1", "postgres:///tasks", "postgres://db1:99999/tasks",
        "postgres://db1:x/tasks", "postgres://db1/tasks?sslmode=maybe", "postgres://db1/tasks?schema=Bad-Name",
        "postgres://db1/tasks?schema=x;drop", "postgres://db1/tasks?colour=blue", "postgres://db1,/tasks",
    ])
    func badURLsAreRefusedWithOneLine(_ text: String) {
        do {
            _ = try PostgresURL(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.code == .invalidURL)
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func thePasswordComesFromTheURLThenPGPASSWORDThenTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        # comment
        other:5432:tasks:tm:wrong
        db2:*:tasks:tm:from\\:file
        *:*:*:*:fallback
        """.write(to: file, atomically: true, encoding: .utf8)
        let inURL = try PostgresURL("postgres://tm:in-url@db1,db2/tasks")
        #expect(
            try PostgresPassword.resolve(for: inURL, environment: ["PGPASSWORD": "env"], file: file.path) == "in-url"
        )
        let url = try PostgresURL("postgres://tm@db1,db2/tasks")
        #expect(try PostgresPassword.resolve(for: url, environment: ["PGPASSWORD": "env"], file: file.path) == "env")
        // db1 has no line of its own: the wildcard line after db2's… but hosts are tried in
        // order, and db1 matches the catch-all.
        #expect(try PostgresPassword.resolve(for: url, environment: [:], file: file.path) == "fallback")
        let second = try PostgresURL("postgres://tm@db2/tasks")
        #expect(try PostgresPassword.resolve(for: second, environment: [:], file: file.path) == "from:file")
        #expect(try PostgresPassword.resolve(for: url, environment: [:], file: nil) == nil)
        #expect(throws: PostgresBackendError.self) {
            try PostgresPassword.resolve(for: url, environment: [:], file: "/nonexistent/pgpass")
        }
    }

    @Test func theBackendLogsItsURLWithoutThePassword() async throws {
        let lines = LogCapture()
        let url = try PostgresURL("postgres://tm:Very-Secret-Password@127.0.0.1:1/tasks?connect_timeout=0.2")
        let logger = Logger(label: "test") { _ in CapturingHandler(capture: lines) }
        let backend = try PostgresBackend(
            settings: PostgresBackendSettings(url: url, password: url.password, unavailableTimeout: .milliseconds(300)),
            logger: logger
        )
        // Nothing listens on port 1: the put waits its bounded time and fails, and the backend
        // logs what it tries.
        let service = Task { for service in backend.services { try await service.run() } }
        do {
            _ = try await backend.put([.init(payload: [1])], into: "q")
            Issue.record("a put with no database must fail")
        } catch {
            #expect(error.code == .backendUnavailable)
            #expect(!error.message.contains("\n"))
        }
        service.cancel()
        _ = await service.result
        let text = lines.all.joined(separator: "\n")
        #expect(text.contains("127.0.0.1:1"), "\(text)")
        #expect(!text.contains("Very-Secret-Password"), "\(text)")
    }
}

final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.append("\(event.message) \(all.map { "\($0)=\($1)" }.sorted().joined(separator: " "))")
    }
}
