import ArgumentParser
import Foundation
import TaskMasterClient
import TaskMasterConfiguration

/// How every task-ctl command reaches the master.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The master, HOST:PORT (default 127.0.0.1:5000, or TASK_MASTER_ADDRESS).")
    var connect: String?

    @Option(name: .customLong("authkey-file"), help: "File holding the shared authkey (or TASK_AUTHKEY).")
    var authkeyFile: String?

    /// Connects, runs `body`, and turns connection errors into a clear message and exit 2.
    func withMaster<Result: Sendable>(
        _ body: (TaskMasterConnection) async throws -> Result
    ) async throws -> Result {
        var flags: [String: String] = [:]
        flags[ConnectionSettings.Keys.connect.key] = connect
        flags[AuthKeySettings.file.key] = authkeyFile
        let settings: ConnectionSettings
        do {
            var warnings: [String] = []
            let reader = try SettingsReader(
                flags: flags,
                environment: ProcessInfo.processInfo.environment,
                filePath: nil,
                knownKeys: Set(ConnectionSettings.Keys.all.map(\.key))
            )
            settings = try ConnectionSettings.load(
                from: reader,
                environment: ProcessInfo.processInfo.environment,
                warnings: &warnings
            )
            for warning in warnings { printError("warning: \(warning)") }
        } catch {
            printError("task-ctl: \(error.message)")
            throw ExitCode(2)
        }
        var options = TaskMasterConnection.Options()
        options.maxFrameBytes = settings.maxFrameBytes
        options.handshakeTimeout = settings.handshakeTimeout
        do {
            return try await TaskMasterConnection.withConnection(
                to: settings.endpoint.host,
                port: settings.endpoint.port,
                authKey: settings.authKey.bytes,
                name: "task-ctl \(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)",
                options: options,
                body
            )
        } catch let error as ClientError {
            printError("task-ctl: \(error)")
            throw ExitCode(2)
        }
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
