import TaskMasterClient
import TaskMasterConfiguration
import TaskWorkerRuntime
import TestSupport
import Testing

/// `MasterConnector` against real masters: first that answers, then round robin.
@Suite struct MasterConnectorTests {
    private struct Lost: Error {}

    @Test func itUsesTheFirstThatAnswersAndAfterALossStartsWithTheNext() async throws {
        let key = "connector-\(UInt64.random(in: 0...UInt64.max))"
        let a = try await MasterProcess.start(authKey: key)
        let b = try await MasterProcess.start(authKey: key)
        let refusing = try RefusingLoopbackPort()
        defer { refusing.release() }
        let nobody = refusing.port
        var settings = ConnectionSettings(authKey: Secret(Array(key.utf8)))
        settings.endpoints = [
            Endpoint(host: "127.0.0.1", port: nobody), Endpoint(host: "127.0.0.1", port: a.port),
            Endpoint(host: "127.0.0.1", port: b.port),
        ]
        let masters = MasterConnector(settings: settings, name: "connector test")

        // The first does not answer: the second does, and is used again while it works.
        #expect(try await masters.withConnection { $0.master } == a.address)
        #expect(try await masters.withConnection { $0.master } == a.address)
        #expect(masters.current.port == a.port)
        // A connection that ends with an error moves on to the next master, though a is up.
        await #expect(throws: Lost.self) { try await masters.withConnection { _ in throw Lost() } }
        #expect(masters.current.port == b.port)
        #expect(try await masters.withConnection { $0.master } == b.address)
        // Round robin: after b, the first again, which still does not answer, then a.
        await #expect(throws: Lost.self) { try await masters.withConnection { _ in throw Lost() } }
        #expect(try await masters.withConnection { $0.master } == a.address)

        // None answers: one error naming each with its reason.
        await a.stop()
        await b.stop()
        let error = try await #require(throws: ClientError.self) { try await masters.withConnection { $0.master } }
        #expect(error.code == .connectFailed)
        #expect(
            error.message
                == "can't connect to 127.0.0.1:\(a.port) (connection refused), 127.0.0.1:\(b.port) (connection refused) or 127.0.0.1:\(nobody) (connection refused)",
            "\(error.message)"
        )
    }
}
