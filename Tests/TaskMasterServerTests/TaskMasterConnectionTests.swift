import Foundation
import TaskMasterClient
import TaskMasterConfiguration
import TaskWire
import TestSupport
import Testing

/// The client library against an in-process master: pipelined requests, cancelled gets,
/// errors and their codes.
@Suite struct TaskMasterConnectionTests {
    private func connect<T: Sendable>(
        _ master: InProcessMaster,
        key: [UInt8]? = nil,
        _ body: (TaskMasterConnection) async throws -> T
    ) async throws -> T {
        try await TaskMasterConnection.withConnection(
            to: "127.0.0.1",
            port: master.port,
            authKey: key ?? master.key,
            body
        )
    }

    @Test func pipelinedRequestsFromManyTasksEachGetTheirOwnAnswer() async throws {
        try await InProcessMaster.with { master in
            try await connect(master) { client in
                let ids = try await withThrowingTaskGroup(of: [TaskID].self) { group in
                    for batch in 0..<20 {
                        group.addTask {
                            try await client.put(
                                (0..<50).map { NewItem(payload: [UInt8(batch)], reference: TaskID($0)) },
                                into: "q"
                            )
                        }
                    }
                    var all: [TaskID] = []
                    for try await ids in group { all += ids }
                    return all
                }
                #expect(ids.count == 1000 && Set(ids).count == 1000)
                let got = try await client.get(from: "q", maxItems: 1000)
                #expect(Set(got.map(\.id)) == Set(ids))
                #expect(try await client.ack(got.map(\.id), in: "q").count == 1000)
                #expect(try await client.statistics().queues.first { $0.name == "q" }?.totalAcked == 1000)
            }
        }
    }

    @Test func aCancelledGetGivesBackWhatItWasHanded() async throws {
        try await InProcessMaster.with { master in
            try await connect(master) { client in
                let waiting = Task { try await client.get(from: "q", maxItems: 5, wait: .forever) }
                try await Task.sleep(for: .milliseconds(50))
                waiting.cancel()
                await #expect(throws: (any Error).self) { try await waiting.value }
                // The answer the master gives the cancelled get is given back: nothing stays leased.
                _ = try await client.put([NewItem(payload: [1])], into: "q")
                var status = try await client.statistics().queues.first { $0.name == "q" }
                let deadline = ContinuousClock.now.advanced(by: .seconds(5))
                while status?.depth != 1, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                    status = try await client.statistics().queues.first { $0.name == "q" }
                }
                #expect(status?.depth == 1 && status?.inFlight == 0)
            }
        }
    }

    @Test func serverErrorsCarryTheirCodeAndWhatWasAccepted() async throws {
        let smallQueue: (inout MasterConfiguration) -> Void = { $0.queueMaxSizes = ["small": 2] }
        try await InProcessMaster.with(configure: smallQueue) { master in
            try await connect(master) { client in
                do {
                    _ = try await client.put((1...3).map { NewItem(payload: [$0]) }, into: "small", wait: .none)
                    Issue.record("a put past maxsize must fail")
                } catch let error as ClientError {
                    #expect(error.code == .serverError && error.serverCode == .queueFull)
                    #expect(error.acceptedIDs.count == 2)
                }
                // The connection carries on after a request's error.
                #expect(try await client.ping() < .seconds(5))
            }
        }
    }

    @Test func aWrongKeyIsAnAuthenticationErrorAndTheMasterServesOthers() async throws {
        try await InProcessMaster.with { master in
            do {
                try await connect(master, key: Array("wrong".utf8)) { _ in }
                Issue.record("a wrong key must be refused")
            } catch let error as ClientError {
                #expect(error.code == .authenticationFailed)
            }
            #expect(try await connect(master) { try await $0.ping() } < .seconds(5))
        }
    }

    @Test func nothingListeningIsAConnectError() async throws {
        let refusing = try RefusingLoopbackPort()
        defer { refusing.release() }
        let port = refusing.port
        do {
            try await TaskMasterConnection.withConnection(to: "127.0.0.1", port: port, authKey: [1]) { _ in }
            Issue.record("connecting to a closed port must fail")
        } catch let error as ClientError {
            #expect(error.code == .connectFailed)
        }
    }
}
