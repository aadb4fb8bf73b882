import ArgumentParser
import Foundation
import Pickle
import TaskMasterClient
import TaskWire

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put values on a queue: integers (any size) as Python ints, decimals as floats, the rest as str.",
        discussion: """
            Prints the id each value got. Put `--` before values that start with a minus
            sign.

            Examples:
              task-ctl put task 7 300 100000
              task-ctl put task -- -5 7
              task-ctl put notes "a text with spaces" 42 --string
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queue, e.g. task.")
    var queue: String

    @Argument(help: "The values.")
    var values: [String]

    @Flag(help: "Put every value as a str, even numbers.")
    var string = false

    @Option(help: "Seconds to wait for room on a full queue (default: wait as long as it takes).")
    var timeout: Double?

    func validate() throws {
        guard !values.isEmpty else { throw ValidationError("give at least one value") }
    }

    func run() async throws {
        let items = try values.map { NewItem(payload: try ValueText.parse($0, forceString: string).pickled()) }
        let wait = timeout.map { WaitTime.seconds($0) } ?? .forever
        let ids = try await connection.withMaster { master in
            do {
                return try await master.put(items, into: queue, wait: wait)
            } catch let error as ClientError where error.code == .serverError {
                printError("task-ctl: \(error.message)")
                throw ExitCode(1)
            }
        }
        for (id, value) in zip(ids, values) { print("put \(value) as task \(id)") }
    }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take values off a queue and print them, one per line (they are acknowledged).",
        discussion: """
            Exits 1 when the queue stayed empty.

            Examples:
              task-ctl get result                      # one item if there is one, at once
              task-ctl get result --count 10 --timeout 5
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The queue, e.g. result.")
    var queue: String

    @Option(help: "Seconds to wait for an item (default 0: answer at once).")
    var timeout: Double = 0

    @Option(help: "How many items to take at most.")
    var count = 1

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be at least 1") }
        guard timeout >= 0 else { throw ValidationError("--timeout must not be negative") }
    }

    func run() async throws {
        let deliveries = try await connection.withMaster { master in
            let got = try await master.get(from: queue, maxItems: count, wait: .seconds(timeout))
            if !got.isEmpty { try await master.ack(got.map(\.id), in: queue) }
            return got
        }
        guard !deliveries.isEmpty else {
            printError("task-ctl: queue '\(queue)' is empty (waited \(timeout) s)")
            throw ExitCode(1)
        }
        for delivery in deliveries { print(ValueText.describe(delivery.bytes)) }
    }
}

struct Ping: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that the master answers, and how fast.",
        discussion: """
            Exits 0 if the master answered; 2 if it could not be reached or refused us (a
            wrong authkey, say), with the reason on stderr. With several addresses the
            first that answers is the one measured.

            Examples:
              task-ctl ping --connect 10.0.0.5:5000
              task-ctl ping --connect 10.0.0.5:5000,10.0.0.6:5000
              task-ctl ping --wait-for-master 30s     # wait for a master that is starting
            """
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let (name, master, elapsed) = try await connection.withMaster { master in
            (master.masterName, master.master, try await master.ping())
        }
        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        print("pong from \(name) at \(master) in \(String(format: "%.3f", ms)) ms")
    }
}
