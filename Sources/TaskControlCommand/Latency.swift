import ArgumentParser
import Foundation
import SquaringJobs

struct Latency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure single-task round trips: put one number, wait for its square, repeat.",
        discussion: """
            Prints p50/p90/p99/max in microseconds (--json for one JSON object). Needs
            running workers.

            Examples:
              task-ctl latency --count 1000
              task-ctl latency --count 200 --warmup 20 --json
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "How many round trips.")
    var count = 1000

    @Option(help: "Round trips not counted, to warm up.")
    var warmup = 100

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard count > 0, warmup >= 0 else { throw ValidationError("--count must be positive, --warmup not negative") }
    }

    func run() async throws {
        let (count, warmup) = (self.count, self.warmup)
        let samples = try await connection.withMaster { master in
            // On the connection's event loop: each request and its answer cross no thread.
            try await master.onEventLoop {
                var samples: [Duration] = []
                samples.reserveCapacity(count)
                let roundTrip = RoundTrip()
                for round in 0..<(warmup + count) {
                    switch try await roundTrip.run(round + 1, on: master) {
                    case .squared(let elapsed):
                        if round >= warmup { samples.append(elapsed) }
                    case .wrong(let text):
                        printError("task-ctl: round trip \(round + 1) got a wrong square (\(text))")
                        throw ExitCode(1)
                    case .timedOut:
                        printError(
                            "task-ctl: round trip \(round + 1) got no square within 30 s; check that task-workers are running"
                        )
                        throw ExitCode(1)
                    }
                }
                return samples
            }
        }
        let micros = samples.map { Double($0.components.seconds) * 1e6 + Double($0.components.attoseconds) / 1e12 }
            .sorted()
        func percentile(_ p: Double) -> Double { micros[min(micros.count - 1, Int(Double(micros.count) * p))] }
        let report: [String: Double] = [
            "count": Double(micros.count), "p50_us": percentile(0.5), "p90_us": percentile(0.9),
            "p99_us": percentile(0.99), "max_us": micros.last ?? 0,
        ]
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(
                String(
                    format: "%d round trips: p50 %.0f µs, p90 %.0f µs, p99 %.0f µs, max %.0f µs",
                    micros.count,
                    percentile(0.5),
                    percentile(0.9),
                    percentile(0.99),
                    micros.last ?? 0
                )
            )
        }
    }
}
