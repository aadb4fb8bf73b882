import QueueBackend
import Testing

/// What a backend that stores its queues must keep across a restart.
@Suite struct DurabilityTests {
    @Test(arguments: BackendUnderTest.durable)
    func queuedAndLeasedTasksAreThereAfterARestartAndDoneOnesAreNot(_ kind: BackendUnderTest) async throws {
        let store = "durable-\(UInt64.random(in: 0...UInt64.max))"
        let limits = QueueLimits(maxDeliveries: 1)
        let first = try await kind.start(limits, store)
        let queues = first.backend
        let ids = try await queues.put(items([1, 2, 3, 4, 5]), into: "task")
        let done = try await queues.get(from: "task", maxItems: 2, consumer: 1)
        _ = try await queues.complete(
            done.map(\.id),
            in: "task",
            results: done.map { NewTask(payload: $0.payload, reference: $0.id) },
            into: "result",
            consumer: 1
        )
        _ = try await queues.get(from: "task", maxItems: 1, consumer: 2)  // leased, not acked
        let poison = try await queues.put(items([9]), into: "poison")
        _ = try await queues.get(from: "poison", maxItems: 1, consumer: 3)
        _ = try await queues.release(3)  // one delivery allowed: dead-lettered
        try await first.stop()

        let second = try await kind.start(limits, store)
        do {
            let again = second.backend
            // Three tasks left (the leased one queued again), two results, one dead letter.
            let tasks = try await again.get(from: "task", maxItems: 10, consumer: 1)
            #expect(tasks.map(\.id) == Array(ids[2...]))
            let results = try await again.get(from: "result", maxItems: 10, consumer: 1)
            #expect(results.map(\.reference) == Array(ids[0..<2]))
            let dead = try await again.peek("poison.dead", maxItems: 10)
            #expect(dead.map(\.id) == poison)
            #expect(dead.first?.error?.contains("disconnected") == true)
            // Ids keep growing across the restart.
            let next = try await again.put(items([6]), into: "task")
            #expect(next[0] > (ids + poison).max()!)
        } catch {
            try? await second.stopAndRemove()
            throw error
        }
        try await second.stopAndRemove()
    }
}
