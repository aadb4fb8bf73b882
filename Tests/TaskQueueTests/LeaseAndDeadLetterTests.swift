import Synchronization
import TaskQueue
import TestSupport
import Testing

/// A flag a task sets and a test reads.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
}

private func items(_ values: [UInt8]) -> [NewTask] { values.map { NewTask(payload: [$0]) } }

@Suite struct LeaseAndDeadLetterTests {
    @Test func anExpiredLeaseSendsTheTaskBackOnlyOnceItsTimeHasCome() async throws {
        let clock = ManualClock()
        let engine = try QueueEngine(limits: QueueLimits(leaseTimeout: .seconds(30)), clock: clock)
        _ = try await engine.put(items([1, 2]), into: "task")
        let got = try await engine.get(from: "task", maxItems: 1, consumer: 7)
        clock.advance(by: .seconds(29))
        #expect(engine.expireLeases() == 0)
        #expect(engine.leaseCount(consumer: 7) == 1)
        clock.advance(by: .seconds(1))
        #expect(engine.expireLeases() == 1)
        #expect(engine.leaseCount(consumer: 7) == 0)
        let again = try await engine.get(from: "task", maxItems: 5, consumer: 8)
        #expect(again.map(\.id) == got.map(\.id) + [got[0].id + 1])  // back at the front, in order
        #expect(again[0].attempt == 2)
        #expect(again[0].error == "its lease expired")
        // The first consumer's late ack is refused: the task is someone else's now.
        #expect(await engine.ack(got.map(\.id), in: "task", consumer: 7).unknown == got.map(\.id))
    }

    @Test func aHeartbeatKeepsTheLeasesOfABusyConsumer() async throws {
        let clock = ManualClock()
        let engine = try QueueEngine(limits: QueueLimits(leaseTimeout: .seconds(10)), clock: clock)
        _ = try await engine.put(items([1]), into: "task")
        _ = try await engine.get(from: "task", maxItems: 1, consumer: 1)
        for _ in 0..<5 {
            clock.advance(by: .seconds(8))
            #expect(engine.extendLeases(consumer: 1) == 1)
            #expect(engine.expireLeases() == 0)
        }
        clock.advance(by: .seconds(10))
        #expect(engine.expireLeases() == 1)
    }

    @Test func perQueueLeaseTimeoutsApply() async throws {
        let clock = ManualClock()
        let engine = try QueueEngine(
            limits: QueueLimits(leaseTimeout: .seconds(60), leaseTimeouts: ["fast": .seconds(1)]),
            clock: clock
        )
        _ = try await engine.put(items([1]), into: "fast")
        _ = try await engine.put(items([2]), into: "slow")
        _ = try await engine.get(from: "fast", maxItems: 1, consumer: 1)
        _ = try await engine.get(from: "slow", maxItems: 1, consumer: 1)
        clock.advance(by: .seconds(2))
        #expect(engine.expireLeases() == 1)
        #expect(engine.snapshot().first { $0.name == "fast" }?.depth == 1)
        #expect(engine.snapshot().first { $0.name == "slow" }?.inFlight == 1)
    }

    @Test func aTaskThatKeepsFailingGoesToTheDeadLetterQueueWithItsLastError() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxDeliveries: 3))
        let ids = try await engine.put(items([9, 10]), into: "task")
        for attempt in 1...3 {
            let got = try await engine.get(from: "task", maxItems: 1, consumer: UInt64(attempt))
            #expect(got.map(\.id) == [ids[0]])
            #expect(got[0].attempt == UInt32(attempt))
            #expect(engine.release(consumer: UInt64(attempt)) == 1)  // its worker died
        }
        // Three deliveries, three failures: the poison task is out of the way.
        let next = try await engine.get(from: "task", maxItems: 5, consumer: 9)
        #expect(next.map(\.id) == [ids[1]])
        let dead = engine.peek("task.dead", maxItems: 10)
        #expect(dead.map(\.id) == [ids[0]])
        #expect(dead[0].error?.contains("its consumer disconnected") == true)
        #expect(dead[0].error?.contains("delivery 3 of 3") == true)
        #expect(engine.snapshot().first { $0.name == "task" }?.totalDead == 1)
        // Requeued with fresh attempts, it comes back first... well, next.
        #expect(try await engine.requeueDead("task.dead") == 1)
        #expect(engine.peek("task.dead", maxItems: 10).isEmpty)
        let back = try await engine.get(from: "task", maxItems: 1, consumer: 10)
        #expect(back.map(\.id) == [ids[0]])
        #expect(back[0].attempt == 1)
    }

    @Test func nacksCountTowardsTheDeliveryLimitAndPurgeEmptiesAQueue() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxDeliveries: 2))
        _ = try await engine.put(items([1]), into: "q")
        for _ in 0..<2 {
            let got = try await engine.get(from: "q", maxItems: 1, consumer: 1)
            await engine.nack(got.map(\.id), in: "q", consumer: 1)
        }
        #expect(engine.peek("q.dead", maxItems: 5).count == 1)
        #expect(await engine.purge("q.dead") == 1)
        #expect(engine.peek("q.dead", maxItems: 5).isEmpty)
    }

    @Test func zeroMaxDeliveriesNeverGivesUp() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxDeliveries: 0))
        _ = try await engine.put(items([1]), into: "q")
        for consumer in 1...20 {
            _ = try await engine.get(from: "q", maxItems: 1, consumer: UInt64(consumer))
            engine.release(consumer: UInt64(consumer))
        }
        #expect(engine.snapshot().first { $0.name == "q" }?.depth == 1)
        #expect(engine.peek("q.dead", maxItems: 1).isEmpty)
    }

    @Test func theReaperExpiresLeasesOnItsOwn() async throws {
        let clock = ManualClock()
        let engine = try QueueEngine(limits: QueueLimits(leaseTimeout: .seconds(5)), clock: clock)
        _ = try await engine.put(items([1]), into: "q")
        _ = try await engine.get(from: "q", maxItems: 1, consumer: 1)
        let reaper = Task { await engine.runLeaseReaper(every: .seconds(1)) }
        defer { reaper.cancel() }
        for _ in 0..<6 {
            #expect(await clock.waitForSleepers(1))
            clock.advance(by: .seconds(1))
        }
        try await waitUntil { engine.snapshot().first?.depth == 1 }
    }
}

@Suite struct JournalTests {
    @Test func changesReachTheJournalInOrderAndWaitersWaitForDurability() async throws {
        let journal = Journal()
        let engine = try QueueEngine(journal: journal)
        let put = Task { try await engine.put(items([1, 2]), into: "task") }
        try await waitUntil { journal.hasPending }
        var pending = journal.takePending()
        var (mutations, through) = (pending.mutations, pending.through)
        #expect(mutations.count == 2)
        guard case .insert(let first) = mutations[0] else {
            Issue.record("expected an insert")
            return
        }
        #expect(first.queue == "task" && first.payload == [1])
        try await Task.sleep(for: .milliseconds(50))
        #expect(!put.isCancelled)
        journal.markDurable(through: through)
        let ids = try await put.value  // answered only now
        #expect(ids.count == 2)

        let got = try await engine.get(from: "task", maxItems: 2, consumer: 1)
        #expect(!journal.hasPending)  // deliveries are not stored
        let results = got.map { NewTask(payload: $0.payload, reference: $0.id) }
        let complete = Task {
            try await engine.complete(got.map(\.id), in: "task", consumer: 1, results: results, into: "result")
        }
        try await waitUntil { journal.hasPending }
        pending = journal.takePending()
        (mutations, through) = (pending.mutations, pending.through)
        #expect(pending.completions == [0..<4])  // marked as one completion
        // One atomic group: both tasks deleted, both results inserted.
        #expect(mutations.filter { if case .delete = $0 { true } else { false } }.count == 2)
        #expect(mutations.filter { if case .insert(let t) = $0 { t.queue == "result" } else { false } }.count == 2)
        journal.markDurable(through: through)
        _ = try await complete.value
    }

    @Test func aDeferredCompletionIsAnsweredBeforeItIsDurableButAPutIsNot() async throws {
        let journal = Journal(defersCompletions: true)
        let engine = try QueueEngine(journal: journal)
        // No store writer: nothing ever becomes durable in this test.
        let ids = try await engine.put(items([1]), into: "task", untilDurable: false)
        let mark = try #require(engine.durabilityMark())
        let released = Flag()
        let waiter = Task {
            await engine.waitUntilDurable(mark)
            released.set()
        }
        let got = try await engine.get(from: "task", maxItems: 1, consumer: 1)
        #expect(got.map(\.id) == ids)
        let (ack, resultIDs) = try await engine.complete(
            ids,
            in: "task",
            consumer: 1,
            results: [NewTask(payload: [1], reference: ids[0])],
            into: "result"
        )  // returns although nothing is durable
        #expect(ack.count == 1 && resultIDs.count == 1)
        #expect(engine.durabilityMark(completion: true) == nil)
        #expect(journal.takePending().completions == [1..<3])
        try await Task.sleep(for: .milliseconds(20))
        #expect(!released.isSet, "the put's wait ended before it was durable")
        journal.markDurable(through: journal.lastAppended)
        await waiter.value  // released only now
        #expect(released.isSet)
        #expect(engine.durabilityMark() == nil)
    }

    @Test func anEngineRestoresStoredTasksInIdOrderAndContinuesTheIds() async throws {
        let stored = [
            StoredTask(id: 12, queue: "task", reference: 0, attempt: 2, payload: [2]),
            StoredTask(id: 10, queue: "task", reference: 0, attempt: 0, payload: [1]),
            StoredTask(id: 11, queue: "task.dead", reference: 0, attempt: 5, payload: [9], error: "gave up"),
        ]
        let engine = try QueueEngine(restoring: stored)
        let got = try await engine.get(from: "task", maxItems: 5, consumer: 1)
        #expect(got.map(\.id) == [10, 12])
        #expect(got.map(\.attempt) == [1, 3])
        #expect(engine.peek("task.dead", maxItems: 5).first?.error == "gave up")
        let next = try await engine.put(items([3]), into: "task")
        #expect(next == [13])
    }
}
