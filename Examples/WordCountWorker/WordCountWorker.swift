import ArgumentParser
import Pickle
import TaskWorkerRuntime

/// A worker for a job of its own: each task is a text (a Python str), its result the number
/// of words in it (a Python int). It has every flag task-worker has; see docs/WORKERS.md.
@main
struct WordCountWorker: AsyncParsableCommand {
    @OptionGroup var worker: WorkerOptions

    func run() async throws {
        try await worker.run(program: "word-count-worker") { task in
            guard let text = try task.value().stringValue else {
                throw WorkerError.taskFailed("expected a str, got a Python \(try task.value().typeName)")
            }
            return try PickleValue.int(text.split(whereSeparator: \.isWhitespace).count).pickled()
        }
    }
}
