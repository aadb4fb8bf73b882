import ArgumentParser
import Foundation
import TaskMasterClient
import TaskMasterStatus
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
            // The same document as the admin endpoint's /api/stats (docs/STATUS.md).
            print(String(decoding: try statistics.json(pretty: true), as: UTF8.self))
        } else {
            print(StatsTable.render(statistics))
        }
    }
}

/// The human-readable `stats` table.
enum StatsTable {
    static func render(_ statistics: StatusSnapshot) -> String {
        var lines: [[String]] = [
            [
                "QUEUE", "DEPTH", "BYTES", "IN FLIGHT", "MAXSIZE", "WAITING", "PUT", "DELIVERED", "ACKED", "NACKED",
                "REDELIVERED", "DEAD",
            ]
        ]
        for q in statistics.queues {
            lines.append([
                q.name, "\(q.depth)", ByteCount(q.bytes).description, "\(q.inFlight)",
                q.maxSize == 0 ? "-" : "\(q.maxSize)",
                "\(q.waitingConsumers)",
                "\(q.totalPut)", "\(q.totalDelivered)", "\(q.totalAcked)", "\(q.totalNacked)", "\(q.totalRedelivered)",
                "\(q.totalDead)",
            ])
        }
        var text = table(lines)
        text += "\n\n"
        var clients: [[String]] = [["CLIENT", "KIND", "ADDRESS", "LEASED", "DONE", "FAILED", "CONNECTED", "HEARTBEAT"]]
        for c in statistics.clients {
            clients.append([
                c.name.isEmpty ? "-" : c.name, c.kind.rawValue, c.address, "\(c.leased)",
                c.tasksDone.map { "\($0)" } ?? "-", c.tasksFailed.map { "\($0)" } ?? "-",
                "\(Int(c.connectedSeconds)) s", c.lastHeartbeatSecondsAgo.map { "\(Int($0)) s ago" } ?? "-",
            ])
        }
        text += table(clients)
        text += "\n\nuptime \(Int(statistics.uptimeSeconds)) s, \(statistics.clients.count) client(s), memory "
        text +=
            "\(ByteCount(Int(clamping: statistics.memoryUsedBytes))) of \(ByteCount(Int(clamping: statistics.memoryLimitBytes)))"
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
