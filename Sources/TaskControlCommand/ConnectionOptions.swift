import ArgumentParser
import Foundation
import SquaringJobs
import Synchronization
import TaskMasterClient
import TaskMasterConfiguration
import TaskWorkerRuntime

/// How every task-ctl command reaches the master. Given before the subcommand or after it:
/// `task-ctl --connect HOST:PORT stats` and `task-ctl stats --connect HOST:PORT` are the same.
struct ConnectionOptions: ParsableArguments {
    @Option(
        help:
            "The master, HOST:PORT, or several separated by commas: the first that answers is used (default 127.0.0.1:5000, or TASK_MASTER_ADDRESS)."
    )
    var connect: String?

    @Option(name: .customLong("authkey-file"), help: "File holding the shared authkey (or TASK_AUTHKEY).")
    var authkeyFile: String?

    @Option(
        help: ArgumentHelp(
            "When no master answers at first, keep trying this long, e.g. 30s or 2m (default: give up at once; or TASK_CTL_WAIT_FOR_MASTER).",
            valueName: "duration"
        )
    )
    var waitForMaster: String?

    @Option(help: "PEM CA bundle of a master that speaks TLS (turns TLS on; or TASK_TLS_CA).")
    var tlsCa: String?

    @Option(help: "PEM client certificate, for a master that requires one (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "The name the master's certificate must carry (default: the --connect host).")
    var tlsServerName: String?

    /// Connects to the first master that answers, runs `body`, and turns connection errors into
    /// one line on stderr and exit 2.
    func withMaster<Result: Sendable>(
        _ body: (TaskMasterConnection) async throws -> Result
    ) async throws -> Result {
        let (configuration, masters) = try resolve()
        do {
            return try await masters.withConnection(
                waitingUpTo: configuration.waitForMaster,
                onWaiting: { Self.waiting($0, for: configuration.waitForMaster) },
                body
            )
        } catch let error as ClientError {
            printError("task-ctl: \(ErrorLine.text(error, waited: configuration.waitForMaster))")
            throw ExitCode(2)
        }
    }

    /// A connector for work that reconnects by itself (the batch): its first connection waits
    /// for a master as `--wait-for-master` says; connection errors are thrown as they are.
    func connector() throws -> (SquaringBatch.Connector, waitForMaster: Duration?) {
        let (configuration, masters) = try resolve()
        let firstCall = Mutex(true)
        let connect: SquaringBatch.Connector = { body in
            let wait = firstCall.withLock { first in
                defer { first = false }
                return first ? configuration.waitForMaster : nil
            }
            try await masters.withConnection(
                waitingUpTo: wait,
                onWaiting: { Self.waiting($0, for: configuration.waitForMaster) },
                body
            )
        }
        return (connect, configuration.waitForMaster)
    }

    static var clientName: String {
        "task-ctl \(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)"
    }

    /// Says once that task-ctl waits for a master.
    private static func waiting(_ error: ClientError, for limit: Duration?) {
        let limit = limit.map(DurationText.describe) ?? "a while"
        printError("task-ctl: \(error); waiting up to \(limit) for a master to answer")
    }

    /// The settings from flags and environment, or exit 2 with the reason.
    private func resolve() throws -> (ControlConfiguration, MasterConnector) {
        var flags: [String: String] = [:]
        flags[ConnectionSettings.Keys.connect.key] = connect
        flags[AuthKeySettings.file.key] = authkeyFile
        flags[ControlConfiguration.Keys.waitForMaster.key] = waitForMaster
        flags[ConnectionSettings.Keys.tlsCA.key] = tlsCa
        flags[ConnectionSettings.Keys.tlsCertificate.key] = tlsCert
        flags[ConnectionSettings.Keys.tlsKey.key] = tlsKey
        flags[ConnectionSettings.Keys.tlsServerName.key] = tlsServerName
        let configuration: ControlConfiguration
        do {
            let warnings: [String]
            (configuration, warnings) = try ControlConfiguration.load(
                flags: flags,
                environment: ProcessInfo.processInfo.environment
            )
            for warning in warnings { printError("task-ctl: warning: \(warning)") }
        } catch {
            printError("task-ctl: \(error.message)")
            throw ExitCode(2)
        }
        return (configuration, MasterConnector(settings: configuration.connection, name: Self.clientName))
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
