import MemoryBackend
import QueueBackend
import Synchronization
import Testing

/// The memory limit: puts wait for room and then fail naming it; gets, acks and completions
/// always go through, and what they free lets waiting puts in.
@Suite struct MemoryLimitTests {
    /// A payload of `size` bytes.
    private func task(_ size: Int) -> NewTask { NewTask(payload: [UInt8](repeating: 7, count: size)) }

    @Test func aPutPastTheLimitFailsNamingItAndNothingAcceptedIsDropped() async throws {
        let budget = MemoryBudget(limit: 10_000)
        let backend = try MemoryBackend(budget: budget)
        let accepted = try await backend.put([task(4000), task(4000)], into: "q")
        #expect(accepted.count == 2)
        do {
            _ = try await backend.put([task(1000), task(4000)], into: "q", wait: .none)
            Issue.record("a put past the memory limit must fail")
        } catch {
            #expect(error.code == .memoryLimit)
            #expect(error.message.contains("memory limit 9.8 KiB reached"))
            #expect(error.acceptedIDs.count == 1)
        }
        #expect(try await backend.status(of: "q").depth == 3)
        #expect(budget.used <= budget.limit)
    }

    @Test func aWaitingPutGoesInOnceAnAckFreesRoom() async throws {
        let budget = MemoryBudget(limit: 10_000)
        let backend = try MemoryBackend(budget: budget)
        try await withWaitTimer(backend) {
            _ = try await backend.put([task(8000)], into: "big")
            let waiting = Task { try await backend.put([task(5000)], into: "other", wait: .upTo(.seconds(10))) }
            try await waitUntil { try await backend.status(of: "other").waitingProducers == 1 }
            // Taking is never refused; acknowledging frees the memory.
            let got = try await backend.get(from: "big", maxItems: 1, consumer: 1)
            try await backend.ack(got.map(\.id), in: "big", consumer: 1)
            #expect(try await waiting.value.count == 1)
        }
    }

    @Test func resultsOfCompletionsGoPastTheLimit() async throws {
        let budget = MemoryBudget(limit: 10_000)
        let backend = try MemoryBackend(budget: budget)
        _ = try await backend.put([task(4000), task(4000)], into: "task")
        let got = try await backend.get(from: "task", maxItems: 2, consumer: 1)
        let results = got.map { NewTask(payload: [UInt8](repeating: 1, count: 6000), reference: $0.id) }
        let completion = try await backend.complete(
            got.map(\.id),
            in: "task",
            results: results,
            into: "result",
            consumer: 1
        )
        #expect(completion.resultIDs.count == 2)
        #expect(budget.used > budget.limit)  // over, for results only; puts wait until it drains
    }

    @Test func aQueuesByteCapacityBoundsItAlone() async throws {
        let backend = try MemoryBackend(limits: QueueLimits(maxBytes: ["small": 100]))
        _ = try await backend.put([task(60)], into: "small")
        do {
            _ = try await backend.put([task(60)], into: "small", wait: .none)
            Issue.record("past max_bytes must fail")
        } catch {
            #expect(error.code == .queueFull && error.message.contains("max_bytes 100 bytes"))
        }
        _ = try await backend.put([task(600)], into: "other")
    }
}

/// The log hears of the memory limit once per episode: when puts start waiting, and when none do.
@Suite struct MemoryLimitEpisodeTests {
    @Test func theLimitIsReportedOncePerEpisode() async throws {
        let reports = ReportLog()
        let budget = MemoryBudget(limit: 10_000)
        let backend = try MemoryBackend(budget: budget, onMemoryLimit: { reports.append($0) })
        try await withWaitTimer(backend) {
            _ = try await backend.put([NewTask(payload: [UInt8](repeating: 1, count: 8000))], into: "a")
            let waiting = (0..<3).map { index in
                Task {
                    try await backend.put(
                        [NewTask(payload: [UInt8](repeating: 2, count: 3000))],
                        into: "b\(index)",
                        wait: .upTo(.seconds(10)),
                        consumer: ConsumerID(index + 1)
                    )
                }
            }
            try await waitUntil(within: .seconds(30)) { reports.values == [true] }
            let got = try await backend.get(from: "a", maxItems: 1, consumer: 9)
            try await backend.ack(got.map(\.id), in: "a", consumer: 9)
            for put in waiting { _ = try await put.value }
            try await waitUntil(within: .seconds(30)) { reports.values == [true, false] }
        }
    }
}

extension MemoryLimitEpisodeTests {
    @Test func putsThatGiveUpOneAfterAnotherAreOneEpisode() async throws {
        let reports = ReportLog()
        let budget = MemoryBudget(limit: 10_000)
        let backend = try MemoryBackend(budget: budget, onMemoryLimit: { reports.append($0) })
        try await withWaitTimer(backend) {
            _ = try await backend.put([NewTask(payload: [UInt8](repeating: 1, count: 8000))], into: "a")
            // One client's puts, each giving up after its wait, the next one right after.
            for _ in 0..<4 {
                do {
                    _ = try await backend.put(
                        [NewTask(payload: [UInt8](repeating: 2, count: 3000))],
                        into: "b",
                        wait: .upTo(.milliseconds(60))
                    )
                    Issue.record("a put past the memory limit went in")
                } catch let error as QueueError {
                    #expect(error.code == .memoryLimit)
                }
            }
            // A put that doesn't wait meets the limit too.
            await #expect(throws: QueueError.self) {
                try await backend.put([NewTask(payload: [UInt8](repeating: 2, count: 3000))], into: "b", wait: .none)
            }
            try await waitUntil(within: .seconds(30)) { reports.values == [true] }
            try await Task.sleep(for: .milliseconds(200))
            #expect(reports.values == [true], "the episode ended while memory was still full")
            let got = try await backend.get(from: "a", maxItems: 1, consumer: 9)
            try await backend.ack(got.map(\.id), in: "a", consumer: 9)
            try await waitUntil(within: .seconds(30)) { reports.values == [true, false] }
        }
    }
}

/// What the memory-limit callback was told, in order.
private final class ReportLog: Sendable {
    private let state = Mutex<[Bool]>([])
    func append(_ value: Bool) { state.withLock { $0.append(value) } }
    var values: [Bool] { state.withLock { $0 } }
}
