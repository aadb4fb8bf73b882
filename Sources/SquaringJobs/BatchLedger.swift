import NIOCore
import Pickle
import Synchronization
import TaskWire

/// Which numbers a batch submitted under which task ids, and which results came back.
///
/// Results are matched by their task's id, so a task delivered twice still counts once.
final class BatchLedger: Sendable {
    enum Verdict: Equatable {
        /// The right square for one of our tasks, seen for the first time (its text is
        /// `Square.line(numbers[index])`, built only by who needs it).
        case completed(index: Int)
        /// One of our tasks, first result, but not its right square.
        case wrong(index: Int, text: String)
        /// Another result for a task already answered.
        case duplicate
        /// Not (yet) one of our task ids: another producer's result, or one whose put answer
        /// has not been recorded yet.
        case unknown
    }

    private struct State {
        var ids = TaskIndex()
        var answered: [Bool]
        var submitted = 0
        var completed = 0
        var wrong = 0
        var duplicates = 0
        /// Results not (yet) known to be ours: held, not acknowledged.
        var held: [Delivery] = []
        /// Put answers recorded so far, and how many there were when results were last held:
        /// held results are worth another look only once more answers came.
        var putAnswers = 0
        var putAnswersWhenHeld = 0
        /// Chunks whose put was answered (their ids are known).
        var confirmedChunks: Set<Int> = []
        /// After a lost connection a put may have gone in without its answer: its results then
        /// carry ids we never learned, and are matched by their number instead.
        var indicesByNumber: [Int: [Int]]?
    }

    private let state: Mutex<State>
    private let numbers: [Int]

    init(numbers: [Int]) {
        self.numbers = numbers
        self.state = Mutex(State(answered: Array(repeating: false, count: numbers.count)))
    }

    /// Records the ids the master gave the numbers at `indices`.
    func submitted(ids: [TaskID], indices: Range<Int>) {
        state.withLock { state in
            state.ids.add(ids: ids, firstIndex: indices.lowerBound)
            state.submitted += ids.count
            state.putAnswers += 1
        }
    }

    /// How many put answers are recorded: read it before checking results, and pass it to
    /// ``hold(_:checkedWith:)``.
    var putAnswerCount: Int { state.withLock { $0.putAnswers } }

    /// Keeps results that are not known to be ours, to retry later or give back.
    /// - Parameter answers: ``putAnswerCount`` from before they were checked: an answer that
    ///   came while they were being checked makes them worth another look.
    func hold(_ deliveries: [Delivery], checkedWith answers: Int) {
        guard !deliveries.isEmpty else { return }
        state.withLock { state in
            state.putAnswersWhenHeld = state.held.isEmpty ? answers : min(state.putAnswersWhenHeld, answers)
            state.held += deliveries
        }
    }

    /// Whether held results may turn out ours soon: some puts are not answered yet, or answers
    /// came since they were held.
    var mayResolveHeld: Bool {
        state.withLock { state in
            !state.held.isEmpty
                && (state.submitted < numbers.count || state.putAnswers != state.putAnswersWhenHeld)
        }
    }

    /// Takes the held results out, if put answers came since they were held (or `all`).
    func takeHeld(all: Bool = false) -> [Delivery] {
        state.withLock { state in
            guard all || state.putAnswers != state.putAnswersWhenHeld else { return [] }
            let held = state.held
            state.held = []
            return held
        }
    }

    var submittedCount: Int { state.withLock { $0.submitted } }

    /// Records that chunk `chunk`'s put was answered.
    func confirm(chunk: Int) {
        _ = state.withLock { $0.confirmedChunks.insert(chunk) }
    }

    func isConfirmed(chunk: Int) -> Bool {
        state.withLock { $0.confirmedChunks.contains(chunk) }
    }

    /// Results of unknown tasks are matched by the number they square from now on.
    func matchByNumber() {
        state.withLock { state in
            guard state.indicesByNumber == nil else { return }
            var map: [Int: [Int]] = [:]
            for (index, n) in numbers.enumerated() { map[n, default: []].append(index) }
            state.indicesByNumber = map
        }
    }

    /// Forgets held results: their leases ended with the connection that held them.
    func dropHeld() {
        state.withLock { $0.held = [] }
    }

    /// Checks one result.
    func record(reference: TaskID, payload: ByteBuffer) -> Verdict {
        guard let index = state.withLock({ $0.ids.index(of: reference) }) else {
            return recordByNumber(Array(payload.readableBytesView))
        }
        var text: String?
        let right: Bool
        if Square.isResultPickle(payload, of: numbers[index]) {
            right = true  // the bytes a worker writes for the right square: no need to decode
        } else {
            text = (try? PickleReader.read(Array(payload.readableBytesView)))?.stringValue ?? "<not a str>"
            right = text == Square.line(numbers[index])
        }
        return state.withLock { state in
            if state.answered[index] {
                state.duplicates += 1
                return .duplicate
            }
            state.answered[index] = true
            if right {
                state.completed += 1
                return .completed(index: index)
            }
            state.wrong += 1
            return .wrong(index: index, text: text ?? "")
        }
    }

    /// A result whose task id is unknown: the task of an unanswered put, matched by its number.
    private func recordByNumber(_ payload: [UInt8]) -> Verdict {
        guard state.withLock({ $0.indicesByNumber != nil }),
            let text = (try? PickleReader.read(payload))?.stringValue,
            let n = Int(text.prefix { $0 != " " })
        else { return .unknown }
        return state.withLock { state in
            guard let candidates = state.indicesByNumber?[n] else { return .unknown }
            guard let index = candidates.first(where: { !state.answered[$0] }) else {
                state.duplicates += 1
                return .duplicate
            }
            state.answered[index] = true
            if text == Square.line(numbers[index]) {
                state.completed += 1
                return .completed(index: index)
            }
            state.wrong += 1
            return .wrong(index: index, text: text)
        }
    }

    var counts: (completed: Int, wrong: Int, duplicates: Int) {
        state.withLock { ($0.completed, $0.wrong, $0.duplicates) }
    }

    var isFinished: Bool {
        state.withLock { $0.completed + $0.wrong == numbers.count }
    }
}
