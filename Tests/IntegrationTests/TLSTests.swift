import Foundation
import TestSupport
import Testing

/// Certificates made with the openssl command for one test run.
struct TLSFixture {
    let directory: URL
    var ca: String { directory.appendingPathComponent("ca.pem").path }
    var serverCertificate: String { directory.appendingPathComponent("server.pem").path }
    var serverKey: String { directory.appendingPathComponent("server.key").path }
    var clientCertificate: String { directory.appendingPathComponent("client.pem").path }
    var clientKey: String { directory.appendingPathComponent("client.key").path }
    var otherCA: String { directory.appendingPathComponent("other-ca.pem").path }

    static func make() async throws -> TLSFixture {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "taskmaster-tls-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fixture = TLSFixture(directory: directory)
        let d = directory.path
        let script = """
            set -e
            cd '\(d)'
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=taskmaster-test-ca 2>/dev/null
            openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=worker 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
            """
        let process = try ManagedProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", script], name: "openssl")
        guard await process.waitForExit(within: .seconds(60)) == 0 else {
            throw TestFailure("making certificates with openssl failed:\n\(process.transcript)")
        }
        return fixture
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite(.serialized) struct TLSTests {
    @Test func aBatchRunsOverTLSAndAPlainClientGetsNothingInTheClear() async throws {
        let tls = try await TLSFixture.make()
        defer { tls.remove() }
        let master = try await MasterProcess.start(arguments: [
            "--tls-cert", tls.serverCertificate, "--tls-key", tls.serverKey,
        ])
        let worker = try master.startWorker(["--tls-ca", tls.ca])
        let batch = try await master.ctl(["--tls-ca", tls.ca, "batch", "--count", "2000", "--json"])
        #expect(batch.status == 0, "\(batch.stderr)")
        #expect(try BatchSummary(stdout: batch.stdout).completed == 2000)

        // A client that does not speak TLS gets no challenge in the clear, and fails.
        let raw = try RawConnection(port: master.port, timeout: .seconds(1))
        await #expect(throws: (any Error).self) { _ = try await raw.readFrame() }
        let plain = try await master.ctl(["ping"])
        #expect(plain.status == 2)
        #expect(plain.stderr.count == 1 && plain.stderr[0].hasPrefix("task-ctl: can't connect to"), "\(plain.stderr)")
        // A client that trusts another CA refuses the master.
        let distrustful = try await master.ctl(["--tls-ca", tls.otherCA, "ping"])
        #expect(distrustful.status == 2)
        #expect(distrustful.stderr.count == 1, "\(distrustful.stderr)")
        #expect(
            distrustful.stderr.joined().contains("TLS handshake failed (certificate verify failed)"),
            "\(distrustful.stderr)"
        )
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: .seconds(20)) == 0)
        await master.stop()
    }

    @Test func aMasterThatRequiresClientCertificatesTurnsAwayClientsWithout() async throws {
        let tls = try await TLSFixture.make()
        defer { tls.remove() }
        let master = try await MasterProcess.start(arguments: [
            "--tls-cert", tls.serverCertificate, "--tls-key", tls.serverKey, "--tls-client-ca", tls.ca,
        ])
        let without = try await master.ctl(["--tls-ca", tls.ca, "ping"])
        #expect(without.status == 2)
        let with = try await master.ctl(
            ["--tls-ca", tls.ca, "--tls-cert", tls.clientCertificate, "--tls-key", tls.clientKey, "ping"]
        )
        #expect(with.status == 0, "\(with.stderr)")
        #expect(with.stdout.first?.hasPrefix("pong") == true)
        await master.stop()
    }
}
