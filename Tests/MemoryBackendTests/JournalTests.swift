import MemoryBackend
import NIOCore
import QueueBackend
import Synchronization
import Testing

/// A flag a task sets and a test reads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
}

/// The memory backend's journal: what reaches it, in what order, and which replies wait for it.
@Suite struct JournalTests {
    @Test func changesReachTheJournalInOrderAndPutsWaitForDurability() async throws {
        let journal = Journal()
        let backend = try MemoryBackend(journal: journal)
        let answered = Flag()
        let put = Task {
            let ids = try await backend.put(items([1, 2]), into: "task")
            answered.set()
            return ids
        }
        try await waitUntil { journal.hasPending }
        var pending = journal.takePending()
        #expect(pending.mutations.count == 2)
        guard case .insert(let first) = pending.mutations[0] else {
            Issue.record("expected an insert")
            return
        }
        #expect(first.queue == "task" && first.payload == ByteBuffer(bytes: [1]))
        try await Task.sleep(for: .milliseconds(50))
        #expect(!answered.isSet, "the put was answered before it was durable")
        journal.markDurable(through: pending.through)
        #expect(try await put.value.count == 2)  // answered only now

        let got = try await backend.get(from: "task", maxItems: 2, consumer: 1)
        #expect(!journal.hasPending)  // deliveries are not stored
        let results = got.map { NewTask(payload: $0.payload, reference: $0.id) }
        let complete = Task {
            try await backend.complete(got.map(\.id), in: "task", results: results, into: "result", consumer: 1)
        }
        try await waitUntil { journal.hasPending }
        pending = journal.takePending()
        #expect(pending.completions == [0..<4])  // marked as one completion
        // One atomic group: both tasks deleted, both results inserted.
        #expect(pending.mutations.filter { if case .delete = $0 { true } else { false } }.count == 2)
        #expect(
            pending.mutations.filter { if case .insert(let t) = $0 { t.queue == "result" } else { false } }.count == 2
        )
        journal.markDurable(through: pending.through)
        _ = try await complete.value
    }

    @Test func aDeferredCompletionIsAnsweredBeforeItIsDurableButAPutIsNot() async throws {
        let journal = Journal(defersCompletions: true)
        let backend = try MemoryBackend(journal: journal)
        // No store writer: nothing becomes durable until the test says so.
        let putAnswered = Flag()
        let put = Task {
            let ids = try await backend.put(items([1]), into: "task")
            putAnswered.set()
            return ids
        }
        try await waitUntil { journal.hasPending }
        // A task may be delivered before its put is answered.
        let got = try await backend.get(from: "task", maxItems: 1, consumer: 1)
        let completion = try await backend.complete(
            got.map(\.id),
            in: "task",
            results: [NewTask(payload: [1], reference: got[0].id)],
            into: "result",
            consumer: 1
        )  // returns although nothing is durable
        #expect(completion.ack.count == 1 && completion.resultIDs.count == 1)
        #expect(journal.takePending().completions == [1..<3])
        try await Task.sleep(for: .milliseconds(20))
        #expect(!putAnswered.isSet, "the put was answered before it was durable")
        journal.markDurable(through: journal.lastAppended)
        #expect(try await put.value == got.map(\.id))  // answered only now
    }

    @Test func aFailedStoreFailsTheRepliesWaitingForIt() async throws {
        let journal = Journal()
        let backend = try MemoryBackend(journal: journal)
        let put = Task { try await backend.put(items([1]), into: "task") }
        try await waitUntil { journal.hasPending }
        journal.markFailed("disk full")
        do {
            _ = try await put.value
            Issue.record("a put that never reached the disk was answered as put")
        } catch let error as QueueError {
            #expect(error.code == .storageFailed && error.message.contains("disk full"))
        }
    }

    @Test func aBackendRestoresStoredTasksInIdOrderAndContinuesTheIds() async throws {
        let stored = [
            StoredTask(id: 12, queue: "task", reference: 0, attempt: 2, payload: ByteBuffer(bytes: [2])),
            StoredTask(id: 10, queue: "task", reference: 0, attempt: 0, payload: ByteBuffer(bytes: [1])),
            StoredTask(
                id: 11,
                queue: "task.dead",
                reference: 0,
                attempt: 5,
                payload: ByteBuffer(bytes: [9]),
                error: "gave up"
            ),
        ]
        let backend = try MemoryBackend(restoring: stored)
        let got = try await backend.get(from: "task", maxItems: 5, consumer: 1)
        #expect(got.map(\.id) == [10, 12])
        #expect(got.map(\.attempt) == [1, 3])
        #expect(try await backend.peek("task.dead", maxItems: 5).first?.error == "gave up")
        #expect(try await backend.put(items([3]), into: "task") == [13])
    }
}
