import ArgumentParser
import Foundation
import TaskMasterClient
import TaskWire

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per queue: depth, in flight, totals; and the connected clients.",
        discussion: """
            Examples:
              task-ctl stats
              task-ctl stats --json | jq '.queues[] | select(.name == "task") | .depth'
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        let statistics = try await connection.withMaster { try await $0.statistics() }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(StatsDocument(statistics)), as: UTF8.self))
        } else {
            print(StatsTable.render(statistics))
        }
    }
}

/// The `--json` shape of `stats`.
struct StatsDocument: Codable {
    struct Queue: Codable {
        var name: String
        var depth: UInt64
        var in_flight: UInt64
        var maxsize: UInt64
        var waiting_consumers: UInt64
        var total_put: UInt64
        var total_delivered: UInt64
        var total_acked: UInt64
        var total_nacked: UInt64
        var total_redelivered: UInt64
        var total_dead: UInt64
    }
    struct Client: Codable {
        var kind: String
        var address: String
        var name: String
        var leased: UInt64
        var connected_seconds: UInt64
        var tasks_done: UInt64?
        var tasks_failed: UInt64?
        var worker_uptime_seconds: UInt64?
        var seconds_since_heartbeat: UInt64?
    }
    var uptime_seconds: UInt64
    var queues: [Queue]
    var clients: [Client]

    init(_ statistics: ServerStatistics) {
        uptime_seconds = statistics.uptimeSeconds
        queues = statistics.queues.map {
            Queue(
                name: $0.name,
                depth: $0.depth,
                in_flight: $0.inFlight,
                maxsize: $0.maxSize,
                waiting_consumers: $0.waitingConsumers,
                total_put: $0.totalPut,
                total_delivered: $0.totalDelivered,
                total_acked: $0.totalAcked,
                total_nacked: $0.totalNacked,
                total_redelivered: $0.totalRedelivered,
                total_dead: $0.totalDead
            )
        }
        clients = statistics.clients.map {
            Client(
                kind: $0.kind == .native ? "native" : "python",
                address: $0.address,
                name: $0.name,
                leased: $0.leased,
                connected_seconds: $0.connectedSeconds,
                tasks_done: $0.lastReport?.tasksDone,
                tasks_failed: $0.lastReport?.tasksFailed,
                worker_uptime_seconds: $0.lastReport?.uptimeSeconds,
                seconds_since_heartbeat: $0.lastReport == nil ? nil : $0.secondsSinceReport
            )
        }
    }
}

/// The human-readable `stats` table.
enum StatsTable {
    static func render(_ statistics: ServerStatistics) -> String {
        var lines: [[String]] = [
            [
                "QUEUE", "DEPTH", "IN FLIGHT", "MAXSIZE", "WAITING", "PUT", "DELIVERED", "ACKED", "NACKED",
                "REDELIVERED", "DEAD",
            ]
        ]
        for q in statistics.queues {
            lines.append([
                q.name, "\(q.depth)", "\(q.inFlight)", q.maxSize == 0 ? "-" : "\(q.maxSize)", "\(q.waitingConsumers)",
                "\(q.totalPut)", "\(q.totalDelivered)", "\(q.totalAcked)", "\(q.totalNacked)", "\(q.totalRedelivered)",
                "\(q.totalDead)",
            ])
        }
        var text = table(lines)
        text += "\n\n"
        var clients: [[String]] = [["CLIENT", "KIND", "ADDRESS", "LEASED", "DONE", "FAILED", "CONNECTED", "HEARTBEAT"]]
        for c in statistics.clients {
            clients.append([
                c.name.isEmpty ? "-" : c.name, c.kind == .native ? "native" : "python", c.address, "\(c.leased)",
                c.lastReport.map { "\($0.tasksDone)" } ?? "-", c.lastReport.map { "\($0.tasksFailed)" } ?? "-",
                "\(c.connectedSeconds) s", c.lastReport == nil ? "-" : "\(c.secondsSinceReport) s ago",
            ])
        }
        text += table(clients)
        text += "\n\nuptime \(statistics.uptimeSeconds) s, \(statistics.clients.count) client(s)"
        return text
    }

    private static func table(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == 0
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
