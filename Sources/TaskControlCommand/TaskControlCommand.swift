import ArgumentParser
import NIOCore
import NIOPosix
import TaskWorkerRuntime

@main
struct TaskControlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task-ctl",
        abstract: "Script squaring batches and inspect the queues of a task-master.",
        discussion: """
            Every command connects with --connect HOST:PORT (or TASK_MASTER_ADDRESS,
            default 127.0.0.1:5000; several addresses separated by commas: the first that
            answers) and the authkey from --authkey-file, TASK_AUTHKEY or
            TASK_AUTHKEY_FILE. The connection options go before the command or after it.
            When no master answers, a command fails at once unless --wait-for-master says
            how long to wait for one.

            Examples:
              task-ctl --connect 10.0.0.5:5000 batch --count 100000
              task-ctl batch --count 10 --random 10000 --echo
              task-ctl put task 7 300 100000
              task-ctl get result --timeout 5
              task-ctl stats --json
              task-ctl ping --connect 10.0.0.5:5000,10.0.0.6:5000
              task-ctl --wait-for-master 30s stats
            """,
        subcommands: [
            Batch.self, Put.self, Get.self, Stats.self, Watch.self, Drain.self, Dead.self, Ping.self, Latency.self,
        ]
    )

    /// Connection options given before the subcommand; the subcommand's own group sees them.
    @OptionGroup var connection: ConnectionOptions

    static func main() async {
        // Run Swift concurrency on NIO's event loops: no thread hop between socket I/O and
        // the tasks that serve it.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await mainWithOneLineErrors()
    }
}
