import ArgumentParser
import NIOCore
import NIOPosix

@main
struct TaskControlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task-ctl",
        abstract: "Script squaring batches and inspect the queues of a task-master.",
        discussion: """
            Every command connects with --connect HOST:PORT (or TASK_MASTER_ADDRESS, default
            127.0.0.1:5000) and the authkey from --authkey-file, TASK_AUTHKEY or TASK_AUTHKEY_FILE.

            Examples:
              task-ctl --connect 10.0.0.5:5000 batch --count 100000
              task-ctl batch --count 10 --random 10000 --echo
              task-ctl put task 7 300 100000
              task-ctl get result --timeout 5
              task-ctl stats --json
              task-ctl ping
            """,
        subcommands: [
            Batch.self, Put.self, Get.self, Stats.self, Watch.self, Drain.self, Dead.self, Ping.self, Latency.self,
        ]
    )

    static func main() async {
        // Run Swift concurrency on NIO's event loops: no thread hop between socket I/O and
        // the tasks that serve it.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}
