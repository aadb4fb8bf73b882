import Pickle
import Testing

@testable import TaskWorkerRuntime

/// What a job's answer becomes: its result, or a failed result when it throws.
@Suite struct JobOutcomeTests {
    private let task = WorkerTask(id: 7, attempt: 1, payload: PickleWriter.pickle(string: "two words"))

    @Test func aResultIsPutAsTheJobReturnedIt() async throws {
        let job = JobFunction { task in
            let text = try #require(try task.value().stringValue)
            return try PickleValue.int(text.split(separator: " ").count).pickled()
        }
        let outcome = await JobOutcome.of(job, for: task)
        #expect(outcome.failure == nil)
        #expect(try PickleValue(pickle: outcome.payload) == .int(2))
    }

    @Test func aTaskFailedErrorBecomesAnErrorResultWithItsReason() async throws {
        let job = JobFunction { _ in throw WorkerError.taskFailed("the task is not a list") }
        let outcome = await JobOutcome.of(job, for: task)
        #expect(outcome.failure == "the task is not a list")
        #expect(try PickleValue(pickle: outcome.payload) == .string("error: the task is not a list"))
    }

    @Test func aTaskFailedErrorMayCarryTheResultToPut() async throws {
        let custom = try PickleValue.tuple([.string("failed"), .int(7)]).pickled()
        let job = JobFunction { _ in throw WorkerError.taskFailed("seven is unlucky", result: custom) }
        let outcome = await JobOutcome.of(job, for: task)
        #expect(outcome.failure == "seven is unlucky")
        #expect(outcome.payload == custom)
    }

    @Test func anyOtherErrorFailsTheTaskOnOneLine() async throws {
        struct Unreadable: Error, CustomStringConvertible {
            var description: String { "line one\nline two" }
        }
        let job = JobFunction { _ in throw Unreadable() }
        let outcome = await JobOutcome.of(job, for: task)
        #expect(outcome.failure == "line one line two")
        #expect(try PickleValue(pickle: outcome.payload) == .string("error: line one line two"))
        // A payload that is no pickle fails the same way, through value().
        let notAPickle = WorkerTask(id: 8, attempt: 1, payload: [0x01, 0x02])
        let unread = await JobOutcome.of(JobFunction { try $0.value().pickled() }, for: notAPickle)
        #expect(unread.failure != nil)
    }
}

/// A job's batch call: by default its per-task answers in order, failures included.
@Suite struct JobBatchTests {
    @Test func byDefaultABatchIsEachTaskInTurnWithItsFailure() async throws {
        let job = JobFunction { task in
            guard let n = try task.value().integerValue, n > 0 else { throw WorkerError.taskFailed("not positive") }
            return try PickleValue.integer(n * 2).pickled()
        }
        let tasks = try [3, -1, 5].map { WorkerTask(id: nil, attempt: 1, payload: try PickleValue.int($0).pickled()) }
        let outcomes = await job.results(for: tasks).map(JobOutcome.of)
        #expect(
            try outcomes.map { try PickleValue(pickle: $0.payload) } == [
                .int(6), .string("error: not positive"), .int(10),
            ]
        )
        #expect(outcomes.map(\.failure) == [nil, "not positive", nil])
    }
}
