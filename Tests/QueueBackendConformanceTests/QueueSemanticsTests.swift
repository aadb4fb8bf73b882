import QueueBackend
import Synchronization
import TestSupport
import Testing

/// What every backend must do with puts and gets: order, waits, capacity, names, shutdown.
/// Runs against each backend in ``BackendUnderTest/all``.
@Suite struct QueueSemanticsTests {
    @Test(arguments: BackendUnderTest.all)
    func itemsComeOutInTheOrderTheyWentIn(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            let first = try await queues.put(items([1, 2, 3]), into: "task")
            let second = try await queues.put(items([4, 5]), into: "task")
            #expect(first.count == 3 && second.count == 2)
            #expect(zip(first + second, (first + second).dropFirst()).allSatisfy { $0 < $1 })
            let a = try await queues.get(from: "task", maxItems: 2, consumer: 1)
            let b = try await queues.get(from: "task", maxItems: 10, consumer: 1)
            #expect(values(a) == [1, 2])
            #expect(values(b) == [3, 4, 5])
            #expect(a.map(\.id) + b.map(\.id) == first + second)
            #expect((a + b).allSatisfy { $0.attempt == 1 })
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func queuesAreIndependentAndAGetThatDoesNotWaitCreatesNoQueue(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            _ = try await queues.put(items([1]), into: "a")
            _ = try await queues.put(items([2]), into: "b")
            #expect(values(try await queues.get(from: "b", maxItems: 5, consumer: 1)) == [2])
            #expect(values(try await queues.get(from: "a", maxItems: 5, consumer: 1)) == [1])
            #expect(try await queues.get(from: "c", maxItems: 5, consumer: 1).isEmpty)
            #expect(try await queues.statuses().queues.map(\.name) == ["a", "b"])
            #expect(try await queues.status(of: "c").depth == 0)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aWaitingGetIsAnsweredAsSoonAsAnItemArrives(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            async let got = queues.get(from: "task", maxItems: 10, consumer: 1, wait: .forever)
            try await waitUntil("a waiting consumer") { try await queues.status(of: "task").waitingConsumers == 1 }
            _ = try await queues.put(items([9]), into: "task")
            #expect(values(try await got) == [9])
        }
    }

    /// Items put while getters wait go to them in line order, each up to what it asked for
    /// (PostgreSQL inserts them already leased: HandOffTests), as leases like any other; the
    /// rest is queued.
    @Test(arguments: BackendUnderTest.all)
    func itemsPutWhileGettersWaitAreTheirLeasesAndTheRestIsQueued(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            try await waitingGetsAreServed(by: queues)
        }
    }

    /// Results kept by a completion go to a getter waiting for them, with their references.
    @Test(arguments: BackendUnderTest.all)
    func resultsGoToAGetterWaitingForThem(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            try await waitingGetIsServedResults(by: queues)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func waitingGetsAreServedInArrivalOrder(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            let first = Task { try await queues.get(from: "q", maxItems: 1, consumer: 1, wait: .forever) }
            try await waitUntil { try await queues.status(of: "q").waitingConsumers == 1 }
            let second = Task { try await queues.get(from: "q", maxItems: 1, consumer: 2, wait: .forever) }
            try await waitUntil { try await queues.status(of: "q").waitingConsumers == 2 }
            _ = try await queues.put(items([1, 2]), into: "q")
            #expect(values(try await first.value) == [1])
            #expect(values(try await second.value) == [2])
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aTimedGetAnswersEmptyAfterItsWaitAndLeavesLaterItemsQueued(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            let start = ContinuousClock.now
            #expect(try await queues.get(from: "q", maxItems: 1, consumer: 1, wait: .upTo(.milliseconds(150))).isEmpty)
            #expect(ContinuousClock.now - start >= .milliseconds(140))
            #expect(try await queues.status(of: "q").waitingConsumers == 0)
            _ = try await queues.put(items([5]), into: "q")
            #expect(try await queues.status(of: "q").depth == 1)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aCancelledGetLeavesTheNextItemForOthers(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            let doomed = Task { try await queues.get(from: "q", maxItems: 1, consumer: 1, wait: .forever) }
            try await waitUntil { try await queues.status(of: "q").waitingConsumers == 1 }
            doomed.cancel()
            do {
                _ = try await doomed.value
                Issue.record("a cancelled get must end with an error")
            } catch let error as QueueError {
                #expect(error.code == .cancelled)
            }
            _ = try await queues.put(items([7]), into: "q")
            #expect(values(try await queues.get(from: "q", maxItems: 1, consumer: 2)) == [7])
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aFullQueueRefusesAtOnceWithoutWaitingAndSaysWhatWentIn(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(maxSizes: ["q": 2])) { queues in
            do {
                _ = try await queues.put(items([1, 2, 3]), into: "q", wait: .none)
                Issue.record("a put past maxsize must fail")
            } catch let error as QueueError {
                #expect(error.code == .queueFull)
                #expect(error.queue == "q")
                #expect(error.acceptedIDs.count == 2)
                #expect(error.message.contains("full"))
            }
            let status = try await queues.status(of: "q")
            #expect(status.depth == 2 && status.maxSize == 2)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aBlockedPutGoesInAsRoomAppears(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(maxSizes: ["q": 1])) { queues in
            _ = try await queues.put(items([1]), into: "q")
            let blocked = Task { try await queues.put(items([2, 3]), into: "q", wait: .forever) }
            try await waitUntil { try await queues.status(of: "q").waitingProducers == 1 }
            #expect(values(try await queues.get(from: "q", maxItems: 5, consumer: 1)) == [1])
            #expect(values(try await queues.get(from: "q", maxItems: 5, consumer: 1, wait: .upTo(.seconds(5)))) == [2])
            #expect(values(try await queues.get(from: "q", maxItems: 5, consumer: 1, wait: .upTo(.seconds(5)))) == [3])
            #expect(try await blocked.value.count == 2)
            #expect(try await queues.status(of: "q").depth == 0)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aBlockedPutTimesOutWithQueueFull(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(defaultMaxSize: 1)) { queues in
            _ = try await queues.put(items([1]), into: "q")
            do {
                _ = try await queues.put(items([2]), into: "q", wait: .upTo(.milliseconds(100)))
                Issue.record("the put must time out")
            } catch let error as QueueError {
                #expect(error.code == .queueFull && error.acceptedIDs.isEmpty)
            }
            let status = try await queues.status(of: "q")
            #expect(status.depth == 1 && status.waitingProducers == 0)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func laterPutsWaitBehindEarlierBlockedOnes(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(maxSizes: ["q": 1])) { queues in
            _ = try await queues.put(items([1]), into: "q")
            let early = Task { try await queues.put(items([2]), into: "q", wait: .forever, consumer: 1) }
            try await waitUntil { try await queues.status(of: "q").waitingProducers == 1 }
            let late = Task { try await queues.put(items([3]), into: "q", wait: .forever, consumer: 2) }
            try await waitUntil { try await queues.status(of: "q").waitingProducers == 2 }
            var seen: [UInt8] = []
            for _ in 0..<3 {
                seen += values(try await queues.get(from: "q", maxItems: 1, consumer: 3, wait: .upTo(.seconds(5))))
            }
            _ = try await (early.value, late.value)
            #expect(seen == [1, 2, 3])
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func shuttingDownFailsWaitersAndRefusesNewWork(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            _ = try await queues.put(items([1]), into: "a")
            _ = try await queues.get(from: "a", maxItems: 1, consumer: 1)
            let waiter = Task { try await queues.get(from: "b", maxItems: 1, consumer: 2, wait: .forever) }
            try await waitUntil { try await queues.status(of: "b").waitingConsumers == 1 }
            try await queues.shutDown()
            do {
                _ = try await waiter.value
                Issue.record("the waiting get must fail")
            } catch let error as QueueError {
                #expect(error.code == .shuttingDown)
            }
            #expect(try await queues.status(of: "a").depth == 1)  // the lease went back
            await #expect(throws: QueueError.self) { try await queues.put(items([2]), into: "a") }
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func invalidQueueNamesAreRefused(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            for name in ["", String(repeating: "x", count: 201), "tab\there", "bell\u{7}"] {
                do {
                    _ = try await queues.put(items([1]), into: name)
                    Issue.record("\(name.debugDescription) was accepted")
                } catch let error as QueueError {
                    #expect(error.code == .invalidQueueName)
                }
            }
            #expect(try await queues.statuses().queues.isEmpty)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func queueNamesAndPayloadsOfAnyBytesComeBackAsTheyWent(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            let names = ["it's", "a\"b", "x'); DROP TABLE tasks; --", "ünïcødé 🚀", "a.dead.dead"]
            let payload: [UInt8] = [0, 39, 34, 92, 0, 255, 59, 45, 45]
            for name in names {
                _ = try await queues.put([NewTask(payload: payload, reference: 77)], into: name)
                let got = try await queues.get(from: name, maxItems: 1, consumer: 1)
                #expect(got.map { Array($0.payload.readableBytesView) } == [payload])
                #expect(got.first?.reference == 77)
                #expect(try await queues.ack(got.map(\.id), in: name, consumer: 1).count == 1)
            }
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func manyConcurrentProducersAndConsumersLoseAndDuplicateNothing(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(defaultMaxSize: 50)) { queues in
            let producers = 4
            let perProducer = 1_000
            let consumers = 4
            // Consumers stop at an empty get once every producer is done (not at the first
            // empty get: on two loaded cores a blocked put may take longer than a get waits).
            let producersDone = Tally()
            let giveUp = ContinuousClock.now + .seconds(120)
            let all = try await withThrowingTaskGroup(of: [UInt32].self) { group in
                for p in 0..<producers {
                    group.addTask {
                        for chunk in stride(from: 0, to: perProducer, by: 10) {
                            let batch = (chunk..<(chunk + 10)).map { i -> NewTask in
                                let v = UInt32(p * perProducer + i)
                                return NewTask(payload: withUnsafeBytes(of: v.littleEndian, Array.init))
                            }
                            _ = try await queues.put(batch, into: "q", wait: .forever, consumer: ConsumerID(100 + p))
                        }
                        producersDone.add()
                        return []
                    }
                }
                for c in 0..<consumers {
                    group.addTask {
                        var seen: [UInt32] = []
                        while true {
                            let consumer = ConsumerID(c + 1)
                            let got = try await queues.get(
                                from: "q",
                                maxItems: 7,
                                consumer: consumer,
                                wait: .upTo(.milliseconds(500))
                            )
                            if got.isEmpty {
                                let finished = producersDone.count == producers
                                if finished || ContinuousClock.now > giveUp { return seen }
                                continue
                            }
                            // Give every third batch back once, to exercise requeueing under load.
                            if got[0].attempt == 1, got[0].id % 3 == 0 {
                                try await queues.nack(got.map(\.id), in: "q", consumer: consumer)
                                continue
                            }
                            seen += got.map {
                                $0.payload.getInteger(at: $0.payload.readerIndex, endianness: .little, as: UInt32.self)
                                    ?? 0
                            }
                            #expect(try await queues.ack(got.map(\.id), in: "q", consumer: consumer).count == got.count)
                        }
                    }
                }
                var all: [UInt32] = []
                for try await seen in group { all += seen }
                return all
            }
            #expect(all.count == producers * perProducer)
            #expect(Set(all).count == producers * perProducer)
            #expect(try await queues.status(of: "q").inFlight == 0)
        }
    }
}

/// Two getters wait on an empty queue (asking for 2 and 1); 4 items are put once `looked`
/// returns (by default after 300 ms, when their first looks have found the queue empty).
func waitingGetsAreServed(
    by queues: any QueueBackend,
    looked: (_ queue: String, _ getters: Int) async throws -> Void = lookedAfterAWhile
) async throws {
    let first = Task { try await queues.get(from: "q", maxItems: 2, consumer: 1, wait: .forever) }
    try await waitUntil { try await queues.status(of: "q").waitingConsumers == 1 }
    let second = Task { try await queues.get(from: "q", maxItems: 1, consumer: 2, wait: .forever) }
    try await waitUntil { try await queues.status(of: "q").waitingConsumers == 2 }
    try await looked("q", 2)
    let ids = try await queues.put(items([1, 2, 3, 4]), into: "q")
    let a = try await first.value
    let b = try await second.value
    #expect(values(a) == [1, 2])
    #expect(values(b) == [3])
    #expect(a.map(\.id) + b.map(\.id) == Array(ids.prefix(3)))
    #expect((a + b).allSatisfy { $0.attempt == 1 && $0.error == nil })
    let status = try await queues.status(of: "q")
    #expect(status.depth == 1 && status.inFlight == 3 && status.waitingConsumers == 0)
    #expect(try await queues.ack(a.map(\.id), in: "q", consumer: 2).count == 0)
    #expect(try await queues.ack(a.map(\.id), in: "q", consumer: 1).count == 2)
    #expect(try await queues.nack(b.map(\.id), in: "q", consumer: 2).count == 1)
    let rest = try await queues.get(from: "q", maxItems: 5, consumer: 3)
    #expect(values(rest) == [3, 4])
    #expect(rest.map(\.attempt) == [2, 1])
}

/// A getter waits on an empty result queue (asking for 2); a completion of 3 tasks keeps 3
/// results (one task's result is dropped: that task is not the worker's).
func waitingGetIsServedResults(
    by queues: any QueueBackend,
    looked: (_ queue: String, _ getters: Int) async throws -> Void = lookedAfterAWhile
) async throws {
    _ = try await queues.put(items([1, 2, 3, 4]), into: "task")
    let tasks = try await queues.get(from: "task", maxItems: 3, consumer: 1)
    let other = try await queues.get(from: "task", maxItems: 1, consumer: 9)
    #expect(tasks.count == 3 && other.count == 1)
    let waiter = Task { try await queues.get(from: "result", maxItems: 2, consumer: 2, wait: .forever) }
    try await waitUntil { try await queues.status(of: "result").waitingConsumers == 1 }
    try await looked("result", 1)
    let results = (tasks + other).map { NewTask(payload: [values([$0])[0] &* 10], reference: $0.id) }
    let completion = try await queues.complete(
        (tasks + other).map(\.id),
        in: "task",
        results: results,
        into: "result",
        consumer: 1
    )
    #expect(completion.ack.count == 3 && completion.ack.unknown == other.map(\.id))
    #expect(completion.resultIDs.count == 3)
    let got = try await waiter.value
    #expect(values(got) == [10, 20])
    #expect(got.map(\.reference) == tasks.prefix(2).map(\.id))
    #expect(got.map(\.id) == Array(completion.resultIDs.prefix(2)))
    #expect(got.allSatisfy { $0.attempt == 1 })
    let status = try await queues.status(of: "result")
    #expect(status.depth == 1 && status.inFlight == 2)
    #expect(try await queues.ack(got.map(\.id), in: "result", consumer: 2).count == 2)
    let last = try await queues.get(from: "result", maxItems: 5, consumer: 3)
    #expect(values(last) == [30])
    #expect(last.map(\.reference) == [tasks[2].id])
}

/// Waits long enough for waiting getters' first looks to have found their queue empty.
func lookedAfterAWhile(_ queue: String, _ getters: Int) async throws {
    try await Task.sleep(for: .milliseconds(300))
}

/// A count that tasks add to and a test reads.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .sequentiallyConsistent) }
    func add() { value.add(1, ordering: .sequentiallyConsistent) }
}
