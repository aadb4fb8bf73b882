import NIOCore
import QueueBackend
import Synchronization

/// A change to the durable copy of the queues, in the order the engine made it.
public enum StoreMutation: Hashable, Sendable {
    /// A task was put (or restored) on `queue`.
    case insert(StoredTask)
    /// A task is done: acknowledged, completed or purged.
    case delete(TaskID)
    /// A task moved to another queue (dead-lettered or requeued), with its attempts and error.
    case move(TaskID, queue: String, attempt: UInt32, error: String?)
}

/// A task as a store keeps it.
public struct StoredTask: Hashable, Sendable {
    public var id: TaskID
    public var queue: String
    public var reference: TaskID
    public var attempt: UInt32
    public var payload: ByteBuffer
    /// Why it was dead-lettered, for tasks on a `.dead` queue.
    public var error: String?

    public init(
        id: TaskID,
        queue: String,
        reference: TaskID,
        attempt: UInt32,
        payload: ByteBuffer,
        error: String? = nil
    ) {
        self.id = id
        self.queue = queue
        self.reference = reference
        self.attempt = attempt
        self.payload = payload
        self.error = error
    }
}

/// What the store's writer takes from the journal in one go.
public struct PendingChanges: Sendable {
    /// The mutations, in the order the engine made them.
    public var mutations: [StoreMutation]
    /// The ranges of `mutations` that are completions (a worker's ack with its results),
    /// which the store may make durable a few commits later; see ``Journal/defersCompletions``.
    public var completions: [Range<Int>]
    /// The sequence number of the last mutation.
    public var through: UInt64

    public init(mutations: [StoreMutation], completions: [Range<Int>] = [], through: UInt64) {
        self.mutations = mutations
        self.completions = completions
        self.through = through
    }
}

/// The engine's write-ahead log to a store: mutations appended in order under the engine's
/// lock, taken in batches by the store's writer, and replies released once the store says
/// they are durable.
///
/// Appending never blocks on I/O; a reply that must not be sent before its change is durable
/// waits for its sequence number (``whenDurable(_:_:)``).
public final class Journal: Sendable {
    private struct State {
        var pending: [StoreMutation] = []
        var completions: [Range<Int>] = []
        /// Sequence number of the last mutation appended.
        var appended: UInt64 = 0
        /// Every mutation up to this one is durable.
        var durable: UInt64 = 0
        var waiters: [(UInt64, @Sendable (Bool) -> Void)] = []
        var failed: String?
    }

    private let state = Mutex(State())
    /// Signalled when mutations arrive for an idle writer.
    public let writerWakeup = Wakeup()

    /// Whether a completion may become durable a few commits after the changes around it.
    ///
    /// A result is usually taken and acknowledged within a commit or two of the completion
    /// that made it; holding the completion back a few commits lets the store drop the
    /// result's insert and delete together, halving the rows written per task. The engine then
    /// answers a completion without waiting for the disk. Nothing acknowledged is lost by it:
    /// until the completion is written, its tasks are still stored and are delivered again
    /// after a crash.
    public let defersCompletions: Bool

    public init(defersCompletions: Bool = false) {
        self.defersCompletions = defersCompletions
    }

    /// Appends mutations (in order) and returns the sequence number of the last one.
    /// `isCompletion` marks them as one completion (see ``defersCompletions``).
    @discardableResult
    func append(_ mutations: some Collection<StoreMutation>, isCompletion: Bool = false) -> UInt64 {
        guard !mutations.isEmpty else { return state.withLock { $0.appended } }
        let (sequence, wake): (UInt64, Bool) = state.withLock { state in
            let wasIdle = state.pending.isEmpty
            if isCompletion {
                state.completions.append(state.pending.count..<(state.pending.count + mutations.count))
            }
            state.pending.append(contentsOf: mutations)
            state.appended += UInt64(mutations.count)
            return (state.appended, wasIdle)
        }
        if wake { writerWakeup.signal() }
        return sequence
    }

    /// The sequence number of the last mutation appended.
    public var lastAppended: UInt64 { state.withLock { $0.appended } }

    /// Calls `body` once every mutation up to `sequence` is durable (`true`), or once the store
    /// has failed (`false`); at once if either is so already.
    public func whenDurable(_ sequence: UInt64, _ body: @escaping @Sendable (Bool) -> Void) {
        let now: Bool? = state.withLock { state in
            if state.durable >= sequence { return true }
            if state.failed != nil { return false }
            state.waiters.append((sequence, body))
            return nil
        }
        if let now { body(now) }
    }

    // MARK: The store's side

    /// Takes everything pending.
    public func takePending() -> PendingChanges {
        state.withLock { state in
            let taken = PendingChanges(
                mutations: state.pending,
                completions: state.completions,
                through: state.appended
            )
            state.pending = []
            state.pending.reserveCapacity(taken.mutations.count)
            state.completions = []
            return taken
        }
    }

    /// Whether mutations are waiting to be written.
    public var hasPending: Bool { state.withLock { !$0.pending.isEmpty } }

    /// Marks everything through `sequence` durable and releases who waited for it.
    public func markDurable(through sequence: UInt64) {
        let ready: [@Sendable (Bool) -> Void] = state.withLock { state in
            state.durable = max(state.durable, sequence)
            let durable = state.durable
            guard state.waiters.contains(where: { $0.0 <= durable }) else { return [] }
            let ready = state.waiters.filter { $0.0 <= durable }.map(\.1)
            state.waiters.removeAll { $0.0 <= durable }
            return ready
        }
        for body in ready { body(true) }
    }

    /// The store failed for good: waiters are told, and nothing is waited for from now on.
    public func markFailed(_ reason: String) {
        let all: [@Sendable (Bool) -> Void] = state.withLock { state in
            state.failed = reason
            let all = state.waiters.map(\.1)
            state.waiters = []
            return all
        }
        for body in all { body(false) }
    }

    /// Why the store failed, if it did.
    public var failure: String? { state.withLock { $0.failed } }
}
