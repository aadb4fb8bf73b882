import MemoryBackend
import QueueBackend
import Testing

/// Queue names can't be used up by reading: queues made only by waiting gets go when their
/// waits do, and queues that are empty and unused make room for new ones.
@Suite struct QueueReclaimTests {
    @Test func getsOnNewNamesCreateNoQueues() async throws {
        let backend = try MemoryBackend(limits: QueueLimits(maxQueues: 10))
        for index in 0..<10_000 {
            #expect(try await backend.get(from: "nothing-\(index)", maxItems: 1, consumer: 1).isEmpty)
        }
        #expect(backend.queueCount == 0)
        _ = try await backend.put(items([1]), into: "result")  // still room
        #expect(backend.queueCount == 1)
    }

    @Test func aQueueMadeByAWaitingGetGoesWhenTheWaitEnds() async throws {
        let backend = try MemoryBackend()
        try await withWaitTimer(backend) {
            let got = try await backend.get(from: "ghost", maxItems: 1, consumer: 1, wait: .upTo(.milliseconds(20)))
            #expect(got.isEmpty)
            #expect(backend.queueCount == 0)
        }
    }

    @Test func emptyUnusedQueuesMakeRoomAndQueuesHoldingTasksDoNot() async throws {
        let backend = try MemoryBackend(limits: QueueLimits(maxQueues: 3))
        for name in ["a", "b", "c"] {
            _ = try await backend.put(items([1]), into: name)
        }
        do {
            _ = try await backend.put(items([1]), into: "d")
            Issue.record("a fourth queue holding tasks must be refused")
        } catch {
            #expect(error.code == .tooManyQueues)
        }
        // Emptied, "a" keeps its counters until room is needed.
        let got = try await backend.get(from: "a", maxItems: 1, consumer: 1)
        try await backend.ack(got.map(\.id), in: "a", consumer: 1)
        #expect(try await backend.status(of: "a").totalPut == 1)
        _ = try await backend.put(items([1]), into: "d")
        #expect(try await backend.statuses().queues.map(\.name) == ["b", "c", "d"])
    }

    @Test func deadLetterAndResultQueuesAreNeverRefusedForLackOfRoom() async throws {
        let backend = try MemoryBackend(limits: QueueLimits(maxQueues: 1, maxDeliveries: 1))
        _ = try await backend.put(items([1, 2]), into: "task")
        let first = try await backend.get(from: "task", maxItems: 1, consumer: 1)
        _ = try await backend.release(1)  // one delivery allowed: to task.dead
        #expect(try await backend.peek("task.dead", maxItems: 1).map(\.id) == first.map(\.id))
        let second = try await backend.get(from: "task", maxItems: 1, consumer: 2)
        let completion = try await backend.complete(
            second.map(\.id),
            in: "task",
            results: [NewTask(payload: [4], reference: second[0].id)],
            into: "result",
            consumer: 2
        )
        #expect(completion.resultIDs.count == 1)
        #expect(backend.queueCount == 3)
    }
}
