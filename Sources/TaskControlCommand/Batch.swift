import ArgumentParser
import Foundation
import SquaringJobs
import Synchronization
import TaskMasterClient

struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put N numbers, wait for all N squares, check every one, print a summary.",
        discussion: """
            Exit status 0 when every task got its right square, 1 otherwise, 2 when no
            master answered (or the master was lost and none answered again within
            --timeout). With --json the summary is one JSON object: submitted, completed,
            wrong, missing, duplicates, foreign, seconds, tasks_per_second. Needs running
            task-workers.

            Examples:
              task-ctl batch --count 100000
              task-ctl batch --count 1000 --json --timeout 60
              task-ctl batch --count 1000 --connect 10.0.0.5:5000 --wait-for-master 1m
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "How many numbers to square.")
    var count: Int

    @Option(help: "The first number (numbers are start, start+1, …). Default 1.")
    var start: Int = 1

    @Option(help: "Random numbers from 0 to this instead of a sequence, like the classic Python master.")
    var random: Int?

    @Option(help: "Queue to put tasks on.")
    var taskQueue = "task"

    @Option(help: "Queue to collect results from.")
    var resultQueue = "result"

    @Option(
        help:
            "Items per request: numbers per put, results per get, ids per ack (at most the master's max_items_per_request)."
    )
    var chunk = 1000

    @Option(help: "Give up waiting for results, or for a lost master to come back, after this many seconds.")
    var timeout: Double = 600

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(help: "Print every task put and every result, like the classic Python master.")
    var echo = false

    @Flag(help: "No progress display.")
    var quiet = false

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be at least 1") }
        guard chunk > 0 else { throw ValidationError("--chunk must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let random, random < 0 { throw ValidationError("--random must not be negative") }
        guard random != nil || start.addingReportingOverflow(count).overflow == false else {
            throw ValidationError("--start + --count overflows 64 bits")
        }
    }

    func run() async throws {
        let numbers: [Int]
        if let random {
            numbers = (0..<count).map { _ in Int.random(in: 0...random) }
        } else {
            numbers = Array(start..<(start + count))
        }
        var batch = SquaringBatch(numbers: numbers)
        batch.taskQueue = taskQueue
        batch.resultQueue = resultQueue
        batch.chunkSize = chunk
        batch.timeout = .milliseconds(Int64(timeout * 1000))

        let display = ProgressDisplay(enabled: !quiet && !echo && !json)
        let events: (@Sendable (SquaringBatch.Event) -> Void)? = echo ? Self.echo : nil
        let batchToRun = batch
        let (connect, waitForMaster) = try connection.connector()
        let lost = Mutex(false)
        let summary: SquaringBatch.Summary
        do {
            summary = try await batchToRun.run(
                connect: connect,
                progress: { display.update($0) },
                events: events,
                connection: { event in
                    display.interrupt()
                    switch event {
                    case .lost(let error):
                        lost.withLock { $0 = true }
                        printError("task-ctl: lost the master: \(error); reconnecting")
                    case .restored(let master):
                        lost.withLock { $0 = false }
                        printError("task-ctl: reconnected to \(master); the batch goes on")
                    }
                }
            )
        } catch let error as ClientError {
            display.interrupt()
            if lost.withLock({ $0 }) {
                printError(
                    "task-ctl: gave up the batch: no master answered again within --timeout \(Int(timeout)) s (\(error))"
                )
            } else {
                printError("task-ctl: \(ErrorLine.text(error, waited: waitForMaster))")
            }
            throw ExitCode(2)
        }
        display.finish()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(Self.describe(summary, resultQueue: resultQueue))
        }
        if !summary.succeeded { throw ExitCode(1) }
    }

    /// Prints what the classic Python master prints.
    @Sendable static func echo(_ event: SquaringBatch.Event) {
        switch event {
        case .put(let n): print("Put task \(n)")
        case .result(let text): print("Result: \(text)")
        case .wrongResult(let expected, let got): print("Wrong result: \(got) (expected \(expected))")
        }
    }

    static func describe(_ summary: SquaringBatch.Summary, resultQueue: String) -> String {
        var text = "submitted \(summary.submitted), completed \(summary.completed), wrong \(summary.wrong), "
        text += "missing \(summary.missing) in \(String(format: "%.3f", summary.seconds)) s "
        text += "(\(Int(summary.tasksPerSecond)) tasks/s)"
        if summary.duplicates > 0 { text += ", \(summary.duplicates) duplicate results ignored" }
        if summary.foreign > 0 { text += ", \(summary.foreign) results of other batches left in '\(resultQueue)'" }
        return text
    }
}
