import Foundation
import Logging
import MemoryBackend
import PostgresBackend
import QueueBackend
import SQLiteStore
import ServiceLifecycle
import TaskMasterConfiguration

/// A backend ready to serve, with the services that must run beside it.
struct BackendSetup: Sendable {
    var backend: any QueueBackend
    /// Background work of the backend (timers, store writers), run as siblings of the server.
    var services: [any Service]

    /// The backend the configuration asks for: queues in memory, kept in SQLite with a data
    /// directory, or in PostgreSQL with a backend URL.
    /// - Parameter onDone: told how long each finished task took from put to done.
    static func make(
        _ configuration: MasterConfiguration,
        budget: MemoryBudget,
        clock: any Clock<Duration>,
        logger: Logger,
        onDone: (@Sendable (String, Duration) -> Void)?
    ) throws -> BackendSetup {
        let limits = configuration.queueLimits
        let limit = configuration.maxMemory
        let onMemoryLimit: @Sendable (Bool) -> Void = { reached in
            if reached {
                logger.warning(
                    "memory limit \(limit) reached (max_memory): puts wait for room; gets, acks and completions go on"
                )
            } else {
                logger.notice("memory back under the limit: puts go in again")
            }
        }
        if let backend = configuration.backend {
            return try postgres(backend, configuration, clock: clock, logger: logger)
        }
        guard let directory = configuration.dataDirectory else {
            logger.notice("queues are kept in memory only (no --data-dir): queued tasks are lost when the master stops")
            let backend = try MemoryBackend(
                limits: limits,
                budget: budget,
                clock: clock,
                onDone: onDone,
                onMemoryLimit: onMemoryLimit
            )
            return BackendSetup(backend: backend, services: backend.services)
        }
        let policy = configuration.syncPolicy
        do {
            let store = try SQLiteTaskStore(directory: directory, syncPolicy: policy)
            let restored = try store.loadAll()
            // Under `always` every change is on disk before it is answered; otherwise a
            // completion may wait a few commits (see Journal.defersCompletions).
            let journal = Journal(defersCompletions: policy != .always)
            let backend = try MemoryBackend(
                limits: limits,
                budget: budget,
                clock: clock,
                journal: journal,
                waitsForDurability: policy != .off,
                restoring: restored,
                onDone: onDone,
                onMemoryLimit: onMemoryLimit
            )
            let writer = StoreWriter(
                store: store,
                journal: journal,
                batchDelay: configuration.syncDelay,
                clock: clock,
                logger: logger
            )
            logger.info(
                "queues restored from the data directory",
                metadata: ["path": "\(store.path)", "tasks": "\(restored.count)", "sync": "\(policy.rawValue)"]
            )
            return BackendSetup(backend: backend, services: [writer] + backend.services)
        } catch let error as StorageError {
            throw ServerError(.storageFailed, error.description)
        } catch {
            throw ServerError(.storageFailed, "can't restore the queues from \(directory): \(error)")
        }
    }

    /// Queues in PostgreSQL, shared with every master given the same URL.
    private static func postgres(
        _ text: String,
        _ configuration: MasterConfiguration,
        clock: any Clock<Duration>,
        logger: Logger
    ) throws -> BackendSetup {
        do {
            let url = try PostgresURL(text)
            let password = try PostgresPassword.resolve(
                for: url,
                environment: ProcessInfo.processInfo.environment,
                file: configuration.backendPasswordFile
            )
            let backend = try PostgresBackend(
                settings: PostgresBackendSettings(url: url, password: password),
                limits: configuration.queueLimits,
                clock: clock,
                logger: logger
            )
            logger.notice(
                "queues are kept in PostgreSQL, shared with every master of the same URL",
                metadata: ["url": "\(url.redacted)", "master": "\(backend.masterID)"]
            )
            return BackendSetup(backend: backend, services: backend.services)
        } catch {  // every step above throws PostgresBackendError (typed throws)
            throw ServerError(.storageFailed, error.message)
        }
    }
}
