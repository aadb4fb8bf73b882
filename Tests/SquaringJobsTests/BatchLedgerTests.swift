import NIOCore
import Pickle
import TaskWire
import Testing

@testable import SquaringJobs

/// The batch's bookkeeping: which result answers which number, once.
@Suite struct BatchLedgerTests {
    private func result(id: TaskID, for reference: TaskID, _ text: String) -> Delivery {
        Delivery(id: id, attempt: 1, reference: reference, payload: PickleWriter.pickle(string: text))
    }

    @Test func resultsAreMatchedByTaskIdOnceAndCheckedSquareBySquare() {
        let ledger = BatchLedger(numbers: [3, 4, 5])
        ledger.submitted(ids: [100, 101, 102], indices: 0..<3)
        #expect(
            ledger.record(reference: 100, payload: ByteBuffer(bytes: Square.resultPickle(3))) == .completed(index: 0)
        )
        #expect(ledger.record(reference: 100, payload: ByteBuffer(bytes: Square.resultPickle(3))) == .duplicate)
        #expect(
            ledger.record(reference: 101, payload: ByteBuffer(bytes: PickleWriter.pickle(string: "4 * 4 = 17")))
                == .wrong(index: 1, text: "4 * 4 = 17")
        )
        #expect(ledger.record(reference: 999, payload: ByteBuffer(bytes: Square.resultPickle(5))) == .unknown)
        #expect(!ledger.isFinished)
        #expect(
            ledger.record(reference: 102, payload: ByteBuffer(bytes: PickleWriter.pickle(string: "5 * 5 = 25")))
                == .completed(index: 2)
        )
        #expect(ledger.isFinished)
        #expect(ledger.counts == (completed: 2, wrong: 1, duplicates: 1))
    }

    @Test func heldResultsComeBackOnlyOnceMorePutsAreAnswered() {
        let ledger = BatchLedger(numbers: [3, 4])
        ledger.submitted(ids: [10], indices: 0..<1)
        // The result for number 4 (task 11) came before its put's answer.
        let early = result(id: 50, for: 11, "4 * 4 = 16")
        let answers = ledger.putAnswerCount
        #expect(ledger.record(reference: early.reference, payload: early.payload) == .unknown)
        ledger.hold([early], checkedWith: answers)
        #expect(ledger.mayResolveHeld)
        #expect(ledger.takeHeld().isEmpty)  // nothing new is known: not worth another look
        ledger.submitted(ids: [11], indices: 1..<2)
        #expect(ledger.mayResolveHeld)
        let again = ledger.takeHeld()
        #expect(again == [early])
        #expect(ledger.record(reference: again[0].reference, payload: again[0].payload) == .completed(index: 1))
        #expect(!ledger.mayResolveHeld)
    }

    @Test func anAnswerThatCameWhileResultsWereCheckedStillBringsThemBack() {
        let ledger = BatchLedger(numbers: [3, 4, 5])
        ledger.submitted(ids: [10], indices: 0..<1)
        let answers = ledger.putAnswerCount
        let early = result(id: 50, for: 11, "4 * 4 = 16")
        #expect(ledger.record(reference: early.reference, payload: early.payload) == .unknown)
        ledger.submitted(ids: [11], indices: 1..<2)  // the answer arrives meanwhile
        ledger.hold([early], checkedWith: answers)
        // A second consumer holds another result later: the first must not be forgotten.
        let later = result(id: 51, for: 12, "5 * 5 = 25")
        ledger.hold([later], checkedWith: ledger.putAnswerCount)
        #expect(ledger.mayResolveHeld)
        #expect(ledger.takeHeld() == [early, later])
    }

    @Test func resultsNoPutCanExplainAreHeldWithoutHurryAndGivenBackAtTheEnd() {
        let ledger = BatchLedger(numbers: [3])
        ledger.submitted(ids: [10], indices: 0..<1)  // every put answered
        let foreign = result(id: 60, for: 77, "9 * 9 = 81")
        ledger.hold([foreign], checkedWith: ledger.putAnswerCount)
        #expect(!ledger.mayResolveHeld)
        #expect(ledger.takeHeld().isEmpty)
        #expect(ledger.takeHeld(all: true) == [foreign])
    }

    @Test func taskIdsMapBackToTheirNumbersWhetherConsecutiveOrNot() {
        var index = TaskIndex()
        index.add(ids: [200, 201, 202], firstIndex: 3)
        index.add(ids: [100, 101], firstIndex: 0)
        index.add(ids: [7, 9], firstIndex: 5)
        #expect(index.index(of: 100) == 0)
        #expect(index.index(of: 202) == 5)
        #expect(index.index(of: 201) == 4)
        #expect(index.index(of: 9) == 6)
        #expect(index.index(of: 8) == nil)
        #expect(index.index(of: 203) == nil)
    }

    @Test func aSquareIsExactForIntegersOfAnySizeAndAnErrorForOtherValues() throws {
        let (small, smallFailed) = Square.result(forTask: Square.task(12))
        #expect(!smallFailed)
        #expect(try PickleReader.read(small).stringValue == "12 * 12 = 144")
        let big = Square.result(forTask: Square.task(Int.max))
        #expect(try PickleReader.read(big.payload).stringValue == Square.line(Int.max))
        #expect(Square.line(Int.max).hasSuffix("= 85070591730234615847396907784232501249"))
        let (text, failed) = Square.result(forTask: PickleWriter.pickle(string: "seven"))
        #expect(failed)
        #expect(try PickleReader.read(text).stringValue?.contains("str") == true)
    }
}
