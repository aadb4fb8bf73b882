import QueueBackend
import Synchronization
import Testing

@testable import PostgresBackend

/// A heartbeat split over lanes answers once: the sum, or the first failure.
@Suite struct ExtendTotalTests {
    final class Answers: Sendable {
        let all = Mutex<[Result<Int, QueueError>]>([])
        func record(_ result: Result<Int, QueueError>) { all.withLock { $0.append(result) } }
        var recorded: [Result<Int, QueueError>] { all.withLock { $0 } }
    }

    @Test func answersTheSumOnceEveryPartHasAnswered() {
        let answers = Answers()
        let total = ExtendTotal(parts: 3, reply: answers.record)
        total.part(.success(2))
        total.part(.success(0))
        #expect(answers.recorded.isEmpty)
        total.part(.success(5))
        #expect(answers.recorded == [.success(7)])
    }

    @Test func answersTheFirstFailureOnceEveryPartHasAnswered() {
        let answers = Answers()
        let total = ExtendTotal(parts: 3, reply: answers.record)
        total.part(.failure(QueueError(.backendUnavailable, queue: nil, "the database is away")))
        #expect(answers.recorded.isEmpty)
        total.part(.success(4))
        total.part(.failure(QueueError(.cancelled, queue: nil, "cancelled")))
        #expect(answers.recorded == [.failure(QueueError(.backendUnavailable, queue: nil, "the database is away"))])
    }
}
