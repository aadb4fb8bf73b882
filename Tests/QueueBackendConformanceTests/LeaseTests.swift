import QueueBackend
import Synchronization
import TestSupport
import Testing

/// What every backend must do with delivered tasks: acks, nacks, completions, releases, lease
/// expiry, heartbeats, dead letters, and Python's task_done/join.
@Suite struct LeaseTests {
    @Test(arguments: BackendUnderTest.all)
    func ackSettlesOnlyWhatTheConsumerHolds(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            _ = try await queues.put(items([1, 2]), into: "q")
            let got = try await queues.get(from: "q", maxItems: 2, consumer: 1)
            #expect(try await queues.statuses().leasesByConsumer[1] == 2)
            #expect(
                try await queues.ack([got[0].id], in: "q", consumer: 2) == AckResult(count: 0, unknown: [got[0].id])
            )
            #expect(try await queues.ack([got[0].id], in: "other", consumer: 1).count == 0)
            #expect(try await queues.ack(got.map(\.id), in: "q", consumer: 1) == AckResult(count: 2, unknown: []))
            #expect(
                try await queues.ack([got[0].id], in: "q", consumer: 1) == AckResult(count: 0, unknown: [got[0].id])
            )
            let status = try await queues.status(of: "q")
            #expect(status.inFlight == 0 && status.totalAcked == 2)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func nackedTasksComeBackFirstAndCountTheirAttempts(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            _ = try await queues.put(items([1, 2, 3]), into: "q")
            let got = try await queues.get(from: "q", maxItems: 2, consumer: 1)
            #expect(try await queues.nack(got.map(\.id), in: "q", consumer: 1).count == 2)
            let again = try await queues.get(from: "q", maxItems: 3, consumer: 2)
            #expect(values(again) == [1, 2, 3])
            #expect(again.map(\.attempt) == [2, 2, 1])
            let status = try await queues.status(of: "q")
            #expect(status.totalNacked == 2 && status.totalRedelivered == 2)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func releasingAConsumerPutsItsTasksBackInOrderAndWakesAWaiter(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            _ = try await queues.put(items([1, 2, 3, 4]), into: "q")
            let gone = try await queues.get(from: "q", maxItems: 3, consumer: 1)
            let alive = try await queues.get(from: "q", maxItems: 1, consumer: 2)
            #expect(values(gone) == [1, 2, 3])
            let waiter = Task { try await queues.get(from: "q", maxItems: 10, consumer: 3, wait: .forever) }
            try await waitUntil { try await queues.status(of: "q").waitingConsumers == 1 }
            #expect(try await queues.release(1) == 3)
            #expect(values(try await waiter.value) == [1, 2, 3])
            #expect(try await queues.statuses().leasesByConsumer[2] == 1)
            #expect(try await queues.ack(alive.map(\.id), in: "q", consumer: 2).count == 1)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aReleasedConsumersWaitsEndAndNothingMoreIsLeasedToIt(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            let waiter = Task { try await queues.get(from: "q", maxItems: 1, consumer: 5, wait: .forever) }
            try await waitUntil { try await queues.status(of: "q").waitingConsumers == 1 }
            _ = try await queues.release(5)
            await #expect(throws: QueueError.self) { try await waiter.value }
            _ = try await queues.put(items([1]), into: "q")
            #expect(try await queues.status(of: "q").depth == 1)
            #expect(try await queues.statuses().leasesByConsumer[5] == nil)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func completeAcksAndPutsResultsAtomicallyAndDropsStaleResults(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            let ids = try await queues.put(items([1, 2]), into: "task")
            let got = try await queues.get(from: "task", maxItems: 2, consumer: 1)
            // Task 2 is given back, then completed by its former holder: its result is dropped.
            try await queues.nack([ids[1]], in: "task", consumer: 1)
            let results = got.map { NewTask(payload: [values([$0])[0] * 10], reference: $0.id) }
            let completion = try await queues.complete(
                got.map(\.id),
                in: "task",
                results: results,
                into: "result",
                consumer: 1
            )
            #expect(completion.ack == AckResult(count: 1, unknown: [ids[1]]))
            #expect(completion.resultIDs.count == 1)
            let result = try await queues.get(from: "result", maxItems: 5, consumer: 9)
            #expect(result.map(\.reference) == [ids[0]])
            #expect(values(result) == [10])
            #expect(try await queues.status(of: "task").depth == 1)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func completeAppendsResultsEvenPastAFullResultQueue(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(maxSizes: ["result": 1])) { queues in
            _ = try await queues.put(items([1, 2]), into: "task")
            _ = try await queues.put(items([0]), into: "result")
            let got = try await queues.get(from: "task", maxItems: 2, consumer: 1)
            let results = got.map { NewTask(payload: $0.payload, reference: $0.id) }
            let completion = try await queues.complete(
                got.map(\.id),
                in: "task",
                results: results,
                into: "result",
                consumer: 1
            )
            #expect(completion.resultIDs.count == 2)
            #expect(try await queues.status(of: "result").depth == 3)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func anExpiredLeaseSendsTheTaskBackToTheFrontWithItsReason(_ kind: BackendUnderTest) async throws {
        let timeout = Duration.seconds(1)
        try await kind.with(QueueLimits(leaseTimeout: timeout)) { queues in
            _ = try await queues.put(items([1, 2]), into: "task")
            let leased = ContinuousClock.now
            let got = try await queues.get(from: "task", maxItems: 1, consumer: 7)
            let early = try await queues.expireLeases()
            // Not yet, unless a loaded machine let the whole timeout pass meanwhile.
            #expect(early == 0 || ContinuousClock.now - leased >= timeout, "expired \(early) early")
            try await Task.sleep(for: timeout + .milliseconds(200))
            let late = try await queues.expireLeases()
            #expect(early + late == 1)
            #expect(try await queues.expireLeases() == 0)  // idempotent
            let again = try await queues.get(from: "task", maxItems: 5, consumer: 8)
            #expect(again.map(\.id).first == got[0].id)  // back at the front
            #expect(again.count == 2 && again[0].attempt == 2)
            #expect(again[0].error == "its lease expired")
            // The first consumer's late ack is refused: the task is someone else's now.
            #expect(try await queues.ack(got.map(\.id), in: "task", consumer: 7).unknown == got.map(\.id))
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aHeartbeatKeepsTheLeasesOfABusyConsumer(_ kind: BackendUnderTest) async throws {
        // Heartbeats every 200 ms for 3.6 s keep a 3 s lease. A lease may run out only if the
        // machine stalled a whole lease timeout after a heartbeat was sent (measured: a loaded
        // CI machine has); the task is then taken again, and the heartbeats go on.
        let timeout = Duration.seconds(3)
        try await kind.with(QueueLimits(leaseTimeout: timeout)) { queues in
            _ = try await queues.put(items([1]), into: "task")
            var held = try await queues.get(from: "task", maxItems: 1, consumer: 1).count
            #expect(held == 1)
            var kept = 0
            for _ in 0..<18 {
                try await Task.sleep(for: .milliseconds(200))
                let sent = ContinuousClock.now
                #expect(try await queues.extendLeases(of: 1) == held)
                let expired = try await queues.expireLeases()
                let stalled = ContinuousClock.now - sent >= timeout
                #expect(expired == 0 || stalled, "a lease heartbeated \(ContinuousClock.now - sent) ago ran out")
                if expired == 0 {
                    kept += 1
                } else {
                    held = try await queues.get(from: "task", maxItems: 1, consumer: 1).count
                }
            }
            #expect(kept >= 12, "the machine stalled more than a lease timeout \(18 - kept) times")
            try await Task.sleep(for: timeout + .milliseconds(300))
            #expect(try await queues.expireLeases() == held)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aHeartbeatKeepsTheLeasesOfEveryQueueAConsumerHolds(_ kind: BackendUnderTest) async throws {
        // Leases in three queues (PostgreSQL settles each on a lane of its own, and extends
        // each queue's leases there): one heartbeat keeps them all and answers their sum. The
        // leases run 2 s; the heartbeat at 1.2 s moves them to 3.2 s; at 2.4 s none may have
        // run out, unless the machine stalled a whole lease timeout after the heartbeat.
        let timeout = Duration.seconds(2)
        try await kind.with(QueueLimits(leaseTimeout: timeout)) { queues in
            let names = ["alpha", "beta", "gamma"]
            for name in names { _ = try await queues.put(items([1, 2]), into: name) }
            let leased = ContinuousClock.now
            var got: [String: [TaskID]] = [:]
            for (name, count) in zip(names, [2, 1, 2]) {
                got[name] = try await queues.get(from: name, maxItems: count, consumer: 1).map(\.id)
            }
            #expect(got.values.map(\.count).reduce(0, +) == 5)
            try await Task.sleep(until: leased + .milliseconds(1200))
            let sent = ContinuousClock.now
            #expect(try await queues.extendLeases(of: 1) == 5)
            try await Task.sleep(until: leased + timeout + .milliseconds(400))
            let expired = try await queues.expireLeases()
            let stalled = ContinuousClock.now - sent >= timeout
            #expect(expired == 0 || stalled, "\(expired) heartbeated leases ran out")
            if expired == 0 {
                for name in names {
                    let settled = try await queues.ack(got[name] ?? [], in: name, consumer: 1)
                    #expect(settled.count == got[name]?.count && settled.unknown.isEmpty, "\(name)")
                }
                #expect(try await queues.extendLeases(of: 1) == 0)
            }
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func perQueueLeaseTimeoutsApply(_ kind: BackendUnderTest) async throws {
        let limits = QueueLimits(leaseTimeout: .seconds(60), leaseTimeouts: ["fast": .milliseconds(200)])
        try await kind.with(limits) { queues in
            _ = try await queues.put(items([1]), into: "fast")
            _ = try await queues.put(items([2]), into: "slow")
            _ = try await queues.get(from: "fast", maxItems: 1, consumer: 1)
            _ = try await queues.get(from: "slow", maxItems: 1, consumer: 1)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await queues.expireLeases() == 1)
            #expect(try await queues.status(of: "fast").depth == 1)
            #expect(try await queues.status(of: "slow").inFlight == 1)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aTaskThatKeepsFailingGoesToTheDeadLetterQueueWithItsLastError(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(maxDeliveries: 3)) { queues in
            let ids = try await queues.put(items([9, 10]), into: "task")
            for attempt in 1...3 {
                let got = try await queues.get(from: "task", maxItems: 1, consumer: UInt64(attempt))
                #expect(got.map(\.id) == [ids[0]])
                #expect(got.first?.attempt == UInt32(attempt))
                #expect(try await queues.release(UInt64(attempt)) == 1)  // its worker died
            }
            // Three deliveries, three failures: the poison task is out of the way.
            let next = try await queues.get(from: "task", maxItems: 5, consumer: 9)
            #expect(next.map(\.id) == [ids[1]])
            let dead = try await queues.peek("task.dead", maxItems: 10)
            #expect(dead.map(\.id) == [ids[0]])
            #expect(dead.first?.error?.contains("its consumer disconnected") == true)
            #expect(dead.first?.error?.contains("delivery 3 of 3") == true)
            #expect(try await queues.status(of: "task").totalDead == 1)
            // Requeued with fresh attempts, it comes back.
            #expect(try await queues.requeueDead("task.dead") == 1)
            #expect(try await queues.peek("task.dead", maxItems: 10).isEmpty)
            let back = try await queues.get(from: "task", maxItems: 1, consumer: 10)
            #expect(back.map(\.id) == [ids[0]])
            #expect(back.first?.attempt == 1)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func nacksCountTowardsTheDeliveryLimitAndPurgeEmptiesAQueue(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(maxDeliveries: 2)) { queues in
            _ = try await queues.put(items([1]), into: "q")
            for _ in 0..<2 {
                let got = try await queues.get(from: "q", maxItems: 1, consumer: 1)
                try await queues.nack(got.map(\.id), in: "q", consumer: 1)
            }
            #expect(try await queues.peek("q.dead", maxItems: 5).count == 1)
            #expect(try await queues.purge("q.dead") == 1)
            #expect(try await queues.peek("q.dead", maxItems: 5).isEmpty)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func zeroMaxDeliveriesNeverGivesUp(_ kind: BackendUnderTest) async throws {
        try await kind.with(QueueLimits(maxDeliveries: 0)) { queues in
            _ = try await queues.put(items([1]), into: "q")
            for consumer in 1...20 {
                _ = try await queues.get(from: "q", maxItems: 1, consumer: UInt64(consumer))
                _ = try await queues.release(UInt64(consumer))
            }
            #expect(try await queues.status(of: "q").depth == 1)
            #expect(try await queues.peek("q.dead", maxItems: 1).isEmpty)
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func joinWaitsForEveryItemToBeDone(_ kind: BackendUnderTest) async throws {
        try await kind.with { queues in
            _ = try await queues.put(items([1, 2]), into: "q")
            let ended = Flag()
            let joined = Task {
                try await queues.join("q", consumer: 3)
                ended.set()
            }
            let got = try await queues.get(from: "q", maxItems: 2, consumer: 1)
            // A Python-style get acknowledges its delivery without marking anything done.
            try await queues.ack(got.map(\.id), in: "q", consumer: 1, markDone: false)
            try await queues.taskDone("q")
            try await Task.sleep(for: .milliseconds(50))
            #expect(!ended.isSet, "the join ended with an item still not done")
            try await queues.taskDone("q")
            try await joined.value
            await #expect(throws: QueueError.self) { try await queues.taskDone("q") }
        }
    }

    @Test(arguments: BackendUnderTest.all)
    func aCancelledJoinEndsAtOnceAndLeavesOtherJoinersWaiting(_ kind: BackendUnderTest) async throws {
        // A Python client that leaves during join(): its wait must end, not hang the master.
        try await kind.with { queues in
            _ = try await queues.put(items([1]), into: "q")
            let cancelled = Task { try await queues.join("q", consumer: 1) }
            let otherEnded = Flag()
            let other = Task {
                try await queues.join("q", consumer: 2)
                otherEnded.set()
            }
            try await Task.sleep(for: .milliseconds(50))
            cancelled.cancel()
            do {
                try await cancelled.value
                Issue.record("the cancelled join must end with an error")
            } catch let error as QueueError {
                #expect(error.code == .cancelled)
            }
            try await Task.sleep(for: .milliseconds(20))
            #expect(!otherEnded.isSet, "the other join ended with the cancelled one")
            let got = try await queues.get(from: "q", maxItems: 1, consumer: 3)
            try await queues.ack(got.map(\.id), in: "q", consumer: 3)  // done: the other join returns
            try await other.value
        }
    }
}

/// A flag a task sets and a test reads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
}
