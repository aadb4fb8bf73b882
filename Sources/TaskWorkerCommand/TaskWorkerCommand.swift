import ArgumentParser
import NIOCore
import NIOPosix
import SquaringJobs
import TaskWorkerRuntime

@main
struct TaskWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task-worker",
        abstract: "Take numbers from a task-master's task queue, square them, put the results back.",
        discussion: """
            Each task is a number (a pickled Python int of any size); its result is the
            str "n * n = r" with the task's id, put on the result queue in the same step
            that acknowledges the task. A task that is not a number gets an error result.

            The authkey comes from --authkey-file, TASK_AUTHKEY or TASK_AUTHKEY_FILE.
            Flags override environment variables, which override the config file. With
            several masters (--connect A,B) the worker works for the first that answers
            and moves to the next when it loses it.

            Examples:
              task-worker --connect 10.0.0.5:5000 --authkey-file /etc/taskmaster/authkey
              task-worker --config /etc/taskmaster/worker.json --concurrency 4
              task-worker --connect 10.0.0.5:5000,10.0.0.6:5000    # two masters
              task-worker --connect 10.0.0.5:5000 --exit-when-idle 5   # exit once idle 5 s

            SIGTERM/SIGINT: stop taking work, finish and acknowledge what is in hand, exit
            0. While no master answers the worker retries with backoff and says so.
            """
    )

    static func main() async {
        // Run Swift concurrency on NIO's event loops: no thread hop between socket I/O and
        // the tasks that serve it.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await mainWithOneLineErrors()
    }

    @OptionGroup var worker: WorkerOptions

    func run() async throws {
        try await worker.run(SquaringJob(), program: "task-worker")
    }
}
