import Pickle
import Synchronization
import TaskWire

/// Which numbers a batch submitted under which task ids, and which results came back.
///
/// Results are matched by their task's id, so a task delivered twice still counts once.
final class BatchLedger: Sendable {
    enum Verdict: Equatable {
        /// The right square for one of our tasks, seen for the first time.
        case completed(index: Int, text: String)
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
        }
    }

    /// Keeps results that are not known to be ours, to retry later or give back.
    func hold(_ deliveries: [Delivery]) {
        guard !deliveries.isEmpty else { return }
        state.withLock { $0.held += deliveries }
    }

    /// Takes every held result out.
    func takeHeld() -> [Delivery] {
        state.withLock { state in
            let held = state.held
            state.held = []
            return held
        }
    }

    var submittedCount: Int { state.withLock { $0.submitted } }

    /// Checks one result.
    func record(reference: TaskID, payload: [UInt8]) -> Verdict {
        guard let index = state.withLock({ $0.ids.index(of: reference) }) else { return .unknown }
        let text: String
        let right: Bool
        if payload == Square.resultPickle(numbers[index]) {
            // The bytes a worker writes for the right square: no need to decode.
            right = true
            text = Square.line(numbers[index])
        } else {
            text = (try? PickleReader.read(payload))?.stringValue ?? "<not a str>"
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
                return .completed(index: index, text: text)
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
