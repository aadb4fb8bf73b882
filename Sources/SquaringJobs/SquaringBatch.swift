import Foundation
import Synchronization
import TaskMasterClient
import TaskMasterStatus
import TaskWire
import TaskWorkerRuntime

/// A squaring batch, as `task-ctl batch` runs it: put N numbers on the task queue, collect
/// the N results, check every square.
///
/// Results are matched to tasks by task id and counted once each, so the batch completes
/// correctly even when a worker dies mid-batch and its tasks are delivered again. Results that
/// belong to no task of this batch are left for their owner: held, then given back at the end.
public struct SquaringBatch: Sendable {
    /// The numbers to square, in order.
    public var numbers: [Int]
    public var taskQueue = "task"
    public var resultQueue = "result"
    /// Items per request: numbers per put, results per get, ids per ack. Default 1000; keep it
    /// at most the master's `max_items_per_request`.
    public var chunkSize = 1000
    /// Put requests in flight at once. Default 16: a put waits for a commit on a durable
    /// master, and the batch's pace is this window over that wait (4 measured 10–20% slower
    /// in memory mode too).
    public var putWindow = 16
    /// Give up waiting for results after this long. Default 10 minutes.
    public var timeout: Duration = .seconds(600)

    private var idsPerRequest: Int { max(1, chunkSize) }

    /// `ids` split into requests of at most ``chunkSize``.
    private func inRequests(_ ids: [TaskID]) -> [[TaskID]] {
        stride(from: 0, to: ids.count, by: idsPerRequest).map { Array(ids[$0..<min($0 + idsPerRequest, ids.count)]) }
    }

    public init(numbers: [Int]) {
        self.numbers = numbers
    }

    /// What happened, for people and for `--json`.
    public struct Summary: Codable, Hashable, Sendable {
        public var submitted: Int
        /// Tasks whose result is the right square.
        public var completed: Int
        /// Tasks whose result is not the right square.
        public var wrong: Int
        /// Tasks without a result when the batch ended.
        public var missing: Int
        /// Extra results for tasks already answered (ignored).
        public var duplicates: Int
        /// Results for other producers' tasks seen and left in the queue.
        public var foreign: Int
        public var seconds: Double
        public var tasksPerSecond: Double

        /// Whether every task got its right square.
        public var succeeded: Bool { completed == submitted && wrong == 0 && missing == 0 }

        enum CodingKeys: String, CodingKey {
            case submitted, completed, wrong, missing, duplicates, foreign, seconds
            case tasksPerSecond = "tasks_per_second"
        }
    }

    /// Progress so far.
    public struct Progress: Sendable {
        public var submitted: Int
        public var answered: Int
        public var total: Int
        public var elapsed: Duration
    }

    /// Things an echoing caller may print, like the classic Python master does.
    public enum Event: Sendable {
        case put(Int)
        case result(String)
        case wrongResult(expected: String, got: String)
    }

    /// Opens a connection to the master and runs `body` with it; called again after one is lost.
    public typealias Connector =
        @Sendable (
            _ body: @Sendable (TaskMasterConnection) async throws -> Void
        ) async throws -> Void

    /// Runs the batch on one connection; a lost connection ends it.
    ///
    /// - Parameters:
    ///   - progress: called after each batch of results.
    ///   - events: called for every put and every result (for `--echo`); nil to skip the work.
    public func run(
        on master: TaskMasterConnection,
        progress: @escaping @Sendable (Progress) -> Void = { _ in },
        events: (@Sendable (Event) -> Void)? = nil
    ) async throws -> Summary {
        let ledger = BatchLedger(numbers: numbers)
        let start = ContinuousClock.now
        try await runPhase(
            on: master,
            ledger: ledger,
            deadline: start.advanced(by: timeout),
            start: start,
            progress: progress,
            events: events
        )
        return try await finish(on: master, ledger: ledger, start: start)
    }

    /// A change in the batch's connection, for a caller that says so.
    public enum ConnectionEvent: Sendable {
        /// The connection to the master was lost; the batch is reconnecting.
        case lost(ClientError)
        /// After a loss, connected again (to the master named).
        case restored(master: String)
    }

    /// Runs the batch, reconnecting when the connection is lost (the master restarted, say):
    /// puts that were answered are not repeated, the others are, and results are still counted
    /// once per number.
    ///
    /// A first connection that fails ends the batch (the connector waits for a master if it
    /// should); a connection lost later is retried with backoff until the batch's timeout.
    ///
    /// - Parameter connection: called once when the connection is lost and once when it is
    ///   back, not for every attempt in between.
    public func run(
        connect: Connector,
        progress: @escaping @Sendable (Progress) -> Void = { _ in },
        events: (@Sendable (Event) -> Void)? = nil,
        connection: @escaping @Sendable (ConnectionEvent) -> Void = { _ in }
    ) async throws -> Summary {
        let ledger = BatchLedger(numbers: numbers)
        let start = ContinuousClock.now
        let deadline = start.advanced(by: timeout)
        let summary = SummaryBox()
        let state = ConnectionState()
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        while true {
            do {
                try await connect { master in
                    if state.connected() { connection(.restored(master: master.master)) }
                    // On the connection's event loop: requests and answers cross no thread.
                    try await master.onEventLoop {
                        try await runPhase(
                            on: master,
                            ledger: ledger,
                            deadline: deadline,
                            start: start,
                            progress: progress,
                            events: events
                        )
                        summary.set(try await finish(on: master, ledger: ledger, start: start))
                    }
                }
                if let result = summary.value { return result }
            } catch let error as ClientError
                where error.code != .authenticationFailed && error.code != .serverError
                && state.wasConnected && ContinuousClock.now < deadline
            {
                // Lost the master: what it held for us is back in its queues, and puts we got no
                // answer for may or may not have gone in.
                if state.lost() {
                    connection(.lost(error))
                    backoff.reset()
                }
                ledger.dropHeld()
                ledger.matchByNumber()
                try await Task.sleep(for: min(backoff.next(), max(.zero, deadline - ContinuousClock.now)))
            }
        }
    }

    /// Gives back results that were not ours and sums up.
    private func finish(
        on master: TaskMasterConnection,
        ledger: BatchLedger,
        start: ContinuousClock.Instant
    )
        async throws -> Summary
    {
        // Results for someone else's tasks were held, not acknowledged; give them back.
        let leftovers = ledger.takeHeld(all: true)
        for ids in inRequests(leftovers.map(\.id)) {
            try await master.nack(ids, in: resultQueue)
        }
        let (completed, wrong, duplicates) = ledger.counts
        let seconds = (ContinuousClock.now - start).seconds
        return Summary(
            submitted: ledger.submittedCount,
            completed: completed,
            wrong: wrong,
            missing: numbers.count - completed - wrong,
            duplicates: duplicates,
            foreign: leftovers.count,
            seconds: seconds,
            tasksPerSecond: seconds > 0 ? Double(completed + wrong) / seconds : 0
        )
    }

    /// Puts what is not yet confirmed and collects results until the batch is answered or the
    /// deadline passes.
    private func runPhase(
        on master: TaskMasterConnection,
        ledger: BatchLedger,
        deadline: ContinuousClock.Instant,
        start: ContinuousClock.Instant,
        progress: @escaping @Sendable (Progress) -> Void,
        events: (@Sendable (Event) -> Void)?
    ) async throws {
        // The consumers decide when the batch is over (all answered, or the deadline); the
        // producer is then cancelled if it is still blocked on a full queue.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await stopOnCancellation { try await produce(on: master, ledger: ledger, events: events) }
                return false
            }
            // Two consumers keep a large batch's results flowing; a small one needs only one,
            // and then no get is left waiting on the master when the batch ends.
            for _ in 0..<(numbers.count >= 1000 ? 2 : 1) {
                group.addTask {
                    try await stopOnCancellation {
                        try await consume(
                            on: master,
                            ledger: ledger,
                            deadline: deadline,
                            start: start,
                            progress: progress,
                            events: events
                        )
                    }
                    return true
                }
            }
            while let consumerEnded = try await group.next() {
                if consumerEnded { group.cancelAll() }
            }
        }

    }

    /// Runs `body`; a cancellation ends it quietly (the batch is over), other errors pass.
    private func stopOnCancellation(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch is CancellationError {
        } catch let error as ClientError where Task.isCancelled && error.code == .connectionClosed {
        }
    }

    private func produce(
        on master: TaskMasterConnection,
        ledger: BatchLedger,
        events: (@Sendable (Event) -> Void)?
    ) async throws {
        let chunks = stride(from: 0, to: numbers.count, by: max(1, chunkSize)).map {
            $0..<min($0 + max(1, chunkSize), numbers.count)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func startPut() {
                while next < chunks.count, ledger.isConfirmed(chunk: next) { next += 1 }
                guard next < chunks.count else { return }
                let (chunk, range) = (next, chunks[next])
                next += 1
                let items = Square.taskItems(numbers[range])
                group.addTask {
                    if let events { for n in numbers[range] { events(.put(n)) } }
                    let ids = try await master.put(items, into: taskQueue, wait: .forever)
                    ledger.submitted(ids: ids, indices: range)
                    ledger.confirm(chunk: chunk)
                }
            }
            for _ in 0..<max(1, putWindow) { startPut() }
            while try await group.next() != nil { startPut() }
        }
    }

    private func consume(
        on master: TaskMasterConnection,
        ledger: BatchLedger,
        deadline: ContinuousClock.Instant,
        start: ContinuousClock.Instant,
        progress: @Sendable (Progress) -> Void,
        events: (@Sendable (Event) -> Void)?
    ) async throws {
        // Acks are not awaited before the next get (a few stay in flight): with a durable
        // master an ack waits for a commit, and a result acked soon after its completion never
        // reaches the disk at all. They run as tasks of their own, not as children: the end of
        // the batch cancels the consumers (one may be waiting in a get), and a result already
        // counted must be acknowledged all the same.
        var acks: [Task<Void, any Error>] = []
        do {
            while !ledger.isFinished, ContinuousClock.now < deadline {
                // Results that came before their put's answer are looked at again soon: a
                // durable master answers a put after its commit, and may hand out its results
                // before that.
                let longest = ledger.mayResolveHeld ? Duration.milliseconds(5) : .milliseconds(500)
                let wait = min(longest, deadline - ContinuousClock.now)
                let deliveries = try await master.get(
                    from: resultQueue,
                    maxItems: idsPerRequest,
                    wait: .milliseconds(UInt32(clamping: max(1, wait.milliseconds)))
                )
                let answers = ledger.putAnswerCount
                // Earlier unknown results may be ours now that more put answers are recorded.
                let retry = ledger.takeHeld()
                var settled: [TaskID] = []
                var unknown: [Delivery] = []
                for delivery in retry + deliveries {
                    switch ledger.record(reference: delivery.reference, payload: delivery.payload) {
                    case .completed(let index):
                        events?(.result(Square.line(numbers[index])))
                        settled.append(delivery.id)
                    case .wrong(let index, let text):
                        events?(.wrongResult(expected: Square.line(numbers[index]), got: text))
                        settled.append(delivery.id)
                    case .duplicate:
                        settled.append(delivery.id)
                    case .unknown:
                        unknown.append(delivery)
                    }
                }
                ledger.hold(unknown, checkedWith: answers)
                // At most a chunk per request (held results come on top of a get's).
                for ids in inRequests(settled) {
                    if acks.count >= Self.acksInFlight { try await acks.removeFirst().value }
                    acks.append(Task { try await master.ack(ids, in: resultQueue) })
                }
                let (completed, wrong, _) = ledger.counts
                progress(
                    Progress(
                        submitted: ledger.submittedCount,
                        answered: completed + wrong,
                        total: numbers.count,
                        elapsed: ContinuousClock.now - start
                    )
                )
            }
        } catch {
            for ack in acks { _ = try? await ack.value }
            throw error
        }
        for ack in acks { try await ack.value }
    }

    /// Result acks a consumer sends before waiting for the first of them (as many as puts:
    /// on a durable master each waits for a commit too).
    static let acksInFlight = 16
}

/// Whether the batch has had a connection, and whether it is without one now.
private final class ConnectionState: Sendable {
    private struct State {
        var wasConnected = false
        var isLost = false
    }

    private let state = Mutex(State())

    var wasConnected: Bool { state.withLock { $0.wasConnected } }

    /// Records a connection; returns whether it ends a loss.
    func connected() -> Bool {
        state.withLock { state in
            state.wasConnected = true
            defer { state.isLost = false }
            return state.isLost
        }
    }

    /// Records a loss; returns whether it is news (the connection was up until now).
    func lost() -> Bool {
        state.withLock { state in
            defer { state.isLost = true }
            return !state.isLost
        }
    }
}

/// The summary of the connection that finished the batch.
private final class SummaryBox: Sendable {
    private let state = Mutex<SquaringBatch.Summary?>(nil)

    func set(_ summary: SquaringBatch.Summary) { state.withLock { $0 = summary } }
    var value: SquaringBatch.Summary? { state.withLock { $0 } }
}
