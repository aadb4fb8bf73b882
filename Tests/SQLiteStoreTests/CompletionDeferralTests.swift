import MemoryBackend
import NIOCore
import QueueBackend
import Testing

@testable import SQLiteStore

/// Completions held back a few commits so that a result taken meanwhile never reaches the disk,
/// driven round by round with hand-made journal batches.
@Suite struct CompletionDeferralTests {
    private func task(_ id: TaskID, _ queue: String = "task", reference: TaskID = 0) -> StoredTask {
        StoredTask(
            id: id,
            queue: queue,
            reference: reference,
            attempt: 0,
            payload: ByteBuffer(bytes: [UInt8(id % 256)])
        )
    }

    /// Tasks 1 and 2 put in an earlier round; a worker completes them with results 3 and 4.
    private var completion: [StoreMutation] {
        [.delete(1), .delete(2), .insert(task(3, "result", reference: 1)), .insert(task(4, "result", reference: 2))]
    }

    @Test func aCompletionIsHeldBackAndAResultTakenMeanwhileIsNeverWritten() {
        var deferral = CompletionDeferral(rounds: 3)
        #expect(
            deferral.plan(PendingChanges(mutations: [.insert(task(1)), .insert(task(2))], through: 2), defers: true)
                .count == 2
        )
        // Round 2: the completion is held back whole.
        #expect(
            deferral.plan(PendingChanges(mutations: completion, completions: [0..<4], through: 6), defers: true) == []
        )
        #expect(deferral.isHolding)
        // Round 3: the result 3 is acknowledged: its delete goes with the held-back insert.
        #expect(deferral.plan(PendingChanges(mutations: [.delete(3)], through: 7), defers: true) == [])
        #expect(deferral.plan(PendingChanges(mutations: [], through: 7), defers: true) == [])
        // Round 5, the third since it was held back: everything held back is due, in its order.
        let due = deferral.plan(PendingChanges(mutations: [], through: 7), defers: true)
        #expect(due == completion + [.delete(3)])
        #expect(!deferral.isHolding)
        // Written as one batch, the result 3 cancels out; tasks 1 and 2 go, result 4 stays.
        let batch = CoalescedBatch(due)
        #expect(batch.inserts.map(\.id) == [4])
        #expect(batch.deletes == [1, 2])
    }

    @Test func aCompletionOfATaskPutInTheSameRoundIsWrittenAtOnce() {
        // The put of task 1 is answered after this commit: its result must be in it.
        var deferral = CompletionDeferral(rounds: 3)
        let mutations: [StoreMutation] = [.insert(task(1)), .delete(1), .insert(task(2, "result", reference: 1))]
        let now = deferral.plan(PendingChanges(mutations: mutations, completions: [1..<3], through: 3), defers: true)
        #expect(now == mutations)
        #expect(!deferral.isHolding)
        let batch = CoalescedBatch(now)
        #expect(batch.inserts.map(\.id) == [2] && batch.deletes.isEmpty)
    }

    @Test func changesOtherThanCompletionsAreNeverHeldBack() {
        var deferral = CompletionDeferral(rounds: 3)
        let mutations: [StoreMutation] = [
            .insert(task(5)), .delete(1), .move(2, queue: "task.dead", attempt: 5, error: "x"),
        ]
        #expect(deferral.plan(PendingChanges(mutations: mutations, through: 3), defers: true) == mutations)
        #expect(!deferral.isHolding)
    }

    @Test func laterChangesToAHeldBackTaskKeepTheirPlaceBehindIt() {
        var deferral = CompletionDeferral(rounds: 2)
        _ = deferral.plan(PendingChanges(mutations: completion, completions: [0..<4], through: 4), defers: true)
        // Result 4 is given back past its delivery limit (a move), and a new task is put.
        let move = StoreMutation.move(4, queue: "result.dead", attempt: 1, error: "gave up")
        let now = deferral.plan(PendingChanges(mutations: [move, .insert(task(9))], through: 6), defers: true)
        #expect(now == [.insert(task(9))])
        let due = deferral.plan(PendingChanges(mutations: [], through: 6), defers: true)
        #expect(due == completion + [move])
        let batch = CoalescedBatch(due)
        #expect(batch.inserts.first { $0.id == 4 }?.queue == "result.dead")
    }

    @Test func stoppingWritesEverythingHeldBack() {
        var deferral = CompletionDeferral(rounds: 3)
        _ = deferral.plan(PendingChanges(mutations: completion, completions: [0..<4], through: 4), defers: true)
        #expect(
            deferral.plan(PendingChanges(mutations: [.insert(task(7))], through: 5), defers: false)
                == completion + [.insert(task(7))]
        )
        #expect(!deferral.isHolding)
    }

    @Test func aBatchWithIdsOutOfOrderStillCancelsWhatWasPutAndFinished() {
        // Not what the engine produces, but the store must not depend on it for correctness.
        let batch = CoalescedBatch([
            .insert(task(8)), .insert(task(3)), .insert(task(5)), .delete(3), .delete(8), .delete(1),
        ])
        #expect(batch.inserts.map(\.id) == [5])
        #expect(batch.deletes == [1])
    }

    @Test func aResultAcknowledgedInTheRoundItsCompletionIsHeldBackGoesWithIt() {
        var deferral = CompletionDeferral(rounds: 2)
        _ = deferral.plan(PendingChanges(mutations: [.insert(task(1)), .insert(task(2))], through: 2), defers: true)
        // One batch: the completion, then the ack of result 4 and a put of task 9.
        let mutations = completion + [.delete(4), .insert(task(9))]
        let now = deferral.plan(PendingChanges(mutations: mutations, completions: [0..<4], through: 8), defers: true)
        #expect(now == [.insert(task(9))])
        _ = deferral.plan(PendingChanges(mutations: [], through: 8), defers: true)
        let due = deferral.plan(PendingChanges(mutations: [], through: 8), defers: true)
        #expect(due == completion + [.delete(4)])
        #expect(CoalescedBatch(due).inserts.map(\.id) == [3])
    }

    @Test func aCompletionOfAHeldBackResultWritesItsResultsAtOnceAndItsDeleteWithTheHeldTask() {
        // A further stage takes result 3 as its task and completes it with result 10 while
        // the completion that made 3 is still held back: 10 is written at once, and the delete
        // of 3 stays with 3's insert (until then 3 is on disk, and done again after a crash).
        var deferral = CompletionDeferral(rounds: 3)
        _ = deferral.plan(PendingChanges(mutations: [.insert(task(1)), .insert(task(2))], through: 2), defers: true)
        #expect(
            deferral.plan(PendingChanges(mutations: completion, completions: [0..<4], through: 6), defers: true) == []
        )
        let stage: [StoreMutation] = [.delete(3), .insert(task(10, "final", reference: 3))]
        let now = deferral.plan(PendingChanges(mutations: stage, completions: [0..<2], through: 8), defers: true)
        #expect(now == [.insert(task(10, "final", reference: 3))])
        _ = deferral.plan(PendingChanges(mutations: [], through: 8), defers: true)
        let due = deferral.plan(PendingChanges(mutations: [], through: 8), defers: true)
        #expect(due == completion + [.delete(3)])
        #expect(!deferral.isHolding)
    }
}
