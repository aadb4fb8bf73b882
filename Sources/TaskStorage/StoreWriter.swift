import Foundation
import Synchronization
import TaskQueue

/// Carries the engine's journal to the store on a thread of its own (SQLite calls block):
/// takes what is pending, writes it in one transaction, marks it durable, again.
///
/// Under ``SyncPolicy/batch`` it first waits up to `batchDelay` after the first pending change,
/// so that concurrent requests share a commit (group commit, bounded delay).
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
        while true {
            wake.wait()
            let stop = stopping.load(ordering: .sequentiallyConsistent)
            // Group commit: a change arriving at an idle writer waits up to `batchDelay` for
            // company. A busy writer does not wait: what arrived during its last commit is
            // the group already, and sleeping would only add latency.
            if store.syncPolicy == .batch, !stop, clock.now - lastWrite > batchDelay {
                Thread.sleep(
                    forTimeInterval: Double(batchDelay.components.attoseconds) / 1e18
                        + Double(batchDelay.components.seconds)
                )
            }
            // Everything pending, possibly several wakeups' worth.
            while journal.hasPending {
                let (mutations, through) = journal.takePending()
                do {
                    try store.write(mutations)
                } catch {
                    let failure = StorageError(.cannotWrite, path: store.path, "writing to the store failed: \(error)")
                    journal.markFailed(failure.message)
                    onFailure(failure)
                    return
                }
                journal.markDurable(through: through)
                lastWrite = clock.now
            }
            if stop { return }
        }
    }
}
