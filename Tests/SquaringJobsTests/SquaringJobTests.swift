import Pickle
import TaskWorkerRuntime
import Testing

@testable import SquaringJobs

/// The squaring job on the worker runtime: what task-worker puts for each task.
@Suite struct SquaringJobTests {
    @Test func numbersAreSquaredAndAnythingElseFailsWithTheResultTaskWorkerAlwaysPut() async throws {
        let tasks = [Square.task(12), Square.task(-5), PickleWriter.pickle(string: "seven"), [0xFF]].map {
            WorkerTask(id: 1, attempt: 1, payload: $0)
        }
        let answers = await SquaringJob().results(for: tasks)
        #expect(try answers[0].get() == Square.resultPickle(12))
        #expect(try answers[1].get() == PickleWriter.pickle(string: "-5 * -5 = 25"))
        for (answer, task) in zip(answers[2...], tasks[2...]) {
            #expect(throws: WorkerError.self) { try answer.get() }
            guard case .failure(let error as WorkerError) = answer else { continue }
            #expect(error.code == .taskFailed)
            // The result is the error text the squaring worker has always put, "error: …".
            #expect(error.result == PickleWriter.pickle(string: Square.outcome(forTask: task.payload).text))
            #expect(!error.message.hasPrefix("error: "))
        }
    }
}
