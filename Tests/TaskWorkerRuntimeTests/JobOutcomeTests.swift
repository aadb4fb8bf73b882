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
