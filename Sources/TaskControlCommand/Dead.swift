import ArgumentParser
import Foundation
import TaskMasterClient
import TaskWire

struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect and handle dead letters: tasks given up on after too many deliveries.",
        discussion: """
            A task delivered max_deliveries times without being acknowledged (its workers
            crashed, hung or gave it back) moves to <queue>.dead with the reason of its
            last failure.

            Examples:
              task-ctl dead list task       # show what is in task.dead (left in place)
              task-ctl dead requeue task    # move everything in task.dead back to task
              task-ctl dead purge task      # delete everything in task.dead
            """
    )

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case list, requeue, purge
    }

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "list, requeue or purge.")
    var action: Action

    @Argument(help: "The queue whose dead letters to handle (e.g. task, for task.dead).")
    var queue: String

    @Option(help: "For list: how many at most.")
    var limit = 100

    @Flag(help: "For list: print JSON.")
    var json = false

    func run() async throws {
        let deadQueue = queue.hasSuffix(".dead") ? queue : queue + ".dead"
        let (action, limit, json) = (self.action, self.limit, self.json)
        try await connection.withMaster { master in
            switch action {
            case .list:
                let items = try await master.peek(deadQueue, maxItems: limit)
                if json {
                    let rows = items.map {
                        ["id": "\($0.id)", "attempts": "\($0.attempt)", "value": ValueText.describe($0.bytes)]
                    }
                    let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else if items.isEmpty {
                    print("\(deadQueue) is empty")
                } else {
                    for item in items {
                        print("task \(item.id)  attempts \(item.attempt)  \(ValueText.describe(item.bytes))")
                    }
                }
            case .requeue:
                let moved = try await master.maintain(deadQueue, .requeueDead)
                print("moved \(moved) task(s) from \(deadQueue) back to \(String(deadQueue.dropLast(5)))")
            case .purge:
                let purged = try await master.maintain(deadQueue, .purge)
                print("deleted \(purged) task(s) from \(deadQueue)")
            }
        }
    }
}
