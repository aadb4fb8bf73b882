import Foundation
import TestSupport

/// `task-ctl batch --json`'s output.
struct BatchSummary: Decodable {
    var submitted: Int
    var completed: Int
    var wrong: Int
    var missing: Int
    var duplicates: Int
    var foreign: Int
    var seconds: Double
    var tasks_per_second: Double

    init(stdout: [String]) throws {
        guard let line = stdout.last(where: { $0.hasPrefix("{") }) else {
            throw TestFailure("no JSON summary in task-ctl's output: \(stdout)")
        }
        self = try JSONDecoder().decode(BatchSummary.self, from: Data(line.utf8))
    }
}

extension MasterProcess {
    /// Stats of the master as task-ctl prints them with --json.
    func stats() async throws -> StatsSnapshot {
        let (status, stdout, stderr) = try await ctl(["stats", "--json"], within: .seconds(30))
        guard status == 0 else { throw TestFailure("task-ctl stats failed: \(stderr)") }
        return try JSONDecoder().decode(StatsSnapshot.self, from: Data(stdout.joined(separator: "\n").utf8))
    }
}

struct StatsSnapshot: Decodable {
    struct Queue: Decodable {
        var name: String
        var depth: Int
        var in_flight: Int
        var total_put: Int
        var total_acked: Int
        var total_redelivered: Int
        var total_delivered: Int?
    }
    struct Client: Decodable {
        var kind: String
        var name: String
        var leased: Int
    }
    var queues: [Queue]
    var clients: [Client]

    func queue(_ name: String) -> Queue? { queues.first { $0.name == name } }
}
