import Synchronization
import TaskMasterStatus
import TaskQueue
import TestSupport
import Testing

private func items(_ values: [UInt8]) -> [NewTask] { values.map { NewTask(payload: [$0]) } }
private func values(_ tasks: [QueuedTask]) -> [UInt8] { tasks.map { $0.payload[0] } }

@Suite struct QueueEngineTests {
    @Test func itemsComeOutInTheOrderTheyWentIn() async throws {
        let engine = try QueueEngine()
        let first = try await engine.put(items([1, 2, 3]), into: "task")
        let second = try await engine.put(items([4, 5]), into: "task")
        #expect(first + second == (first[0]..<(first[0] + 5)).map { $0 })
        let a = try await engine.get(from: "task", maxItems: 2, consumer: 1)
        let b = try await engine.get(from: "task", maxItems: 10, consumer: 1)
        #expect(values(a) == [1, 2])
        #expect(values(b) == [3, 4, 5])
        #expect(a.map(\.id) + b.map(\.id) == first + second)
        #expect(a.allSatisfy { $0.attempt == 1 })
    }

    @Test func queuesAreIndependentAndCreatedOnFirstUse() async throws {
        let engine = try QueueEngine()
        _ = try await engine.put(items([1]), into: "a")
        _ = try await engine.put(items([2]), into: "b")
        #expect(values(try await engine.get(from: "b", maxItems: 5, consumer: 1)) == [2])
        #expect(values(try await engine.get(from: "a", maxItems: 5, consumer: 1)) == [1])
        #expect(try await engine.get(from: "c", maxItems: 5, consumer: 1).isEmpty)
        #expect(engine.snapshot().map(\.name) == ["a", "b", "c"])
    }

    @Test func aWaitingGetIsAnsweredAsSoonAsAnItemArrives() async throws {
        let engine = try QueueEngine()
        async let got = engine.get(from: "task", maxItems: 10, consumer: 1, wait: .forever)
        try await waitUntil { engine.snapshot().first?.waitingConsumers == 1 }
        _ = try await engine.put(items([9]), into: "task")
        #expect(values(try await got) == [9])
    }

    @Test func waitingGetsAreServedInArrivalOrder() async throws {
        let engine = try QueueEngine()
        let first = Task { try await engine.get(from: "q", maxItems: 1, consumer: 1, wait: .forever) }
        try await waitUntil { engine.snapshot().first?.waitingConsumers == 1 }
        let second = Task { try await engine.get(from: "q", maxItems: 1, consumer: 2, wait: .forever) }
        try await waitUntil { engine.snapshot().first?.waitingConsumers == 2 }
        _ = try await engine.put(items([1, 2]), into: "q")
        #expect(values(try await first.value) == [1])
        #expect(values(try await second.value) == [2])
    }

    @Test func aGetTimesOutEmptyOnlyWhenItsTimeHasCome() async throws {
        let clock = ManualClock()
        let engine = try QueueEngine(clock: clock)
        let got = Task { try await engine.get(from: "q", maxItems: 1, consumer: 1, wait: .upTo(.seconds(10))) }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(9))
        #expect(engine.snapshot().first?.waitingConsumers == 1)
        clock.advance(by: .seconds(1))
        #expect(try await got.value.isEmpty)
        #expect(engine.snapshot().first?.waitingConsumers == 0)
        // The item that comes later stays queued: nothing was lost to the expired getter.
        _ = try await engine.put(items([5]), into: "q")
        #expect(engine.snapshot().first?.depth == 1)
    }

    @Test func aCancelledGetLeavesTheNextItemForOthers() async throws {
        let engine = try QueueEngine()
        let doomed = Task { try await engine.get(from: "q", maxItems: 1, consumer: 1, wait: .forever) }
        try await waitUntil { engine.snapshot().first?.waitingConsumers == 1 }
        doomed.cancel()
        await #expect(throws: CancellationError.self) { try await doomed.value }
        _ = try await engine.put(items([7]), into: "q")
        #expect(values(try await engine.get(from: "q", maxItems: 1, consumer: 2)) == [7])
    }

    @Test func aFullQueueRefusesAtOnceWithoutWaitingAndSaysWhatWentIn() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxSizes: ["q": 2]))
        do {
            _ = try await engine.put(items([1, 2, 3]), into: "q", wait: .none)
            Issue.record("a put past maxsize must fail")
        } catch let error as QueueError {
            #expect(error.code == .queueFull)
            #expect(error.queue == "q")
            #expect(error.acceptedIDs.count == 2)
            #expect(error.message.contains("full"))
        }
        #expect(engine.snapshot().first?.depth == 2)
        #expect(engine.snapshot().first?.isFull == true)
    }

    @Test func aBlockedPutGoesInAsRoomAppears() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxSizes: ["q": 1]))
        _ = try await engine.put(items([1]), into: "q")
        let blocked = Task { try await engine.put(items([2, 3]), into: "q", wait: .forever) }
        try await waitUntil { engine.snapshot().first?.waitingProducers == 1 }
        #expect(values(try await engine.get(from: "q", maxItems: 5, consumer: 1)) == [1])
        #expect(values(try await engine.get(from: "q", maxItems: 5, consumer: 1)) == [2])
        #expect(values(try await engine.get(from: "q", maxItems: 5, consumer: 1)) == [3])
        #expect(try await blocked.value.count == 2)
        #expect(engine.snapshot().first?.depth == 0)
    }

    @Test func aBlockedPutTimesOutWithQueueFull() async throws {
        let clock = ManualClock()
        let engine = try QueueEngine(limits: QueueLimits(defaultMaxSize: 1), clock: clock)
        _ = try await engine.put(items([1]), into: "q")
        let blocked = Task { try await engine.put(items([2]), into: "q", wait: .upTo(.seconds(3))) }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .seconds(3))
        await #expect(throws: QueueError.self) { try await blocked.value }
        #expect(engine.snapshot().first?.depth == 1)
        #expect(engine.snapshot().first?.waitingProducers == 0)
    }

    @Test func laterPutsWaitBehindEarlierBlockedOnes() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxSizes: ["q": 1]))
        _ = try await engine.put(items([1]), into: "q")
        let early = Task { try await engine.put(items([2]), into: "q", wait: .forever) }
        try await waitUntil { engine.snapshot().first?.waitingProducers == 1 }
        let late = Task { try await engine.put(items([3]), into: "q", wait: .forever) }
        try await waitUntil { engine.snapshot().first?.waitingProducers == 2 }
        var seen: [UInt8] = []
        for _ in 0..<3 {
            let got = try await engine.get(from: "q", maxItems: 1, consumer: 1, wait: .forever)
            seen += values(got)
        }
        _ = try await (early.value, late.value)
        #expect(seen == [1, 2, 3])
    }

    @Test func ackSettlesOnlyWhatTheConsumerHolds() async throws {
        let engine = try QueueEngine()
        _ = try await engine.put(items([1, 2]), into: "q")
        let got = try await engine.get(from: "q", maxItems: 2, consumer: 1)
        #expect(engine.leaseCount(consumer: 1) == 2)
        let byOther = await engine.ack([got[0].id], in: "q", consumer: 2)
        #expect(byOther == AckResult(count: 0, unknown: [got[0].id]))
        let wrongQueue = await engine.ack([got[0].id], in: "other", consumer: 1)
        #expect(wrongQueue.count == 0)
        #expect(await engine.ack(got.map(\.id), in: "q", consumer: 1) == AckResult(count: 2, unknown: []))
        #expect(await engine.ack([got[0].id], in: "q", consumer: 1) == AckResult(count: 0, unknown: [got[0].id]))
        let snapshot = try #require(engine.snapshot().first { $0.name == "q" })
        #expect(snapshot.inFlight == 0)
        #expect(snapshot.totalAcked == 2)
    }

    @Test func nackedTasksComeBackFirstAndCountTheirAttempts() async throws {
        let engine = try QueueEngine()
        _ = try await engine.put(items([1, 2, 3]), into: "q")
        let got = try await engine.get(from: "q", maxItems: 2, consumer: 1)
        #expect(await engine.nack(got.map(\.id), in: "q", consumer: 1).count == 2)
        let again = try await engine.get(from: "q", maxItems: 3, consumer: 2)
        #expect(values(again) == [1, 2, 3])
        #expect(again.map(\.attempt) == [2, 2, 1])
        let snapshot = try #require(engine.snapshot().first)
        #expect(snapshot.totalNacked == 2)
        #expect(snapshot.totalRedelivered == 2)
    }

    @Test func releasingAConsumerPutsItsTasksBackInOrderAndWakesAWaiter() async throws {
        let engine = try QueueEngine()
        _ = try await engine.put(items([1, 2, 3, 4]), into: "q")
        let dead = try await engine.get(from: "q", maxItems: 3, consumer: 1)
        let alive = try await engine.get(from: "q", maxItems: 1, consumer: 2)
        #expect(values(dead) == [1, 2, 3])
        let waiter = Task { try await engine.get(from: "q", maxItems: 10, consumer: 3, wait: .forever) }
        try await waitUntil { engine.snapshot().first?.waitingConsumers == 1 }
        #expect(engine.release(consumer: 1) == 3)
        #expect(values(try await waiter.value) == [1, 2, 3])
        #expect(engine.leaseCount(consumer: 2) == 1)
        #expect(await engine.ack(alive.map(\.id), in: "q", consumer: 2).count == 1)
    }

    @Test func completeAcksAndPutsResultsAtomicallyAndDropsStaleResults() async throws {
        let engine = try QueueEngine()
        let ids = try await engine.put(items([1, 2]), into: "task")
        let got = try await engine.get(from: "task", maxItems: 2, consumer: 1)
        // Task 2 is given back, then completed by its former holder: its result is dropped.
        await engine.nack([ids[1]], in: "task", consumer: 1)
        let results = got.map { NewTask(payload: [$0.payload[0] * $0.payload[0]], reference: $0.id) }
        let (ack, resultIDs) = try await engine.complete(
            got.map(\.id),
            in: "task",
            consumer: 1,
            results: results,
            into: "result"
        )
        #expect(ack == AckResult(count: 1, unknown: [ids[1]]))
        #expect(resultIDs.count == 1)
        let result = try await engine.get(from: "result", maxItems: 5, consumer: 9)
        #expect(result.map(\.reference) == [ids[0]])
        #expect(values(result) == [1])
        #expect(engine.snapshot().first { $0.name == "task" }?.depth == 1)
    }

    @Test func completeAppendsResultsEvenPastAFullResultQueue() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxSizes: ["result": 1]))
        _ = try await engine.put(items([1, 2]), into: "task")
        _ = try await engine.put(items([0]), into: "result")
        let got = try await engine.get(from: "task", maxItems: 2, consumer: 1)
        let results = got.map { NewTask(payload: $0.payload, reference: $0.id) }
        let (_, resultIDs) = try await engine.complete(
            got.map(\.id),
            in: "task",
            consumer: 1,
            results: results,
            into: "result"
        )
        #expect(resultIDs.count == 2)
        #expect(engine.snapshot().first { $0.name == "result" }?.depth == 3)
    }

    @Test func joinWaitsForEveryItemToBeDone() async throws {
        let engine = try QueueEngine()
        _ = try await engine.put(items([1, 2]), into: "q")
        let done = Mutex(false)
        let joined = Task {
            try await engine.join("q")
            done.withLock { $0 = true }
        }
        let got = try await engine.get(from: "q", maxItems: 2, consumer: 1)
        // A Python-style get acknowledges delivery without marking anything done.
        await engine.ack(got.map(\.id), in: "q", consumer: 1, markDone: false)
        try engine.taskDone("q")
        try await Task.sleep(for: .milliseconds(20))
        #expect(!done.withLock { $0 })
        try engine.taskDone("q")
        try await joined.value
        #expect(done.withLock { $0 })
        #expect(throws: QueueError.self) { try engine.taskDone("q") }
    }

    @Test func aCancelledJoinEndsAtOnceAndLeavesOtherJoinersWaiting() async throws {
        // A Python client that leaves during join(): its wait must end, not hang the master.
        let engine = try QueueEngine()
        _ = try await engine.put(items([1]), into: "q")
        let cancelled = Task { try await engine.join("q") }
        let other = Task { try await engine.join("q") }
        try await Task.sleep(for: .milliseconds(20))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        let got = try await engine.get(from: "q", maxItems: 1, consumer: 1)
        await engine.ack(got.map(\.id), in: "q", consumer: 1)  // done: the other join returns
        try await other.value
    }

    @Test func shuttingDownFailsWaitersAndRequeuesLeases() async throws {
        let engine = try QueueEngine()
        _ = try await engine.put(items([1]), into: "a")
        _ = try await engine.get(from: "a", maxItems: 1, consumer: 1)
        let waiter = Task { try await engine.get(from: "b", maxItems: 1, consumer: 2, wait: .forever) }
        try await waitUntil { engine.snapshot().first { $0.name == "b" }?.waitingConsumers == 1 }
        engine.shutDown()
        await #expect(throws: QueueError.self) { try await waiter.value }
        #expect(engine.snapshot().first { $0.name == "a" }?.depth == 1)
        await #expect(throws: QueueError.self) { try await engine.put(items([2]), into: "a") }
    }

    @Test(arguments: ["", String(repeating: "x", count: 201), "tab\there", "bell\u{7}"])
    func invalidQueueNamesAreRefused(name: String) async throws {
        let engine = try QueueEngine()
        await #expect(throws: QueueError.self) { try await engine.put(items([1]), into: name) }
        #expect(engine.snapshot().isEmpty)
    }

    @Test func theNumberOfQueuesIsBounded() async throws {
        let engine = try QueueEngine(limits: QueueLimits(maxQueues: 2))
        _ = try await engine.put(items([1]), into: "a")
        _ = try await engine.put(items([1]), into: "b")
        do {
            _ = try await engine.put(items([1]), into: "c")
            Issue.record("a third queue must be refused")
        } catch let error as QueueError {
            #expect(error.code == .tooManyQueues)
        }
    }

    @Test func manyConcurrentProducersAndConsumersLoseAndDuplicateNothing() async throws {
        let engine = try QueueEngine(limits: QueueLimits(defaultMaxSize: 50))
        let producers = 4
        let perProducer = 2_000
        let consumers = 4
        try await withThrowingTaskGroup(of: [UInt32].self) { group in
            for p in 0..<producers {
                group.addTask {
                    for chunk in stride(from: 0, to: perProducer, by: 10) {
                        let batch = (chunk..<(chunk + 10)).map { i -> NewTask in
                            let v = UInt32(p * perProducer + i)
                            return NewTask(payload: withUnsafeBytes(of: v.littleEndian, Array.init))
                        }
                        _ = try await engine.put(batch, into: "q", wait: .forever)
                    }
                    return []
                }
            }
            for c in 0..<consumers {
                group.addTask {
                    var seen: [UInt32] = []
                    while true {
                        let got = try await engine.get(
                            from: "q",
                            maxItems: 7,
                            consumer: ConsumerID(c),
                            wait: .upTo(.milliseconds(300))
                        )
                        if got.isEmpty { return seen }
                        // Give every third batch back once, to exercise requeueing under load.
                        if got[0].attempt == 1, got[0].id % 3 == 0 {
                            await engine.nack(got.map(\.id), in: "q", consumer: ConsumerID(c))
                            continue
                        }
                        seen += got.map { $0.payload.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
                        #expect(await engine.ack(got.map(\.id), in: "q", consumer: ConsumerID(c)).count == got.count)
                    }
                }
            }
            var all: [UInt32] = []
            for try await seen in group { all += seen }
            #expect(all.count == producers * perProducer)
            #expect(Set(all).count == producers * perProducer)
        }
        #expect(engine.snapshot().first?.inFlight == 0)
    }
}

/// Polls `condition` every millisecond, failing the test after `limit`.
func waitUntil(within limit: Duration = .seconds(5), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition not met within \(limit)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

extension QueueStatus {
    var isFull: Bool { maxSize > 0 && depth >= maxSize }
}
