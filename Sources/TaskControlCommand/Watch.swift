import ArgumentParser
import Foundation
import TaskMasterClient

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the stats table, refreshed every second (Ctrl-C to stop).",
        discussion: """
            Examples:
              task-ctl watch --connect 10.0.0.5:5000    # every second, until Ctrl-C
              task-ctl watch --interval 0.5 --count 3   # three tables, then exit
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Seconds between refreshes.")
    var interval: Double = 1

    @Option(help: "Stop after this many refreshes (default: until interrupted).")
    var count: Int?

    func run() async throws {
        let (interval, count) = (max(0.1, self.interval), self.count)
        let clear = isatty(STDOUT_FILENO) == 1 ? "\u{1B}[H\u{1B}[2J" : ""
        try await connection.withMaster { master in
            var shown = 0
            while count.map({ shown < $0 }) ?? true {
                let statistics = try await master.statistics()
                print(clear + StatsTable.render(statistics))
                if clear.isEmpty { print("") }
                shown += 1
                try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
            }
        }
    }
}

struct Drain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until a queue is empty and nothing of it is in flight.",
        discussion: """
            Use it before stopping a master or its workers: run the batch, drain the task
            queue, then stop the workers (SIGTERM), then the master. Prints what is left
            while it waits; exits 1 if the queue did not drain within --timeout.

            Examples:
              task-ctl drain task
              task-ctl drain task --timeout 60 --connect 10.0.0.5:5000
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queue to drain.")
    var queue: String

    @Option(help: "Give up after this many seconds.")
    var timeout: Double = 600

    func run() async throws {
        let (queue, timeout) = (self.queue, self.timeout)
        let drained = try await connection.withMaster { master in
            let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(timeout * 1000)))
            var last = ""
            while ContinuousClock.now < deadline {
                let statistics = try await master.statistics()
                let entry = statistics.queues.first { $0.name == queue }
                let (depth, inFlight) = (entry?.depth ?? 0, entry?.inFlight ?? 0)
                if depth == 0, inFlight == 0 { return true }
                let line = "\(queue): \(depth) queued, \(inFlight) in flight"
                if line != last { printError(line) }
                last = line
                try await Task.sleep(for: .milliseconds(200))
            }
            return false
        }
        guard drained else {
            printError("task-ctl: \(queue) did not drain within \(timeout) s")
            throw ExitCode(1)
        }
        print("\(queue) is drained")
    }
}
