import Foundation
import Synchronization
import TaskQueue

/// Carries the engine's journal to the store on a thread of its own (SQLite calls block):
/// takes what is pending, writes it in one transaction, marks it durable, again.
///
/// Under ``SyncPolicy/batch`` a commit starts at least `batchDelay` after the last one ended, so
/// that concurrent requests share a commit (group commit, bounded delay). When the journal
/// defers completions, each is held back for up to three commits (``CompletionDeferral``); with
/// nothing else to write they follow within three more `batchDelay`s (at least 1 ms each).
public final class StoreWriter: Sendable {
    private let store: SQLiteTaskStore
    private let journal: Journal
    private let batchDelay: Duration
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let onFailure: @Sendable (StorageError) -> Void

    /// - Parameter onFailure: called once if a write fails; nothing after it is durable.
    public init(
        store: SQLiteTaskStore,
        journal: Journal,
        batchDelay: Duration = .milliseconds(2),
        onFailure: @escaping @Sendable (StorageError) -> Void
    ) {
        self.store = store
        self.journal = journal
        self.batchDelay = batchDelay
        self.onFailure = onFailure
    }

    /// Starts the writer thread.
    public func start() {
        journal.setWriterWakeup { [wake] in wake.signal() }
        if journal.hasPending { wake.signal() }  // changes made before the writer existed
        let thread = Thread { [self] in loop() }
        thread.name = "taskmaster-store"
        thread.start()
    }

    /// Writes what is still pending, then stops the thread. Blocks until it has.
    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        wake.signal()
        finished.wait()
    }

    private func loop() {
        defer { finished.signal() }
        let clock = ContinuousClock()
        var lastWrite = clock.now - .seconds(1)
        var deferral = CompletionDeferral(rounds: 3)
        while true {
            if !deferral.isHolding {
                wake.wait()
            } else {
                // Held-back completions are due within a few rounds; with nothing else to
                // write, a round passes every group-commit delay.
                let round = max(batchDelay, .milliseconds(1))  // a zero sync_delay must not spin
                _ = wake.wait(timeout: .now() + round / .seconds(1))
            }
            let stop = stopping.load(ordering: .sequentiallyConsistent)
            // Group commit: a commit starts at least `batchDelay` after the last one ended, so
            // that changes arriving meanwhile share it. A writer idle for longer commits at once
            // (no added latency), and one whose commits take longer needs no wait: what arrived
            // during the last commit is the group already.
            let sinceLast = clock.now - lastWrite
            if store.syncPolicy == .batch, !stop, sinceLast < batchDelay {
                Thread.sleep(forTimeInterval: (batchDelay - sinceLast) / .seconds(1))
            }
            // Everything pending, possibly several wakeups' worth; then what was held back.
            while journal.hasPending || deferral.isHolding {
                let pending = journal.takePending()
                let now = deferral.plan(pending, defers: journal.defersCompletions && !stop)
                do {
                    try store.write(now)
                } catch {
                    let failure = StorageError(.cannotWrite, path: store.path, "writing to the store failed: \(error)")
                    journal.markFailed(failure.message)
                    onFailure(failure)
                    return
                }
                if !pending.mutations.isEmpty { journal.markDurable(through: pending.through) }
                if !now.isEmpty { lastWrite = clock.now }
                if !stop, !journal.hasPending { break }  // keep the held-back until the next round
            }
            if stop, !deferral.isHolding { return }
        }
    }
}
