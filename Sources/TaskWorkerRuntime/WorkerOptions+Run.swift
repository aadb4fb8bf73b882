import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TaskMasterClient
import TaskMasterConfiguration
import TaskMasterLogging

extension WorkerOptions {
    /// Runs a worker for `job` with these options until it is stopped: the whole `run()` of
    /// a worker program.
    ///
    /// Sets up logging (`--log-format`, `--log-level`) for the process, stops gracefully on
    /// SIGTERM and SIGINT (finishing and acknowledging the tasks in hand) and returns, also
    /// once `--exit-when-idle` has passed.
    ///
    /// - Parameter program: the program's name: its logger's label, the start of its name at
    ///   the master, and the prefix of its error messages.
    /// - Throws: `ExitCode(2)` when the settings are unusable (one line on stderr says why),
    ///   `ExitCode(1)` when the master refused the authkey.
    public func run<Job: WorkerJob>(_ job: Job, program: String) async throws {
        let configuration: WorkerConfiguration
        let warnings: [String]
        do {
            (configuration, warnings) = try self.configuration(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("\(program): \(error.message)\n".utf8))
            throw ExitCode(2)
        }

        LoggingSystem.bootstrap(format: configuration.logFormat, level: configuration.logLevel)
        let logger = Logger(label: program)
        for warning in warnings { logger.warning("\(warning)") }

        let worker = Worker(job: job, configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch let error as ClientError where error.code == .authenticationFailed {
            throw ExitCode(1)
        }
    }

    /// Runs a worker for a job given as a function from task to result payload; see
    /// ``run(_:program:)``.
    public func run(
        program: String,
        _ job: @escaping @Sendable (WorkerTask) async throws -> [UInt8]
    ) async throws {
        try await run(JobFunction(job), program: program)
    }
}
