import ArgumentParser
import Foundation
import SquaringJobs
import TaskMasterClient
import TaskMasterConfiguration

/// How every task-ctl command reaches the master.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The master, HOST:PORT (default 127.0.0.1:5000, or TASK_MASTER_ADDRESS).")
    var connect: String?

    @Option(name: .customLong("authkey-file"), help: "File holding the shared authkey (or TASK_AUTHKEY).")
    var authkeyFile: String?

    @Option(help: "PEM CA bundle of a master that speaks TLS (turns TLS on; or TASK_TLS_CA).")
    var tlsCa: String?

    @Option(help: "PEM client certificate, for a master that requires one (with --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM key of --tls-cert.")
    var tlsKey: String?

    @Option(help: "The name the master's certificate must carry (default: the --connect host).")
    var tlsServerName: String?

    /// Connects, runs `body`, and turns connection errors into a clear message and exit 2.
    func withMaster<Result: Sendable>(
        _ body: (TaskMasterConnection) async throws -> Result
    ) async throws -> Result {
        let (settings, options) = try resolve()
        do {
            return try await TaskMasterConnection.withConnection(
                to: settings.endpoint.host,
                port: settings.endpoint.port,
                authKey: settings.authKey.bytes,
                name: Self.clientName,
                options: options,
                body
            )
        } catch let error as ClientError {
            printError("task-ctl: \(error)")
            throw ExitCode(2)
        }
    }

    /// A connector for work that reconnects by itself (the batch): connection errors are
    /// thrown as they are.
    func connector() throws -> SquaringBatch.Connector {
        let (settings, options) = try resolve()
        return { body in
            try await TaskMasterConnection.withConnection(
                to: settings.endpoint.host,
                port: settings.endpoint.port,
                authKey: settings.authKey.bytes,
                name: Self.clientName,
                options: options,
                body
            )
        }
    }

    static var clientName: String {
        "task-ctl \(ProcessInfo.processInfo.processIdentifier)@\(ProcessInfo.processInfo.hostName)"
    }

    /// The connection settings from flags and environment, or exit 2 with the reason.
    private func resolve() throws -> (ConnectionSettings, TaskMasterConnection.Options) {
        var flags: [String: String] = [:]
        flags[ConnectionSettings.Keys.connect.key] = connect
        flags[AuthKeySettings.file.key] = authkeyFile
        flags[ConnectionSettings.Keys.tlsCA.key] = tlsCa
        flags[ConnectionSettings.Keys.tlsCertificate.key] = tlsCert
        flags[ConnectionSettings.Keys.tlsKey.key] = tlsKey
        flags[ConnectionSettings.Keys.tlsServerName.key] = tlsServerName
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
        return (settings, TaskMasterConnection.Options(settings))
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
