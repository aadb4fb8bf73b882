import Logging
import MemoryBackend
import NIOPosix
import QueueBackend
import ServiceLifecycle
import Synchronization
import TaskMasterConfiguration

/// Carries the memory backend's journal to the SQLite store: takes what is pending, writes it in
/// one transaction, marks it durable, again. A service: run it beside the backend; on graceful
/// shutdown it writes everything still pending (held-back completions included), then returns.
///
/// SQLite calls block, so they run on a thread pool of one thread of the writer's own; the loop
/// itself only awaits, and nothing of it blocks an event loop or a Swift concurrency thread.
///
/// Under ``SyncPolicy/batch`` a commit starts at least `batchDelay` after the last one ended, so
/// that concurrent requests share a commit (group commit, bounded delay). When the journal
/// defers completions, each is held back for up to three commits (``CompletionDeferral``); with
/// nothing else to write they follow within three more `batchDelay`s (at least 1 ms each).
public struct StoreWriter: Service {
    private let store: SQLiteTaskStore
    private let journal: Journal
    private let batchDelay: Duration
    private let clock: any Clock<Duration>
    private let elapsed: @Sendable () -> Duration
    private let logger: Logger

    public init(
        store: SQLiteTaskStore,
        journal: Journal,
        batchDelay: Duration = .milliseconds(2),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger
    ) {
        self.store = store
        self.journal = journal
        self.batchDelay = batchDelay
        self.clock = clock
        self.elapsed = Self.stopwatch(clock)
        self.logger = logger
    }

    /// - Throws: ``StorageError`` if a write fails; nothing after it is durable, and replies
    ///   waiting for it fail with `.storageFailed`.
    public func run() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { pool.shutdownGracefully { _ in } }
        let stopping = StopFlag()
        let journal = self.journal
        try await withGracefulShutdownHandler {
            try await loop(pool: pool, stopping: stopping)
        } onGracefulShutdown: {
            stopping.value.store(true, ordering: .sequentiallyConsistent)
            journal.writerWakeup.signal()
        }
    }

    /// Time since `clock`'s now, as a function (opens the existential clock once).
    private static func stopwatch<C: Clock<Duration>>(_ clock: C) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    private func loop(
        pool: NIOThreadPool,
        stopping: StopFlag
    ) async throws {
        let store = self.store
        var lastWrite = elapsed() - .seconds(1)
        var deferral = CompletionDeferral(rounds: 3)
        while true {
            // Held-back completions are due within a few rounds; with nothing else to write, a
            // round passes every group-commit delay (a zero sync_delay must not spin).
            let round = max(batchDelay, .milliseconds(1))
            await journal.writerWakeup.wait(upTo: deferral.isHolding ? round : nil, clock: clock)
            // Cancelled (the group failed) counts as stopping: write what is left, then return.
            let stop = stopping.value.load(ordering: .sequentiallyConsistent) || Task.isCancelled
            // Group commit: a commit starts at least `batchDelay` after the last one ended, so
            // that changes arriving meanwhile share it. A writer idle for longer commits at once
            // (no added latency), and one whose commits take longer needs no wait: what arrived
            // during the last commit is the group already.
            let sinceLast = elapsed() - lastWrite
            if store.syncPolicy == .batch, !stop, sinceLast < batchDelay {
                try? await clock.sleep(for: batchDelay - sinceLast)
            }
            // Everything pending, possibly several wakeups' worth; then what was held back.
            while journal.hasPending || deferral.isHolding {
                let pending = journal.takePending()
                let now = deferral.plan(pending, defers: journal.defersCompletions && !stop)
                do {
                    try await pool.runIfActive { try store.write(now) }
                } catch {
                    let failure = StorageError(.cannotWrite, path: store.path, "writing to the store failed: \(error)")
                    journal.markFailed(failure.message)
                    logger.critical("\(failure.message); stop the master and check the disk at \(store.path)")
                    throw failure
                }
                if !pending.mutations.isEmpty { journal.markDurable(through: pending.through) }
                if !now.isEmpty { lastWrite = elapsed() }
                if !stop, !journal.hasPending { break }  // keep the held-back until the next round
            }
            if stop, !deferral.isHolding, !journal.hasPending { return }
        }
    }
}

/// Set once graceful shutdown begins: the writer then writes what is left and returns.
private final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}
